"""The desk's HTML pages: the live blotter, the Tier 1 review cockpit and the book.

Thin: check the role, read through selectors, render. Every live behaviour (websocket,
countdowns, decisions) is in `static/js/desk-*.js` over the REST API, which enforces the
same permissions on its own.
"""
from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import render

from dealer.desk import selectors
from dealer.errors import NotFound
from dealer.market.models import AssetClass, Instrument
from dealer.roles import MANAGEMENT, SENIOR_TRADER, TRADER, has_role

STATUSES = ["received", "pricing", "pending_review", "quoted", "accepted", "booked", "declined", "rejected",
            "expired", "failed"]


def _desk_only(request: HttpRequest) -> None:
    if not has_role(request.user, TRADER, SENIOR_TRADER, MANAGEMENT):
        raise PermissionDenied("The desk is for traders and management.")


def _rfq_asset_classes() -> list[str]:
    return list(AssetClass.objects.filter(instruments__rfq_enabled=True).distinct().order_by("code")
                .values_list("code", flat=True))


@login_required
def blotter(request: HttpRequest) -> HttpResponse:
    _desk_only(request)
    from dealer.desk.services import switch_payload

    rows = selectors.desk_rows(selectors.desk_rfqs(limit=200))
    return render(request, "desk/blotter.html", {
        "rows": rows, "statuses": STATUSES, "asset_classes": _rfq_asset_classes(),
        "switches_on": [switch_payload(s) for s in selectors.switch_rows() if s.on],
    })


@login_required
def review(request: HttpRequest, rfq_id: int) -> HttpResponse:
    _desk_only(request)
    from dealer.desk.cockpit import cockpit_context

    try:
        rfq = selectors.rfq_get_for_person(user=request.user, rfq_id=rfq_id)
    except NotFound:
        raise Http404("No such RFQ.") from None
    return render(request, "desk/review.html", {
        "rfq": rfq, "row": selectors.desk_rfq_payload(rfq), "context": cockpit_context(rfq=rfq),
        "can_decide": has_role(request.user, SENIOR_TRADER),
    })


@login_required
def book(request: HttpRequest) -> HttpResponse:
    _desk_only(request)
    from dealer.desk.axes import axe_payload
    from dealer.desk.book import position_rows
    from dealer.desk.book_risk import with_risk
    from dealer.desk.services import switch_payload
    from dealer.hedging.selectors import axe_offers, recent_decisions

    axes = [axe_payload(a) for a in selectors.active_axes().select_related("instrument__asset_class", "created_by")]
    return render(request, "desk/book.html", {
        "book": with_risk(position_rows()), "axes": axes,
        "switches": [switch_payload(s) for s in selectors.switch_rows()],
        "scopes": ["desk"] + list(AssetClass.objects.order_by("code").values_list("code", flat=True)),
        "can_axe": has_role(request.user, TRADER, SENIOR_TRADER),
        "instruments": list(Instrument.objects.order_by("sim_index").values_list("isin", "description")),
        "can_switch": has_role(request.user, SENIOR_TRADER, MANAGEMENT),
        "hedges": recent_decisions(), "axe_offers": axe_offers(),
        "can_hedge": has_role(request.user, SENIOR_TRADER),
    })
