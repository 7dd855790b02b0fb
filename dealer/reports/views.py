from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

from dealer.roles import MANAGEMENT, RM, SENIOR_TRADER, TRADER, has_role


@login_required
def reports_home(request: HttpRequest) -> HttpResponse:
    if not has_role(request.user, MANAGEMENT, RM, TRADER, SENIOR_TRADER):
        raise PermissionDenied("Reports are for people on the desk.")
    return render(request, "coming.html", {
        "heading": "Reports",
        "text": "Profitability, markout, hit-ratio and capital dashboards arrive with the management reports; "
                "this workspace is not built yet.",
    })
