"""REST edges of the desk: parse, authorize, call one service, answer the contract's shape."""
from __future__ import annotations

from datetime import datetime
from typing import Any

from django.utils.dateparse import parse_date, parse_datetime
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema, inline_serializer
from rest_framework import serializers
from rest_framework.pagination import LimitOffsetPagination
from rest_framework.permissions import BasePermission
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from crm.models import Client
from dealer.api_schema import error_responses, single_page, whole_page
from dealer.desk import selectors, services
from dealer.errors import DeskError, Forbidden
from dealer.roles import (
    IsDeskOrManagement, IsPerson, IsSeniorTrader, MANAGEMENT, SENIOR_TRADER, TRADER,
    role_permission,
)

class QuoteOut(serializers.Serializer):
    id = serializers.IntegerField()
    price = serializers.DecimalField(max_digits=14, decimal_places=6, help_text="Clean price per 100 face.")
    quantity = serializers.DecimalField(max_digits=16, decimal_places=2, help_text="Face.")
    valid_until = serializers.DateTimeField(help_text="The quote can be accepted until then.")


class RfqIn(serializers.Serializer):
    client_rfq_id = serializers.CharField(max_length=64, help_text="Your own id: the idempotency key.")
    isin = serializers.CharField(min_length=12, max_length=12, help_text="An instrument with rfq_enabled true.")
    side = serializers.ChoiceField(choices=["buy", "sell"], help_text="Your side.")
    quantity = serializers.DecimalField(max_digits=13, decimal_places=2, help_text="Face, > 0, <= 1e10, at most 2 decimals.")


class RfqOut(serializers.Serializer):
    id = serializers.IntegerField()
    client_rfq_id = serializers.CharField()
    isin = serializers.CharField()
    side = serializers.CharField()
    quantity = serializers.DecimalField(max_digits=16, decimal_places=2)
    status = serializers.ChoiceField(choices=[c for c, _ in services.Rfq.Status.choices])
    reason = serializers.CharField(help_text="Why it was declined, expired or failed.")
    quote = QuoteOut(allow_null=True)
    trade_id = serializers.IntegerField(allow_null=True)
    received_at = serializers.DateTimeField()


class TradeOut(serializers.Serializer):
    id = serializers.IntegerField()
    rfq_id = serializers.IntegerField(allow_null=True)
    client = serializers.CharField(help_text="Client code.")
    isin = serializers.CharField()
    side = serializers.CharField(help_text="The client's side.")
    quantity = serializers.DecimalField(max_digits=16, decimal_places=2)
    price = serializers.DecimalField(max_digits=14, decimal_places=6)
    booked_at = serializers.DateTimeField()


class InterestedClientOut(serializers.Serializer):
    code = serializers.CharField()
    side = serializers.CharField()


class PositionOut(serializers.Serializer):
    isin = serializers.CharField()
    description = serializers.CharField()
    asset_class = serializers.CharField()
    quantity = serializers.DecimalField(max_digits=18, decimal_places=2, help_text="The desk's signed face, long positive.")
    avg_price = serializers.DecimalField(max_digits=14, decimal_places=6)
    realized_pnl = serializers.DecimalField(max_digits=20, decimal_places=2)
    unrealized_pnl = serializers.DecimalField(max_digits=20, decimal_places=2)
    mid = serializers.DecimalField(max_digits=14, decimal_places=6, allow_null=True, help_text="The current composite mid, if any.")
    interested_clients = InterestedClientOut(many=True, help_text="Clients whose interests would take the position off the desk's hands.")


COMPONENTS_HELP = ("bp of price per component (base, liquidity, volatility, impact, hedge, funding, uncertainty, "
                   "stress, skew, axe, signal, agreement; trader for a trader's price), added to the dealer's side "
                   "of the mid: positive widens the quote for the client.")


class DeskQuoteOut(QuoteOut):
    components = serializers.DictField(child=serializers.FloatField(), help_text=COMPONENTS_HELP)
    mid = serializers.DecimalField(max_digits=14, decimal_places=6)
    source = serializers.ChoiceField(choices=["auto", "recommendation", "trader"])


