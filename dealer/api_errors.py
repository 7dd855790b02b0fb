"""One DRF exception handler giving every error the contract's JSON shape.

Field errors: `{"errors": {"field": ["message"]}}`; anything else: `{"detail": "message"}`.
"""
from __future__ import annotations

from typing import Any

from django.core.exceptions import ValidationError as DjangoValidationError
from django.http import Http404
from rest_framework import exceptions, status
from rest_framework.response import Response
from rest_framework.views import exception_handler as drf_handler

from dealer.errors import DeskError


def _flatten(detail: Any) -> list[str]:
    if isinstance(detail, dict):
        return [f"{k}: {m}" for k, v in detail.items() for m in _flatten(v)]
    if isinstance(detail, list):
        return [m for item in detail for m in _flatten(item)]
    return [str(detail)]


def exception_handler(exc: Exception, context: dict[str, Any]) -> Response | None:
    if isinstance(exc, DeskError):
        return Response(exc.as_body(), status=exc.status)
    if isinstance(exc, DjangoValidationError):
        if hasattr(exc, "message_dict"):
            return Response({"errors": {k: list(v) for k, v in exc.message_dict.items()}}, status=400)
        return Response({"detail": " ".join(exc.messages)}, status=400)
    if isinstance(exc, Http404):
        return Response({"detail": "Not found."}, status=404)
    if isinstance(exc, exceptions.ValidationError):
        detail = exc.detail
        if isinstance(detail, dict):
            errors = {}
            for field, msgs in detail.items():
                key = "detail" if field == "non_field_errors" else field
                errors[key] = _flatten(msgs)
            if list(errors) == ["detail"]:
                return Response({"detail": " ".join(errors["detail"])}, status=400)
            return Response({"errors": errors}, status=400)
        return Response({"detail": " ".join(_flatten(detail))}, status=400)
    response = drf_handler(exc, context)
    if response is not None and isinstance(response.data, dict) and "detail" in response.data:
        response.data = {"detail": str(response.data["detail"])}
    if response is None and isinstance(exc, exceptions.APIException):
        return Response({"detail": str(exc)}, status=status.HTTP_400_BAD_REQUEST)
    return response
