"""OpenAPI descriptions of the contract's shared shapes, for the `@extend_schema` of the api modules.

Errors are what `dealer.api_errors.exception_handler` and `dealer.middleware` write (DESIGN.md
section 9): `{"errors": {"field": ["message"]}}` when fields are at fault, which only a 400 is,
and `{"detail": "message"}` where no field is (a 400 too, and every 401, 403, 404, 409, 413, 415,
503). A view lists the codes it can answer with `error_responses(400, 401, ...)`.

Lists are `{"count", "next", "previous", "results"}`: views that page with `LimitOffsetPagination`
name it as their `pagination_class` and drf-spectacular builds the envelope and the `limit` and
`offset` parameters; views that answer the whole list in that envelope use `single_page`.
"""
from __future__ import annotations

from typing import Any

from drf_spectacular.utils import OpenApiResponse, PolymorphicProxySerializer, inline_serializer
from rest_framework import serializers

__all__ = ["Detail", "FieldErrors", "error_responses", "single_page", "whole_page"]


class FieldErrors(serializers.Serializer):
    errors = serializers.DictField(
        child=serializers.ListField(child=serializers.CharField()),
        help_text="Each refused field with its messages.",
    )


class Detail(serializers.Serializer):
    detail = serializers.CharField(help_text="What went wrong, where no field is at fault.")


_FIELD_OR_DETAIL = PolymorphicProxySerializer(
    component_name="BadRequest",
    serializers=[FieldErrors, Detail],
    resource_type_field_name=None,
    many=False,
)

_DESCRIPTIONS = {
    400: 'Refused input: `{"errors": {"field": ["message"]}}` naming each refused field, or '
         '`{"detail": "message"}` where no field is at fault (a body that is not a JSON object, say).',
    401: "No credentials, or a wrong token.",
    403: "The user's role does not allow this (or a session request without its CSRF token).",
    404: "No such object, or not one this user may see.",
    409: "The object's state does not allow this now.",
    413: "The request body is larger than 64 KB.",
    415: "The request body is not application/json.",
    503: "Not stored this time; send it again.",
}


def error_responses(*codes: int, descriptions: dict[int, str] | None = None) -> dict[int, OpenApiResponse]:
    """The contract's error responses for these status codes (400: either shape; others: detail).

    `descriptions` replaces the generic description of some codes with the endpoint's own reasons.
    """
    descriptions = descriptions or {}
    return {
        code: OpenApiResponse(_FIELD_OR_DETAIL if code == 400 else Detail,
                              description=descriptions.get(code, _DESCRIPTIONS[code]))
        for code in codes
    }


def single_page(item: type[serializers.Serializer], name: str) -> Any:
    """The list envelope of a view that answers the whole list at once (no `limit`, `offset`)."""
    return inline_serializer(name, {
        "count": serializers.IntegerField(help_text="How many results there are in this answer."),
        "next": serializers.URLField(allow_null=True, help_text="Always null: the whole list is in one page."),
        "previous": serializers.URLField(allow_null=True, help_text="Always null: the whole list is in one page."),
        "results": item(many=True),
    })


def whole_page(rows: list[Any]) -> dict[str, Any]:
    """A list answered at once, in the contract's envelope (what `single_page` describes)."""
    return {"count": len(rows), "next": None, "previous": None, "results": rows}
