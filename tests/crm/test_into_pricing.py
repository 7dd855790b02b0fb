"""A change in the RM page applies to the client's next RFQ, through the real worker."""
from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import pytest
from django.test import Client as WebClient
from django.utils import timezone

from crm.models import Agreement, ScoreRun
from dealer.desk.models import Quote
from tests.desk.helpers import api_for_token, api_for_user, rfq_body, wait_for, wait_status

pytestmark = pytest.mark.django_db(transaction=True)


def _quote(book, api, isin: str, rid: str) -> dict:
    r = api.post("/api/rfqs/", rfq_body(isin, rid, side="buy", quantity="500000"), format="json")
    assert r.status_code == 202, r.content
    wait_status(api, r.json()["id"], "quoted", timeout=10)
    return api_for_user(book.user("trader1")).get(f"/api/desk/rfqs/{r.json()['id']}/").json()["quote"]


def test_an_agreement_made_in_the_rm_page_moves_the_next_quote_by_exactly_its_adjustment(book, worker) -> None:
    client_api = api_for_token(book.token("CLT0007"))  # Tier 3, band -2 .. +10 bp
    isin = book.isin("hy_corp", 2)
    before = _quote(book, client_api, isin, "before")
    assert before["components"]["agreement"] == 0.0
    assert Quote.objects.get(id=before["id"]).agreement_id is None

    web = WebClient()
    web.force_login(book.user("rm2"))
    today = timezone.now().date()
    r = web.post("/crm/clients/CLT0007/agreement/", {
        "scope": "instrument", "value": isin, "spread_adjustment_bp": "-1.5", "start": str(today),
        "end": str(today + timedelta(days=30)), "max_size": ""})
    assert r.status_code == 302, r.content.decode()[:500]
    agreement = Agreement.objects.get(client__code="CLT0007")

    after = _quote(book, client_api, isin, "after")
    assert after["components"]["agreement"] == pytest.approx(-1.5, abs=1e-9)
    assert Quote.objects.get(id=after["id"]).agreement_id == agreement.id  # the quote records what shaped it
    # The client buys at mid x (1 + sum of components): the agreement's -1.5 bp is in the price...
    total = sum(after["components"].values())
    mid = float(after["mid"])
    assert float(after["price"]) == pytest.approx(mid * (1 + total / 1e4), abs=2e-6)
    # ...and, everything else equal, the price moved by exactly 1.5 bp of the mid.
    others_before = {k: v for k, v in before["components"].items() if k != "agreement"}
    others_after = {k: v for k, v in after["components"].items() if k != "agreement"}
    if before["mid"] == after["mid"] and others_before == pytest.approx(others_after, abs=1e-9):
        assert float(Decimal(before["price"]) - Decimal(after["price"])) == pytest.approx(mid * 1.5e-4, abs=2e-6)


def test_a_score_run_from_the_page_completes_with_progress(book, worker) -> None:
    web = WebClient()
    web.force_login(book.user("rm1"))
    r = web.post("/crm/scores/recompute/", HTTP_ACCEPT="application/json")
    assert r.status_code == 202
    run_id = r.json()["id"]
    run = wait_for(lambda: ScoreRun.objects.filter(id=run_id, status="done").first(), timeout=15)
    assert run.progress == 1.0 and run.n_clients == 12 and run.requested_by.username == "rm1"
    assert web.get("/crm/scores/run/").json()["run"]["status"] == "done"
    body = api_for_user(book.user("rm1")).get("/api/clients/CLT0001/").json()
    assert body["score"] == pytest.approx(book.client("CLT0001").score)
