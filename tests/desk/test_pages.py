"""The desk's pages: who may open which (the permission matrix), and what each role sees."""
from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import pytest
from django.db import connection
from django.test import Client as HttpClient
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from dealer.desk.models import Quote, Rfq
from dealer.market.models import Instrument
from tests.desk.helpers import external_assets

pytestmark = pytest.mark.django_db

PAGES = ["/desk/", "/desk/review/{rfq}/", "/desk/book/"]
MATRIX = {
    "senior1": (200, 200, 200),
    "senior2": (200, 200, 200),
    "trader1": (200, 200, 200),
    "mgmt1": (200, 200, 200),
    "rm1": (403, 403, 403),
    "CLT0001": (403, 403, 403),  # an API client's user
}


@pytest.fixture
def pending(book) -> Rfq:
    """A Tier 1 RFQ waiting for review with its recommendation (written directly: no worker)."""
    client = book.client("CLT0001")
    inst = Instrument.objects.get(isin=book.isin("ig_corp", 1))
    now = timezone.now()
    rfq = Rfq.objects.create(client=client, client_rfq_id="p1", instrument=inst, side="buy", quantity=Decimal(20000000),
                             status="pending_review", tier=1, received_at=now, priced_at=now,
                             review_deadline=now + timedelta(seconds=120))
    comps = dict.fromkeys(Quote.COMPONENTS, 0.0) | {"base": 4.0, "skew": 3.0, "impact": 2.0}
    rec = Quote.objects.create(rfq=rfq, status="recommended", source="recommendation", price=Decimal("100.120000"),
                               quantity=rfq.quantity, mid=Decimal("100.000000"), mid_se=0.01, components=comps,
                               half_spread_bp=9.0, ci_low=Decimal("100.100000"), ci_high=Decimal("100.140000"),
                               impact_bp=2.0, win_probability=0.3, expected_pnl=1000.0, created_at=now)
    rfq.recommendation = rec
    rfq.save(update_fields=["recommendation"])
    return rfq


def _http(book, who: str) -> HttpClient:
    http = HttpClient()
    user = book.client(who).user if who.startswith("CLT") else book.user(who)
    http.force_login(user)
    return http


@pytest.mark.parametrize("who", sorted(MATRIX))
@pytest.mark.parametrize("page", range(len(PAGES)))
def test_the_permission_matrix_of_the_desk_pages(book, pending, who, page) -> None:
    path = PAGES[page].format(rfq=pending.id)
    assert _http(book, who).get(path).status_code == MATRIX[who][page]


@pytest.mark.parametrize("path", PAGES)
def test_anonymous_people_are_sent_to_log_in(book, pending, path) -> None:
    r = HttpClient().get(path.format(rfq=pending.id))
    assert r.status_code == 302 and r["Location"].startswith("/accounts/login/")


def test_an_unknown_rfq_is_a_404(book) -> None:
    assert _http(book, "senior1").get("/desk/review/999999/").status_code == 404


@pytest.mark.parametrize("who,buttons", [("senior1", True), ("trader1", False), ("mgmt1", False)])
def test_only_senior_traders_get_decision_buttons(book, pending, who, buttons) -> None:
    html = _http(book, who).get(f"/desk/review/{pending.id}/").content.decode()
    assert f'data-rfq-id="{pending.id}"' in html
    for action in ("send", "improve", "worsen", "decline"):
        assert (f'data-action="{action}"' in html) is buttons
    assert "/static/vendor/plotly.min.js" in html and external_assets(html) == []


def test_the_blotter_rows_carry_their_rfq_id_and_the_book_forms_follow_the_roles(book, pending) -> None:
    html = _http(book, "trader1").get("/desk/").content.decode()
    assert f'<tr data-rfq-id="{pending.id}"' in html
    book_html = _http(book, "trader1").get("/desk/book/").content.decode()
    assert 'id="axe-form"' in book_html and 'id="switch-form"' not in book_html
    mgmt_html = _http(book, "mgmt1").get("/desk/book/").content.decode()
    assert 'id="axe-form"' not in mgmt_html and 'id="switch-form"' in mgmt_html
    senior_html = _http(book, "senior1").get("/desk/book/").content.decode()
    assert 'id="axe-form"' in senior_html and 'id="switch-form"' in senior_html


def test_the_cockpit_context_matches_the_recommendation_and_the_page_renders_in_few_queries(book, pending) -> None:
    from dealer.desk.cockpit import cockpit_context, winprob_at

    ctx = cockpit_context(rfq=pending)
    terms = ctx["winprob"]
    assert terms["side"] == 1 and terms["tier"] == 1 and terms["risk_cost_bp"] == pytest.approx(5.0)
    pw, e = winprob_at(terms, price=100.12, quantity=20_000_000)
    better, _ = winprob_at(terms, price=100.10, quantity=20_000_000)
    assert 0 < pw < better < 1  # a better price for the client wins more often
    assert e == pytest.approx(pw * (0.12 - 5.0 * 100 * 1e-4) * 20_000_000 / 100)
    impact = ctx["impact"]
    assert impact["desk_quantity"] == "-20000000.00" and impact["position_after"] == "-20000000.00"
    assert impact["edge_pnl"] == pytest.approx(0.12 * 20_000_000 / 100)
    assert ctx["activity"]["hit_ratio"] is None and ctx["desk"]["axes"] == []
    http = _http(book, "senior1")
    http.get(f"/desk/review/{pending.id}/")  # warm the per-process caches
    with CaptureQueriesContext(connection) as queries:
        assert http.get(f"/desk/review/{pending.id}/").status_code == 200
    assert len(queries) <= 25  # 22 today: no query per trade, RFQ, markout or axe
    api = http.get(f"/api/desk/rfqs/{pending.id}/context/")
    assert api.status_code == 200 and api.json()["rfq_id"] == pending.id
    assert _http(book, "rm1").get(f"/api/desk/rfqs/{pending.id}/context/").status_code == 403
