"""Endpoints the payment gateways call."""

from __future__ import annotations

from django.http import HttpRequest, JsonResponse
from django.shortcuts import get_object_or_404
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST

from dues.core.clock import SystemClock
from dues.core.models import Organization
from dues.payments.gateways.stripe import StripeGateway
from dues.payments.stripe_events import stripe_event_receive


@csrf_exempt
@require_POST
def stripe_webhook(request: HttpRequest, slug: str | None = None) -> JsonResponse:
    """``/hooks/stripe/`` for the install's Stripe account, ``/hooks/stripe/<gym>/`` for a
    gym that stored its own keys."""
    organization = get_object_or_404(Organization, slug=slug) if slug else None
    received = stripe_event_receive(
        payload=request.body,
        signature=request.headers.get("Stripe-Signature", ""),
        organization=organization,
        clock=SystemClock(),
        gateway=StripeGateway(),
    )
    return JsonResponse({"detail": received.message}, status=received.status)