class RecommendationOut(serializers.Serializer):
    quote_id = serializers.IntegerField()
    price = serializers.DecimalField(max_digits=14, decimal_places=6, help_text="What `send` quotes, exactly.")
    quantity = serializers.DecimalField(max_digits=16, decimal_places=2)
    ci_low = serializers.DecimalField(max_digits=14, decimal_places=6, allow_null=True)
    ci_high = serializers.DecimalField(max_digits=14, decimal_places=6, allow_null=True)
    impact_bp = serializers.FloatField(allow_null=True)
    win_probability = serializers.FloatField(allow_null=True)
    expected_pnl = serializers.FloatField(allow_null=True)
    mid = serializers.DecimalField(max_digits=14, decimal_places=6)
    components = serializers.DictField(child=serializers.FloatField(), help_text=COMPONENTS_HELP)
    half_spread_bp = serializers.FloatField()


class DeskRfqOut(RfqOut):
    quote = DeskQuoteOut(allow_null=True)
    client = serializers.CharField()
    client_name = serializers.CharField()
    tier = serializers.IntegerField()
    asset_class = serializers.CharField()
    description = serializers.CharField()
    review_deadline = serializers.DateTimeField(allow_null=True)
    claimed_by = serializers.CharField(allow_null=True)
    channel = serializers.CharField(help_text="rest, websocket, fix or history.")
    recommendation = RecommendationOut(allow_null=True, help_text="For Tier 1 RFQs (null until priced).")


def client_of(request: Request) -> Client:
    """The API client behind the request (loaded once by `IsApiClientUser`)."""
    client = getattr(request, "api_client", None)
    if client is None:
        client = Client.objects.select_related("tier").filter(user=request.user, active=True).first()
        if client is None:
            raise Forbidden("This user is not an API client.")
    return client


class IsApiClientUser(BasePermission):
    """Admits users that act for a client (one query, which also loads the client and its tier)."""

    message = "Only API clients may do this."

    def has_permission(self, request: Any, view: Any) -> bool:
        if not request.user or not request.user.is_authenticated:
            return False
        client = Client.objects.select_related("tier").filter(user=request.user, active=True).first()
        request.api_client = client
        return client is not None


def parse_since(value: str | None) -> datetime | None:
    if not value:
        return None
    dt = parse_datetime(value)
    if dt is None:
        d = parse_date(value)
        if d is not None:
            dt = datetime(d.year, d.month, d.day)
    if dt is None:
        raise DeskError("Must be an ISO 8601 date or time.", field="since")
    if dt.tzinfo is None:
        from datetime import timezone as tz

        dt = dt.replace(tzinfo=tz.utc)
    return dt


class RfqListCreate(APIView):
    permission_classes = [IsApiClientUser]
    pagination_class = LimitOffsetPagination  # the GET pages with it; drf-spectacular reads it too

    @extend_schema(
        request=RfqIn,
        responses={202: inline_serializer("RfqAccepted", {"id": serializers.IntegerField(), "client_rfq_id": serializers.CharField(), "status": serializers.CharField()}),
                   200: RfqOut, **error_responses(400, 401, 403, 409, 413, 415, 503, descriptions={
                       409: "This client_rfq_id was already used for an RFQ with other fields."})},
        description="Send an RFQ. 202 at once; the quote follows over the websocket or GET. The same client_rfq_id again returns the first RFQ (200), or 409 if its fields differ.",
    )
    def post(self, request: Request) -> Response:
        client = client_of(request)
        data = services.parse_rfq_input(request.data)
        rfq, created = services.rfq_create(client=client, data=data, channel="rest")
        if created:
            return Response({"id": rfq.id, "client_rfq_id": rfq.client_rfq_id, "status": rfq.status}, status=202)
        return Response(selectors.rfq_payload(rfq), status=200)

    @extend_schema(
        parameters=[OpenApiParameter("status", str), OpenApiParameter("since", str, description="Received at or after (ISO 8601).")],
        responses={200: RfqOut(many=True), **error_responses(400, 401, 403)},
    )
    def get(self, request: Request) -> Response:
        client = client_of(request)
        status = request.query_params.get("status") or None
        if status and status not in services.Rfq.Status.values:
            raise DeskError(f"Unknown status; one of {', '.join(services.Rfq.Status.values)}.", field="status")
        qs = selectors.rfqs_for_client(client_id=client.id, status=status, since=parse_since(request.query_params.get("since")))
        paginator = self.pagination_class()
        page = paginator.paginate_queryset(qs, request, view=self)
        return paginator.get_paginated_response([selectors.rfq_payload(r) for r in page or []])


