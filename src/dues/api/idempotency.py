"""``Idempotency-Key`` on POST: a retry gets the first response back, with no second effect.

The key is stored per organization with a hash of the method, path and body. The same key
with the same request replays the stored response (``Idempotent-Replayed: true``); the same
key with a different request is a 422. Only successful responses are stored: a request that
failed changed nothing, so retrying it with the same key runs it again.

By default the claim, the operation and the stored response commit in one transaction, so a
concurrent duplicate waits on the key's unique constraint and then replays. Operations that
must commit before calling out (refunds: DESIGN invariant 2) use ``atomic=False``: the claim
commits first, a concurrent duplicate gets a 409 while it runs, and a failure releases it.
"""

from __future__ import annotations

import functools
import hashlib
import json
from collections.abc import Callable
from typing import Any, TypeVar

from django.core.serializers.json import DjangoJSONEncoder
from django.db import IntegrityError, transaction
from rest_framework import exceptions
from rest_framework.request import Request
from rest_framework.response import Response

from dues.api.errors import IdempotencyKeyInFlight, IdempotencyKeyReused
from dues.api.models import ApiKey, IdempotentRequest
from dues.core.clock import SystemClock

HEADER = "Idempotency-Key"
REPLAYED_HEADER = "Idempotent-Replayed"

F = TypeVar("F", bound=Callable[..., Response])


def request_hash(request: Request) -> str:
    data: Any = request.data
    if hasattr(data, "lists"):
        data = {key: values for key, values in data.lists()}
    canonical = json.dumps(
        {"method": request.method, "path": request.path, "body": data},
        sort_keys=True,
        cls=DjangoJSONEncoder,
    )
    return hashlib.sha256(canonical.encode()).hexdigest()


def _replay(stored: IdempotentRequest, digest: str) -> Response:
    if stored.request_hash != digest:
        raise IdempotencyKeyReused()
    if stored.status_code is None:
        raise IdempotencyKeyInFlight()
    return Response(
        stored.response_body, status=stored.status_code, headers={REPLAYED_HEADER: "true"}
    )


def _claim(request: Request, key: str, digest: str) -> IdempotentRequest | None:
    """Insert the key; ``None`` means it already exists (the caller replays)."""
    assert isinstance(request.auth, ApiKey)
    try:
        with transaction.atomic():
            return IdempotentRequest.objects.create(
                organization_id=request.auth.organization_id,
                key=key,
                method=request.method or "POST",
                path=request.path[:300],
                request_hash=digest,
                created_at=SystemClock().now(),
            )
    except IntegrityError:
        return None


def _store(claim: IdempotentRequest, response: Response) -> None:
    body = json.loads(json.dumps(response.data, cls=DjangoJSONEncoder))
    IdempotentRequest.objects.filter(pk=claim.pk).update(
        status_code=response.status_code, response_body=body
    )


def _existing(request: Request, key: str) -> IdempotentRequest:
    assert isinstance(request.auth, ApiKey)
    return IdempotentRequest.objects.get(organization_id=request.auth.organization_id, key=key)


class _Failed(Exception):
    def __init__(self, response: Response) -> None:
        self.response = response


def idempotent(*, atomic: bool = True) -> Callable[[F], F]:
    """Decorate a viewset's POST handler (``create`` or an action)."""

    def decorate(func: F) -> F:
        @functools.wraps(func)
        def wrapper(self: Any, request: Request, *args: Any, **kwargs: Any) -> Response:
            key = request.headers.get(HEADER)
            if key is None:
                if not atomic:
                    return func(self, request, *args, **kwargs)
                with transaction.atomic():
                    return func(self, request, *args, **kwargs)
            key = key.strip()
            if not key or len(key) > 255:
                raise exceptions.ValidationError(
                    {HEADER: ["must be 1 to 255 characters (a UUID is a good choice)"]}
                )
            digest = request_hash(request)
            if atomic:
                try:
                    with transaction.atomic():
                        claim = _claim(request, key, digest)
                        if claim is None:
                            return _replay(_existing(request, key), digest)
                        response = func(self, request, *args, **kwargs)
                        if response.status_code >= 400:
                            raise _Failed(response)
                        _store(claim, response)
                        return response
                except _Failed as failed:
                    return failed.response
            claim = _claim(request, key, digest)
            if claim is None:
                return _replay(_existing(request, key), digest)
            try:
                response = func(self, request, *args, **kwargs)
            except BaseException:
                IdempotentRequest.objects.filter(pk=claim.pk).delete()
                raise
            if response.status_code >= 400:
                IdempotentRequest.objects.filter(pk=claim.pk).delete()
            else:
                _store(claim, response)
            return response

        return wrapper  # type: ignore[return-value]

    return decorate
