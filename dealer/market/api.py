from __future__ import annotations

from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import serializers
from rest_framework.pagination import LimitOffsetPagination
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from dealer.api_schema import error_responses
from dealer.errors import DeskError
from dealer.market import selectors
from dealer.market.models import Instrument


class InstrumentOut(serializers.ModelSerializer):
    asset_class = serializers.CharField(source="asset_class.code")
    coupon = serializers.DecimalField(max_digits=7, decimal_places=4, help_text="Percent per year.")

    class Meta:
        model = Instrument
        fields = ["isin", "description", "asset_class", "currency", "maturity", "coupon", "rfq_enabled"]


class InstrumentList(APIView):
    pagination_class = LimitOffsetPagination  # the GET pages with it (1,000 a page); drf-spectacular reads it too

    @extend_schema(parameters=[OpenApiParameter("asset_class", str), OpenApiParameter("rfq_enabled", bool)],
                   responses={200: InstrumentOut(many=True), **error_responses(400, 401)})
    def get(self, request: Request) -> Response:
        flag = request.query_params.get("rfq_enabled")
        if flag not in (None, "", "true", "false"):
            raise DeskError('Must be "true" or "false".', field="rfq_enabled")
        qs = selectors.instruments(asset_class=request.query_params.get("asset_class") or None,
                                   rfq_enabled=None if not flag else flag == "true")
        paginator = self.pagination_class()
        paginator.default_limit = 1000
        page = paginator.paginate_queryset(qs, request, view=self)
        return paginator.get_paginated_response(InstrumentOut(page, many=True).data)