class RfqDetail(APIView):
    permission_classes = [IsApiClientUser]

    @extend_schema(responses={200: RfqOut, **error_responses(401, 403, 404)})
    def get(self, request: Request, rfq_id: int) -> Response:
        client = client_of(request)
        return Response(selectors.rfq_payload(selectors.rfq_get_for_client(client_id=client.id, rfq_id=rfq_id)))


TRADE_BOOKED = inline_serializer("TradeBooked", {"trade_id": serializers.IntegerField(), "price": serializers.DecimalField(max_digits=14, decimal_places=6), "quantity": serializers.DecimalField(max_digits=16, decimal_places=2)})


class RfqAccept(APIView):
    permission_classes = [IsApiClientUser]

    @extend_schema(
        request=inline_serializer("AcceptIn", {"quote_id": serializers.IntegerField()}),
        responses={201: TRADE_BOOKED,
                   200: OpenApiResponse(TRADE_BOOKED, description="The same trade again (a repeat or a concurrent twin)."),
                   **error_responses(400, 401, 403, 404, 409, 413, 415, descriptions={
                       409: "An expired, rejected or replaced quote, or one over the client's credit line."})},
    )
    def post(self, request: Request, rfq_id: int) -> Response:
        client = client_of(request)
        body = request.data if isinstance(request.data, dict) else {}
        extra = sorted(set(body) - {"quote_id"})
        if extra:
            raise DeskError("Unknown field; only quote_id is allowed.", field=extra[0])
        if "quote_id" not in body:
            raise DeskError("This field is required.", field="quote_id")
        trade, created = services.quote_accept(client=client, rfq_id=rfq_id, quote_id=body["quote_id"])
        return Response(
            {"trade_id": trade.id, "price": f"{trade.price:.6f}", "quantity": f"{trade.quantity:.2f}"},
            status=201 if created else 200,
        )


class RfqReject(APIView):
    permission_classes = [IsApiClientUser]

    @extend_schema(request=None, responses={200: RfqOut, **error_responses(401, 403, 404, 409, 413)})
    def post(self, request: Request, rfq_id: int) -> Response:
        client = client_of(request)
        return Response(selectors.rfq_payload(services.rfq_reject(client=client, rfq_id=rfq_id)))


class DeskRfqDetail(APIView):
    permission_classes = [IsDeskOrManagement]

    @extend_schema(operation_id="desk_rfq_retrieve", responses={200: DeskRfqOut, **error_responses(401, 403, 404)},
                   description="The RFQ with client, tier, quote components (bp) and, for reviewed RFQs, the recommendation.")
    def get(self, request: Request, rfq_id: int) -> Response:
        rfq = selectors.rfq_get_for_person(user=request.user, rfq_id=rfq_id)
        return Response(selectors.desk_rfq_payload(rfq))


class DeskRfqList(APIView):
    permission_classes = [IsDeskOrManagement]

    @extend_schema(operation_id="desk_rfq_list",
                   responses={200: single_page(DeskRfqOut, "DeskRfqPage"), **error_responses(400, 401, 403)},
                   parameters=[OpenApiParameter(n, str) for n in ("status", "tier", "asset_class", "client")],
                   description="The latest 200 RFQs that match, newest first, in one page.")
    def get(self, request: Request) -> Response:
        q = request.query_params
        tier = q.get("tier")
        if tier and tier not in ("1", "2", "3"):
            raise DeskError("Must be 1, 2 or 3.", field="tier")
        rows = selectors.desk_rfqs(status=q.get("status") or None, tier=int(tier) if tier else None,
                                   asset_class=q.get("asset_class") or None, client=q.get("client") or None)
        return Response(whole_page(selectors.desk_rows(rows)))


class DecisionIn(serializers.Serializer):
    action = serializers.ChoiceField(choices=["send", "improve", "worsen", "decline"])
    price = serializers.DecimalField(max_digits=14, decimal_places=6, required=False, help_text="For improve and worsen.")
    quantity = serializers.DecimalField(max_digits=16, decimal_places=2, required=False)
    reason = serializers.CharField(required=False, allow_blank=True, help_text="Required beyond the tier's decision band.")


class DeskDecision(APIView):
    permission_classes = [IsSeniorTrader]

    @extend_schema(request=DecisionIn, responses={200: OpenApiResponse(DeskRfqOut, description="The RFQ after the decision."),
                                                  **error_responses(400, 401, 403, 404, 409, 413, 415)})
    def post(self, request: Request, rfq_id: int) -> Response:
        body = request.data if isinstance(request.data, dict) else {}
        extra = sorted(set(body) - {"action", "price", "quantity", "reason"})
        if extra:
            raise DeskError("Unknown field.", field=extra[0])
        if "action" not in body:
            raise DeskError("This field is required.", field="action")
        rfq = services.review_decide(user=request.user, rfq_id=rfq_id, action=body["action"], price=body.get("price"),
                                     quantity=body.get("quantity"), reason=str(body.get("reason") or ""))
        return Response(selectors.desk_rfq_payload(rfq))


