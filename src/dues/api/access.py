"""Door controllers and turnstiles: ``POST /api/v1/access/scan`` and
``GET /api/v1/access/allowlist``, authenticated by the device's own key
(``Authorization: Device ad_<prefix>.<secret>``), never by an organization's API key: a
door can only ask about its own location."""

from __future__ import annotations

import time
from datetime import timedelta
from typing import Any

from drf_spectacular.extensions import OpenApiAuthenticationExtension
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import authentication, exceptions, permissions, serializers
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from dues.access.allowlist import POLL_SECONDS, allowlist_get
from dues.access.decide import AccessError, access_decide
from dues.access.models import AccessDevice, CredentialKind
from dues.access.reads import device_find
from dues.access.signing import public_key
from dues.core.clock import SystemClock

CLOCK = SystemClock()
SEEN_EVERY = timedelta(seconds=60)


class DeviceKeyAuthentication(authentication.BaseAuthentication):
    """``Authorization: Device ad_xxxx.secret``: the request acts for the device."""

    keyword = "Device"

    def authenticate(self, request: Request) -> tuple[Any, AccessDevice] | None:
        header = authentication.get_authorization_header(request).decode("latin-1")
        parts = header.split()
        if len(parts) != 2 or parts[0] != self.keyword:
            raise exceptions.NotAuthenticated("use 'Authorization: Device <device key>'")
        prefix = parts[1].split(".", 1)[0]
        now = CLOCK.now()
        found = device_find(prefix, seen_since=now - SEEN_EVERY)
        if found is None or found[0].key_hash != AccessDevice.hash_key(parts[1]):
            raise exceptions.AuthenticationFailed("unknown or deactivated device key")
        device, unseen = found
        if unseen:
            AccessDevice.objects.filter(pk=device.pk).update(last_seen_at=now)
        return (device, device)

    def authenticate_header(self, request: Request) -> str:
        return self.keyword


class IsDevice(permissions.BasePermission):
    message = "a device key is required"

    def has_permission(self, request: Request, view: Any) -> bool:
        return isinstance(request.auth, AccessDevice)


class DeviceKeyAuthenticationScheme(OpenApiAuthenticationExtension):  # type: ignore[no-untyped-call]
    target_class = "dues.api.access.DeviceKeyAuthentication"
    name = "DeviceKeyAuth"

    def get_security_definition(self, auto_schema: Any) -> dict[str, str]:
        return {
            "type": "apiKey",
            "in": "header",
            "name": "Authorization",
            "description": "`Device ad_<prefix>.<secret>`: the key shown once when the "
            "door device was added (`dues access_device_add`).",
        }


class ScanSerializer(serializers.Serializer[Any]):
    value = serializers.CharField(
        max_length=80, help_text="What the reader read: a QR payload, a barcode, an RFID number."
    )
    kind = serializers.ChoiceField(
        choices=CredentialKind.choices,
        required=False,
        allow_blank=True,
        help_text="The reader's kind when it knows it; otherwise inferred.",
    )


class ScanMemberSerializer(serializers.Serializer[Any]):
    id = serializers.IntegerField()
    first_name = serializers.CharField()


class ScanResultSerializer(serializers.Serializer[Any]):
    allowed = serializers.BooleanField(help_text="Open the door.")
    reason = serializers.CharField(help_text="Reason code, e.g. membership, frozen, restricted.")
    message = serializers.CharField(help_text="The sentence to show, in the location's language.")
    member = ScanMemberSerializer(allow_null=True)
    entries_left = serializers.IntegerField(
        allow_null=True, help_text="Visits left in the pack, when a visit was used."
    )
    decision_id = serializers.IntegerField()
    at = serializers.DateTimeField()


class AllowListSerializer(serializers.Serializer[Any]):
    payload = serializers.CharField(
        help_text="The list as canonical JSON: location, timezone, anti_passback_minutes, qr "
        "step settings, salt, expires_at, poll_seconds and entries (h = HMAC-SHA256(salt, "
        "'kind:value') hex[:32], k = kind, m = member id, hours = [[weekday, start minute, "
        "end minute], …] or null for any time, visits = pack visits when no membership, "
        "s = QR secret hex). Verify the signature over exactly these bytes."
    )
    signature = serializers.CharField(help_text="Ed25519 over the UTF-8 payload, base64.")
    public_key = serializers.CharField(help_text="The signing key, raw 32 bytes, base64.")
    etag = serializers.CharField()
    entries = serializers.IntegerField()
    poll_seconds = serializers.IntegerField()


class DeviceView(APIView):
    authentication_classes = [DeviceKeyAuthentication]
    permission_classes = [IsDevice]

    @property
    def device(self) -> AccessDevice:
        assert isinstance(self.request.auth, AccessDevice)
        return self.request.auth


class ScanView(DeviceView):
    @extend_schema(
        operation_id="access_scan",
        request=ScanSerializer,
        responses={200: ScanResultSerializer},
        tags=["access"],
    )
    def post(self, request: Request) -> Response:
        """Ask whether to open. Every scan is answered 200 with ``allowed`` and a reason
        (a refusal is an answer, not an error) and logged; only bad input is a 400. The
        ``Server-Timing`` header says how long the decision took."""
        query = ScanSerializer(data=request.data)
        query.is_valid(raise_exception=True)
        device = self.device
        started = time.perf_counter()
        try:
            decision = access_decide(
                location=device.location,
                device=device,
                clock=CLOCK,
                value=query.validated_data["value"],
                kind=query.validated_data.get("kind") or "",
            )
        except AccessError as exc:
            raise serializers.ValidationError(exc.errors) from None
        took_ms = (time.perf_counter() - started) * 1000
        return Response(
            {
                "allowed": decision.allowed,
                "reason": str(decision.code),
                "message": decision.reason,
                "member": {"id": decision.member_id, "first_name": decision.first_name}
                if decision.member_id
                else None,
                "entries_left": decision.entries_left,
                "decision_id": decision.decision_id,
                "at": decision.at.isoformat(),
            },
            # How long the decision took (logging included), for the door's own metrics.
            headers={"Server-Timing": f"decide;dur={took_ms:.2f}"},
        )


class AllowListView(DeviceView):
    @extend_schema(
        operation_id="access_allowlist",
        parameters=[
            OpenApiParameter(
                name="If-None-Match",
                type=OpenApiTypes.STR,
                location=OpenApiParameter.HEADER,
                required=False,
                description="The ETag of the list the door holds; 304 when unchanged.",
            )
        ],
        responses={
            200: AllowListSerializer,
            304: OpenApiResponse(description="The door's list is current."),
        },
        tags=["access"],
        description=(
            "The signed offline allow-list for the device's location. Poll every "
            f"{POLL_SECONDS} s (at most every 10 s) with If-None-Match, so a suspension or "
            "a reinstatement reaches the door within 15 s; use the list only while the "
            "server cannot be reached and until its expires_at."
        ),
    )
    def get(self, request: Request) -> Response:
        built = allowlist_get(location=self.device.location, clock=CLOCK)
        etag = f'"{built.etag}"'
        headers = {"ETag": etag, "Cache-Control": "no-cache"}
        if request.headers.get("If-None-Match") == etag:
            return Response(status=304, headers=headers)
        return Response(
            {
                "payload": built.payload,
                "signature": built.signature,
                "public_key": public_key(),
                "etag": built.etag,
                "entries": built.entries,
                "poll_seconds": POLL_SECONDS,
            },
            headers=headers,
        )
