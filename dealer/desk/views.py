from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

from dealer.desk import selectors
from dealer.roles import MANAGEMENT, SENIOR_TRADER, TRADER, has_role


def _desk_only(request: HttpRequest) -> None:
    if not has_role(request.user, TRADER, SENIOR_TRADER, MANAGEMENT):
        raise PermissionDenied("The desk is for traders and management.")


@login_required
def blotter(request: HttpRequest) -> HttpResponse:
    _desk_only(request)
    rows = selectors.desk_rows(selectors.desk_rfqs(limit=100))
    return render(request, "desk/blotter.html", {"rows": rows})


@login_required
def book(request: HttpRequest) -> HttpResponse:
    _desk_only(request)
    from dealer.desk.book import position_rows

    return render(request, "desk/book.html", {"positions": position_rows(), "switches": selectors.switch_rows()})
