from __future__ import annotations

from typing import Any

from drf_spectacular.utils import OpenApiResponse, extend_schema, inline_serializer
from rest_framework import serializers
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from dealer.api_schema import error_responses, single_page, whole_page
from dealer.desk.models import Trade
from dealer.errors import DeskError, NotFound
from dealer.hedging import selectors, services
from dealer.roles import IsDeskOrManagement, IsSeniorTrader


class HedgeOrderOut(serializers.Serializer):
    id = serializers.IntegerField()
    isin = serializers.CharField()
    side = serializers.CharField(help_text="The desk's side.")
    quantity = serializers.DecimalField(max_digits=18, decimal_places=2)
    filled = serializers.DecimalField(max_digits=18, decimal_places=2)
    status = serializers.CharField()


class HedgeOut(serializers.Serializer):
    decision = serializers.ChoiceField(choices=["offset", "schedule", "proxy", "internalize", "hold"])
    reason = serializers.CharField()
    orders = HedgeOrderOut(many=True)


class TradeHedge(APIView):
    permission_classes = [IsDeskOrManagement]

    @extend_schema(responses={200: HedgeOut, **error_responses(
        401, 403, 404, descriptions={404: "No such trade, or its hedge is not decided yet."})})
    def get(self, request: Request, trade_id: int) -> Response:
        if not Trade.objects.filter(id=trade_id).exists():
            raise NotFound("No such trade.")
        decision = selectors.decision_for_trade(trade_id)
        if decision is None:
            raise NotFound("The hedge of this trade is not decided yet.")
        return Response(selectors.decision_payload(decision))


def _body(request: Request, allowed: set[str]) -> dict[str, Any]:
    body = request.data if isinstance(request.data, dict) else {}
    extra = sorted(set(body) - allowed)
    if extra:
        raise DeskError("Unknown field.", field=extra[0])
    return body


class OrderCancel(APIView):
    permission_classes = [IsSeniorTrader]

    @extend_schema(request=None, responses={200: HedgeOrderOut, **error_responses(401, 403, 404, 409, 413)})
    def post(self, request: Request, order_id: int) -> Response:
        order = services.order_cancel(user=request.user, order_id=order_id)
        return Response(selectors.order_payload(order))


class ScheduleHorizon(APIView):
    permission_classes = [IsSeniorTrader]

    @extend_schema(request=inline_serializer("HorizonIn", {"hours": serializers.FloatField()}),
                   responses={200: HedgeOrderOut, **error_responses(400, 401, 403, 404, 409, 413, 415)})
    def post(self, request: Request, order_id: int) -> Response:
        body = _body(request, {"hours"})
        if "hours" not in body:
            raise DeskError("This field is required.", field="hours")
        order = services.schedule_change_horizon(user=request.user, order_id=order_id, hours=body["hours"])
        return Response(selectors.order_payload(order))


class ScheduleHedgeNow(APIView):
    permission_classes = [IsSeniorTrader]

    @extend_schema(request=inline_serializer("HedgeNowIn", {"quantity": serializers.DecimalField(max_digits=18, decimal_places=2, required=False)}),
                   responses={200: HedgeOrderOut, **error_responses(400, 401, 403, 404, 409, 413, 415)})
    def post(self, request: Request, order_id: int) -> Response:
        body = _body(request, {"quantity"})
        order = services.schedule_hedge_now(user=request.user, order_id=order_id, quantity=body.get("quantity"))
        return Response(selectors.order_payload(order))


class AxeOfferOut(serializers.Serializer):
    axe_id = serializers.IntegerField()
    isin = serializers.CharField()
    description = serializers.CharField()
    desk_side = serializers.ChoiceField(choices=["buy", "sell"])
    quantity = serializers.DecimalField(max_digits=18, decimal_places=2)
    clients = serializers.ListField(child=serializers.CharField(), help_text="Codes of the clients whose interests match.")


class AxeOffers(APIView):
    permission_classes = [IsDeskOrManagement]

    @extend_schema(responses={200: OpenApiResponse(single_page(AxeOfferOut, "AxeOfferList"),
                                                   description="Open axes with the clients whose interests match."),
                              **error_responses(401, 403)})
    def get(self, request: Request) -> Response:
        return Response(whole_page(selectors.axe_offers()))
