"""One error shape for the whole API.

``{"error": {"code": "...", "message": "...", "fields": {"field": ["problem"]}}}``

Service errors (Django ``ValidationError`` with a dict or a message, ``MoneyError``,
``FinalisedInvoiceError``) become 400s here, so views never translate them by hand.
"""

from __future__ import annotations

from typing import Any

from django.core.exceptions import ValidationError as DjangoValidationError
from django.db import IntegrityError
from django.http import Http404
from rest_framework import exceptions, status
from rest_framework.response import Response
from rest_framework.views import exception_handler as drf_exception_handler

from dues.billing.models import FinalisedInvoiceError
from dues.core.money import MoneyError


class IdempotencyKeyReused(exceptions.APIException):
    status_code = status.HTTP_422_UNPROCESSABLE_ENTITY
    default_detail = "this Idempotency-Key was already used with a different request"
    default_code = "idempotency_key_reused"


class IdempotencyKeyInFlight(exceptions.APIException):
    status_code = status.HTTP_409_CONFLICT
    default_detail = "a request with this Idempotency-Key is still being processed"
    default_code = "idempotency_key_in_flight"


def _flatten(detail: Any, prefix: str = "") -> dict[str, list[str]]:
    """DRF/Django error details → ``{"field": ["problem", ...]}`` (nested names dotted)."""
    out: dict[str, list[str]] = {}
    if isinstance(detail, dict):
        for key, value in detail.items():
            name = f"{prefix}.{key}" if prefix else str(key)
            for field, problems in _flatten(value, name).items():
                out.setdefault(field, []).extend(problems)
    elif isinstance(detail, list | tuple):
        for item in detail:
            if isinstance(item, dict | list | tuple):
                for field, problems in _flatten(item, prefix).items():
                    out.setdefault(field, []).extend(problems)
            else:
                out.setdefault(prefix or "non_field_errors", []).append(str(item))
    else:
        out.setdefault(prefix or "non_field_errors", []).append(str(detail))
    return out


def _summary(fields: dict[str, list[str]]) -> str:
    parts = []
    for field, problems in fields.items():
        text = "; ".join(problems)
        parts.append(text if field == "non_field_errors" else f"{field}: {text}")
    return "; ".join(parts) or "invalid request"


def error_response(
    *,
    status_code: int,
    code: str,
    message: str,
    fields: dict[str, list[str]] | None = None,
    headers: dict[str, str] | None = None,
) -> Response:
    body: dict[str, Any] = {"code": code, "message": message}
    if fields:
        body["fields"] = fields
    return Response({"error": body}, status=status_code, headers=headers)


def _from_django_validation(exc: DjangoValidationError) -> Response:
    if hasattr(exc, "error_dict"):
        fields = {
            ("non_field_errors" if k == "__all__" else k): [str(m) for m in v]
            for k, v in exc.message_dict.items()
        }
        return error_response(
            status_code=400, code="invalid", message=_summary(fields), fields=fields
        )
    messages = [str(m) for m in exc.messages]
    return error_response(status_code=400, code="invalid", message="; ".join(messages))


def exception_handler(exc: Exception, context: dict[str, Any]) -> Response | None:
    if isinstance(exc, DjangoValidationError):
        return _from_django_validation(exc)
    if isinstance(exc, MoneyError):
        return error_response(status_code=400, code="invalid_money", message=str(exc))
    if isinstance(exc, FinalisedInvoiceError):
        return error_response(status_code=400, code="invoice_finalised", message=str(exc))
    if isinstance(exc, IntegrityError):
        return error_response(
            status_code=409,
            code="conflict",
            message="the request conflicts with the current state; nothing was changed",
        )
    if isinstance(exc, Http404 | exceptions.NotFound):
        return error_response(status_code=404, code="not_found", message="not found")

    response = drf_exception_handler(exc, context)
    if response is None:
        return None
    headers = {k: v for k, v in response.items() if k in ("WWW-Authenticate", "Retry-After")}
    if isinstance(exc, exceptions.ValidationError):
        fields = _flatten(exc.detail)
        return error_response(
            status_code=response.status_code,
            code="invalid",
            message=_summary(fields),
            fields=fields,
            headers=headers,
        )
    if isinstance(exc, exceptions.ParseError):
        return error_response(
            status_code=400,
            code="malformed_request",
            message=f"the request body is not valid JSON ({exc.detail})",
        )
    if isinstance(exc, exceptions.APIException):
        code = exc.get_codes()
        return error_response(
            status_code=response.status_code,
            code=code if isinstance(code, str) else exc.default_code,
            message=str(exc.detail),
            headers=headers,
        )
    return response
