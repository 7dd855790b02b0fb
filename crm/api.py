from __future__ import annotations

from typing import Any

from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import serializers
from rest_framework.pagination import LimitOffsetPagination
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from crm import selectors, services
from dealer.api_schema import error_responses
from dealer.errors import DeskError
from dealer.roles import IsPerson


class ComponentsOut(serializers.Serializer):
    volume = serializers.FloatField()
    profitability = serializers.FloatField()
    flow_quality = serializers.FloatField()
    diversification = serializers.FloatField()


class AgreementOut(serializers.Serializer):
    id = serializers.IntegerField(read_only=True)
    scope = serializers.ChoiceField(choices=["all", "instrument", "issuer", "sector", "side"])
    value = serializers.CharField(allow_null=True, help_text="Null for all; the ISIN, issuer, sector or side.")
    spread_adjustment_bp = serializers.FloatField()
    max_size = serializers.DecimalField(max_digits=18, decimal_places=2, allow_null=True, read_only=True,
                                        help_text="Face; null for the tier's own limit.")
    start = serializers.DateField(help_text="Inclusive.")
    end = serializers.DateField(help_text="Inclusive.")


class InterestOut(serializers.Serializer):
    id = serializers.IntegerField(read_only=True)
    scope = serializers.ChoiceField(choices=["instrument", "issuer", "sector"])
    value = serializers.CharField()
    side = serializers.ChoiceField(choices=["buy", "sell"])


class ClientOut(serializers.Serializer):
    code = serializers.CharField()
    name = serializers.CharField()
    tier = serializers.IntegerField(min_value=1, max_value=3)
    suggested_tier = serializers.IntegerField(min_value=1, max_value=3)
    score = serializers.FloatField()
    components = ComponentsOut()
    rm = serializers.CharField(allow_null=True, help_text="The RM's username.")
    credit_line = serializers.DecimalField(max_digits=18, decimal_places=2, help_text="Face.")
    credit_used = serializers.DecimalField(max_digits=18, decimal_places=2, help_text="Face.")
    agreements = AgreementOut(many=True)
    interests = InterestOut(many=True)


def _body(request: Request, allowed: set[str]) -> dict[str, Any]:
    body = request.data if isinstance(request.data, dict) else None
    if body is None:
        raise DeskError("The body must be a JSON object.")
    extra = sorted(set(body) - allowed)
    if extra:
        raise DeskError("Unknown field.", field=extra[0])
    return body


class ClientList(APIView):
    permission_classes = [IsPerson]
    pagination_class = LimitOffsetPagination  # the GET pages with it; drf-spectacular reads it too

    @extend_schema(operation_id="clients_list", responses={200: ClientOut(many=True), **error_responses(400, 401, 403)},
                   parameters=[OpenApiParameter("tier", int), OpenApiParameter("q", str)])
    def get(self, request: Request) -> Response:
        qs = selectors.search_filter(selectors.clients_for_user(request.user), request.query_params.get("q"))
        tier = request.query_params.get("tier")
        if tier:
            if tier not in ("1", "2", "3"):
                raise DeskError("Must be 1, 2 or 3.", field="tier")
            qs = qs.filter(tier__number=int(tier))
        qs = qs.prefetch_related("agreements", "interests", "scores")
        paginator = self.pagination_class()
        page = paginator.paginate_queryset(qs, request, view=self)
        return paginator.get_paginated_response([selectors.client_payload(c) for c in page or []])


class ClientDetail(APIView):
    permission_classes = [IsPerson]

    @extend_schema(responses={200: ClientOut, **error_responses(401, 403, 404)})
    def get(self, request: Request, code: str) -> Response:
        return Response(selectors.client_payload(selectors.client_get_for_user(user=request.user, code=code)))


class AgreementCreate(APIView):
    permission_classes = [IsPerson]

    @extend_schema(request=AgreementOut, responses={201: AgreementOut, **error_responses(400, 401, 403, 404, 413, 415)})
    def post(self, request: Request, code: str) -> Response:
        client = selectors.client_get_for_user(user=request.user, code=code)
        body = _body(request, {"scope", "value", "spread_adjustment_bp", "start", "end"})
        for f in ("scope", "spread_adjustment_bp", "start", "end"):
            if f not in body:
                raise DeskError("This field is required.", field=f)
        a = services.agreement_create(user=request.user, client=client, scope=body["scope"], value=body.get("value"),
                                      spread_adjustment_bp=body["spread_adjustment_bp"], start=body["start"], end=body["end"])
        return Response(selectors.agreement_payload(a), status=201)


class InterestCreate(APIView):
    permission_classes = [IsPerson]

    @extend_schema(request=InterestOut, responses={201: InterestOut, **error_responses(400, 401, 403, 404, 413, 415)})
    def post(self, request: Request, code: str) -> Response:
        client = selectors.client_get_for_user(user=request.user, code=code)
        body = _body(request, {"scope", "value", "side"})
        for f in ("scope", "value", "side"):
            if f not in body:
                raise DeskError("This field is required.", field=f)
        i = services.interest_create(user=request.user, client=client, scope=body["scope"], value=body["value"], side=body["side"])
        return Response({"id": i.id, "scope": i.scope, "value": i.value, "side": i.side}, status=201)