class DeskClaim(APIView):
    permission_classes = [IsSeniorTrader]

    @extend_schema(request=None, responses={
        200: OpenApiResponse(inline_serializer("Claimed", {"rfq_id": serializers.IntegerField(), "claimed_by": serializers.CharField()}),
                             description="Claimed."),
        **error_responses(401, 403, 404, 409, 413)})
    def post(self, request: Request, rfq_id: int) -> Response:
        rfq = services.review_claim(user=request.user, rfq_id=rfq_id)
        return Response({"rfq_id": rfq.id, "claimed_by": request.user.username})


class TradeList(APIView):
    permission_classes = [role_permission(TRADER, SENIOR_TRADER, MANAGEMENT, "relationship_manager")]
    pagination_class = LimitOffsetPagination  # the GET pages with it; drf-spectacular reads it too

    @extend_schema(responses={200: TradeOut(many=True), **error_responses(400, 401, 403)},
                   parameters=[OpenApiParameter(n, str) for n in ("client", "isin", "since")])
    def get(self, request: Request) -> Response:
        q = request.query_params
        qs = selectors.trades_for_user(user=request.user, client=q.get("client") or None, isin=q.get("isin") or None,
                                       since=parse_since(q.get("since")))
        paginator = self.pagination_class()
        page = paginator.paginate_queryset(qs, request, view=self)
        return paginator.get_paginated_response([selectors.trade_payload(t) for t in page or []])


class PositionList(APIView):
    permission_classes = [IsDeskOrManagement]

    @extend_schema(responses={200: single_page(PositionOut, "PositionPage"), **error_responses(401, 403)},
                   parameters=[OpenApiParameter("isin", str, description="That instrument's position, even if flat.")],
                   description="The desk's open positions (or the one of `isin`), in one page.")
    def get(self, request: Request) -> Response:
        from dealer.desk.book import position_rows

        rows = position_rows(isin=request.query_params.get("isin") or None)
        return Response(whole_page(rows))


class SwitchIn(serializers.Serializer):
    name = serializers.ChoiceField(choices=["kill", "stress"])
    scope = serializers.CharField(help_text='"desk" or an asset class code.')
    on = serializers.BooleanField()
    reason = serializers.CharField(max_length=200, help_text="Why the switch is turned on or off (required both ways).")


class SwitchOut(serializers.Serializer):
    name = serializers.ChoiceField(choices=["kill", "stress"])
    scope = serializers.CharField(help_text='"desk" or an asset class code.')
    on = serializers.BooleanField()
    reason = serializers.CharField(allow_blank=True)
    changed_by = serializers.CharField(allow_null=True, help_text="Username.")
    changed_at = serializers.DateTimeField(allow_null=True)


class SwitchView(APIView):
    def get_permissions(self) -> list[Any]:
        if self.request.method == "POST":
            return [role_permission(SENIOR_TRADER, MANAGEMENT)()]
        return [IsPerson()]

    @extend_schema(responses={200: OpenApiResponse(single_page(SwitchOut, "SwitchList"), description="Every switch with its state, who and when."),
                              **error_responses(401, 403)})
    def get(self, request: Request) -> Response:
        return Response(whole_page([services.switch_payload(s) for s in selectors.switch_rows()]))

    @extend_schema(request=SwitchIn, responses={200: OpenApiResponse(SwitchOut, description="The switch with who and when."),
                                                **error_responses(400, 401, 403, 413, 415)})
    def post(self, request: Request) -> Response:
        body = request.data if isinstance(request.data, dict) else {}
        extra = sorted(set(body) - {"name", "scope", "on", "reason"})
        if extra:
            raise DeskError("Unknown field.", field=extra[0])
        for f in ("name", "scope", "on", "reason"):
            if f not in body:
                raise DeskError("This field is required.", field=f)
        switch = services.switch_set(user=request.user, name=body["name"], scope=str(body["scope"]), on=body["on"],
                                     reason=str(body.get("reason") or ""))
        return Response(services.switch_payload(switch))
