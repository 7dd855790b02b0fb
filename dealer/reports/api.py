"""REST of the reports: `GET /api/reports/profitability/` (contract, DESIGN.md section 9)."""
from __future__ import annotations

from typing import Any

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import (
    OpenApiParameter,
    OpenApiResponse,
    extend_schema,
    extend_schema_field,
)
from rest_framework import serializers
from rest_framework.renderers import BaseRenderer, JSONRenderer
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from dealer.api_schema import error_responses
from dealer.reports import selectors
from dealer.reports.csvout import csv_response


class CsvRenderer(BaseRenderer):
    """Lets `?format=csv` through DRF's content negotiation; the view writes the CSV itself."""

    media_type = "text/csv"
    format = "csv"
    charset = "utf-8"

    def render(self, data: Any, accepted_media_type: Any = None, renderer_context: Any = None) -> bytes:
        import json

        return json.dumps(data).encode()  # errors only: the view answers CSV with its own response


@extend_schema_field({"oneOf": [{"type": "string"}, {"type": "integer"}]})
class GroupKeyField(serializers.Field):
    """The group's key: a client code, an RM username or an asset class, or a tier (an integer).

    Only describes the answer in the schema: the view writes its rows itself.
    """


class ProfitTotalOut(serializers.Serializer):
    trades = serializers.IntegerField()
    volume = serializers.DecimalField(max_digits=20, decimal_places=2, help_text="Face.")
    pnl = serializers.DecimalField(max_digits=20, decimal_places=2)


class ProfitRowOut(ProfitTotalOut):
    key = GroupKeyField()


class ProfitabilityOut(serializers.Serializer):
    results = ProfitRowOut(many=True)
    total = ProfitTotalOut()


class Profitability(APIView):
    renderer_classes = [JSONRenderer, CsvRenderer]

    @extend_schema(
        parameters=[OpenApiParameter("group_by", str, enum=list(selectors.API_GROUPS)),
                    OpenApiParameter("start", str, description="ISO date, inclusive (UTC days)"),
                    OpenApiParameter("end", str, description="ISO date, inclusive (UTC days)"),
                    OpenApiParameter("format", str, enum=["json", "csv"])]
        + [OpenApiParameter(n, str) for n in selectors.FILTER_PARAMS if n != "sector"],
        responses={(200, "application/json"): ProfitabilityOut,
                   (200, "text/csv"): OpenApiResponse(OpenApiTypes.STR, description="With format=csv: the header key,trades,volume,pnl and one line a group."),
                   **error_responses(400, 401, 403)},
    )
    def get(self, request: Request) -> Any:
        scope = selectors.scope_for(request.user)
        f = selectors.parse_filters(request.query_params, scope=scope, groups=selectors.API_GROUPS,
                                    default_group="client" if not scope.is_desk else "tier")
        report = selectors.profitability(scope=scope, f=f, hedges=False)  # the contract's pnl: client trades
        rows = [{"key": r["key"], "trades": r["trades"], "volume": f"{r['volume']:.2f}", "pnl": f"{r['pnl']:.2f}"}
                for r in report["results"]]
        t = report["total"]
        if request.query_params.get("format") == "csv":
            return csv_response(f"profitability_{f.group_by}_{f.start}_{f.end}.csv", ["key", "trades", "volume", "pnl"],
                                ([r["key"], r["trades"], r["volume"], r["pnl"]] for r in rows))
        return Response({"results": rows, "total": {"trades": t["trades"], "volume": f"{t['volume']:.2f}",
                                                     "pnl": f"{t['pnl']:.2f}"}})
