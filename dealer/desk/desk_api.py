"""REST edges added with the browser desk: axes and the review cockpit's context.

`GET /api/desk/axes/` (desk, management; `?all=1` includes retired ones), `POST /api/desk/axes/`
(traders, senior traders) `{"isin", "side", "quantity", "note"?}` -> 201 with the axe;
`PATCH /api/desk/axes/{id}/` `{"side"?, "quantity"?, "note"?}`; `POST /api/desk/axes/{id}/retire/`;
`GET /api/desk/rfqs/{id}/context/` (desk, management) -> the cockpit context;
`GET /api/desk/book/` (desk, management) -> `{"book_risk", "rows"}`, with `?include=hedges` also
`"hedges"` (the latest hedge decisions with their orders, as the book page shows them) and with
`?include=axe_offers` `"axe_offers"` (comma-separated for both): the book page's re-sync.
"""
from __future__ import annotations

from typing import Any

from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import serializers
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from dealer.api_schema import error_responses, single_page, whole_page
from dealer.desk import axes, cockpit, selectors
from dealer.desk.models import Axe
from dealer.errors import DeskError
from dealer.roles import IsDesk, IsDeskOrManagement

AXE_FIELDS = {"isin", "side", "quantity", "note"}


def _body(request: Request, allowed: set[str]) -> dict[str, Any]:
    body = request.data if isinstance(request.data, dict) else {}
    extra = sorted(set(body) - allowed)
    if extra:
        raise DeskError(f"Unknown field; allowed fields are {', '.join(sorted(allowed))}.", field=extra[0])
    return body


class AxeIn(serializers.Serializer):
    isin = serializers.CharField()
    side = serializers.ChoiceField(choices=["buy", "sell"], help_text="The desk's side.")
    quantity = serializers.DecimalField(max_digits=16, decimal_places=2)
    note = serializers.CharField(required=False, allow_blank=True)


class AxeOut(serializers.Serializer):
    id = serializers.IntegerField()
    isin = serializers.CharField()
    description = serializers.CharField()
    asset_class = serializers.CharField(allow_null=True)
    side = serializers.ChoiceField(choices=["buy", "sell"], help_text="The desk's side.")
    quantity = serializers.DecimalField(max_digits=16, decimal_places=2)
    note = serializers.CharField(allow_blank=True)
    active = serializers.BooleanField()
    created_by = serializers.CharField(allow_null=True, help_text="Username.")
    created_at = serializers.DateTimeField(allow_null=True)
    retired_at = serializers.DateTimeField(allow_null=True)


class AxeList(APIView):
    def get_permissions(self) -> list[Any]:
        return [IsDesk()] if self.request.method == "POST" else [IsDeskOrManagement()]

    @extend_schema(operation_id="desk_axe_list",
                   parameters=[OpenApiParameter("all", str, description="1 or true: retired axes too.")],
                   responses={200: OpenApiResponse(single_page(AxeOut, "AxePage"), description="The latest 500 axes (active unless ?all=1), in one page."),
                              **error_responses(401, 403)})
    def get(self, request: Request) -> Response:
        qs = Axe.objects.select_related("instrument", "instrument__asset_class", "created_by")
        if request.query_params.get("all") not in ("1", "true"):
            qs = qs.filter(active=True)
        rows = [axes.axe_payload(a) for a in qs.order_by("-created_at", "-id")[:500]]
        return Response(whole_page(rows))

    @extend_schema(operation_id="desk_axe_create", request=AxeIn,
                   responses={201: OpenApiResponse(AxeOut, description="The axe."), **error_responses(400, 401, 403, 413, 415)})
    def post(self, request: Request) -> Response:
        body = _body(request, AXE_FIELDS)
        axe = axes.axe_create(user=request.user, isin=body.get("isin"), side=body.get("side"),
                              quantity=body.get("quantity"), note=body.get("note", ""))
        return Response(axes.axe_payload(axe), status=201)


class AxeDetail(APIView):
    permission_classes = [IsDesk]

    @extend_schema(operation_id="desk_axe_update", request=AxeIn(partial=True),
                   responses={200: OpenApiResponse(AxeOut, description="The axe."),
                              **error_responses(400, 401, 403, 404, 409, 413, 415, descriptions={409: "The axe is retired."})})
    def patch(self, request: Request, axe_id: int) -> Response:
        body = _body(request, {"side", "quantity", "note"})
        axe = axes.axe_update(user=request.user, axe_id=axe_id, side=body.get("side"), quantity=body.get("quantity"),
                              note=body.get("note"))
        return Response(axes.axe_payload(axe))


class AxeRetire(APIView):
    permission_classes = [IsDesk]

    @extend_schema(operation_id="desk_axe_retire", request=None,
                   responses={200: OpenApiResponse(AxeOut, description="The retired axe."),
                              **error_responses(401, 403, 404, 409, 413, descriptions={409: "Already retired."})})
    def post(self, request: Request, axe_id: int) -> Response:
        return Response(axes.axe_payload(axes.axe_retire(user=request.user, axe_id=axe_id)))


class CockpitContext(APIView):
    permission_classes = [IsDeskOrManagement]

    @extend_schema(operation_id="desk_rfq_context", responses={200: OpenApiResponse(description="The review cockpit's context."),
                                                               **error_responses(401, 403, 404)})
    def get(self, request: Request, rfq_id: int) -> Response:
        rfq = selectors.rfq_get_for_person(user=request.user, rfq_id=rfq_id)
        return Response(cockpit.cockpit_context(rfq=rfq))


class BookView(APIView):
    permission_classes = [IsDeskOrManagement]

    INCLUDES = ("hedges", "axe_offers")

    @extend_schema(operation_id="desk_book", parameters=[OpenApiParameter(
                       "include", str, description='Comma-separated: "hedges" (the latest hedge decisions with their orders), '
                                                   '"axe_offers" (open axes with the clients whose interests match).')],
                   responses={200: OpenApiResponse(description="Positions with P&L and daily risk."),
                              **error_responses(400, 401, 403)})
    def get(self, request: Request) -> Response:
        from dealer.desk.book import position_rows
        from dealer.desk.book_risk import with_risk

        include = {p.strip() for p in request.query_params.get("include", "").split(",") if p.strip()}
        unknown = sorted(include - set(self.INCLUDES))
        if unknown:
            raise DeskError(f"Unknown part {unknown[0]!r}: use {', '.join(self.INCLUDES)}.", field="include")
        body = with_risk(position_rows())
        if include:
            from dealer.hedging.selectors import axe_offers, recent_decisions

            if "hedges" in include:
                body["hedges"] = recent_decisions()
            if "axe_offers" in include:
                body["axe_offers"] = axe_offers()
        return Response(body)
