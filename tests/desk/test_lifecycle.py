"""The RFQ path end to end through the real Celery worker: quote, review, decide, book, expire."""
from __future__ import annotations

import time
from datetime import timedelta
from decimal import Decimal

import pytest
from django.utils import timezone

from crm.models import Client
from dealer.desk import services
from dealer.desk.models import Decision, Position, Quote, Rfq, Switch, Trade
from tests.desk.helpers import api_for_token, api_for_user, rfq_body, wait_reconciled, wait_status

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def clients(book, worker):
    return {code: api_for_token(book.token(code)) for code in ("CLT0001", "CLT0004", "CLT0007")}


def _send(api, isin, rid="r1", side="buy", quantity="500000") -> int:
    r = api.post("/api/rfqs/", rfq_body(isin, rid, side, quantity), format="json")
    assert r.status_code == 202, r.content
    return r.json()["id"]


@pytest.mark.parametrize("code", ["CLT0004", "CLT0007"])
def test_tier2_and_tier3_are_quoted_automatically_and_book(book, clients, code) -> None:
    api = clients[code]
    isin = book.isin("ig_corp", 3)
    rid = _send(api, isin)
    body = wait_status(api, rid, "quoted", timeout=5)
    quote = body["quote"]
    ttl = (timezone.datetime.fromisoformat(quote["valid_until"]) - timezone.now()).total_seconds()
    assert 3 < ttl <= 60
    assert quote["quantity"] == "500000.00"
    mid = Quote.objects.get(id=quote["id"]).mid
    assert Decimal(quote["price"]) > mid  # the client buys at the offer
    before = Position.objects.filter(instrument__isin=isin).values_list("quantity", flat=True).first() or Decimal(0)
    r = api.post(f"/api/rfqs/{rid}/accept/", {"quote_id": quote["id"]}, format="json")
    assert r.status_code == 201
    assert r.json()["price"] == quote["price"] and r.json()["quantity"] == "500000.00"
    again = api.post(f"/api/rfqs/{rid}/accept/", {"quote_id": quote["id"]}, format="json")
    assert again.status_code == 200 and again.json()["trade_id"] == r.json()["trade_id"]
    wait_reconciled(isin, before - Decimal(500000))
    assert api.get(f"/api/rfqs/{rid}/").json()["status"] == "booked"
    assert Trade.objects.filter(rfq_id=rid).count() == 1


def test_the_desk_sees_every_component_of_an_auto_quote(book, clients) -> None:
    rid = _send(clients["CLT0007"], book.isin("hy_corp", 2), side="sell")
    wait_status(clients["CLT0007"], rid, "quoted")
    body = api_for_user(book.user("trader1")).get(f"/api/desk/rfqs/{rid}/").json()
    comps = body["quote"]["components"]
    assert set(comps) == {"base", "liquidity", "volatility", "impact", "hedge", "funding", "uncertainty", "stress",
                          "skew", "axe", "signal", "agreement"}
    assert body["client"] == "CLT0007" and body["tier"] == 3
    mid, price = Decimal(body["quote"]["mid"]), Decimal(body["quote"]["price"])
    # The components add up to the price: the client sells at mid minus their sum.
    total_bp = sum(comps.values())
    assert float(price) == pytest.approx(float(mid) * (1 - total_bp / 1e4), abs=2e-6)
    assert comps["signal"] == 0.0  # no short-term signal for Tier 3
    assert all(str(v) != "-0.0" for v in comps.values())  # a zero shows as 0.0, never as "-0.0"


def test_over_the_automatic_size_tier2_goes_to_review(book, clients) -> None:
    rid = _send(clients["CLT0004"], book.isin(), quantity="2000000")
    body = wait_status(clients["CLT0004"], rid, "pending_review")
    assert "automatic size" in body["reason"]
    assert body["quote"] is None


def test_over_the_maximum_size_or_credit_line_is_declined_with_a_reason(book, clients) -> None:
    rid = _send(clients["CLT0007"], book.isin(), rid="big", quantity="60000000")
    assert "maximum size" in wait_status(clients["CLT0007"], rid, "declined")["reason"]
    Client.objects.filter(code="CLT0004").update(credit_line=Decimal(100000))
    rid = _send(clients["CLT0004"], book.isin(), rid="credit", quantity="500000")
    assert "credit line" in wait_status(clients["CLT0004"], rid, "declined")["reason"]


def test_tier1_review_improve_send_accept(book, clients) -> None:
    api = clients["CLT0001"]
    isin = book.isin("ig_corp", 5)
    rid = _send(api, isin, quantity="25000000")
    wait_status(api, rid, "pending_review")
    senior = api_for_user(book.user("senior1"))
    desk = senior.get(f"/api/desk/rfqs/{rid}/").json()
    rec = desk["recommendation"]
    price = Decimal(rec["price"])
    assert Decimal(rec["ci_low"]) < price < Decimal(rec["ci_high"])
    assert 0 < rec["win_probability"] < 1 and rec["impact_bp"] > 0
    assert price > Decimal(desk["recommendation"]["mid"])
    better = price - Decimal("0.01")
    # A trader (not senior) cannot decide.
    refused = api_for_user(book.user("trader1")).post(f"/api/desk/rfqs/{rid}/decision/",
                                                      {"action": "send"}, format="json")
    assert refused.status_code == 403
    r = senior.post(f"/api/desk/rfqs/{rid}/decision/", {"action": "improve", "price": str(better)}, format="json")
    assert r.status_code == 200, r.content
    body = wait_status(api, rid, "quoted")
    assert Decimal(body["quote"]["price"]) == better
    decision = Decision.objects.get(rfq_id=rid)
    assert decision.decided_by.username == "senior1" and decision.recommended_price == price
    t = api.post(f"/api/rfqs/{rid}/accept/", {"quote_id": body["quote"]["id"]}, format="json")
    assert t.status_code == 201
    again = senior.post(f"/api/desk/rfqs/{rid}/decision/", {"action": "send"}, format="json")
    assert again.status_code == 409


def test_send_quotes_the_recommendation_exactly_and_a_wide_departure_needs_a_reason(book, clients) -> None:
    api = clients["CLT0002"] if "CLT0002" in clients else api_for_token(book.token("CLT0002"))
    rid = _send(api, book.isin("govt", 1), side="sell", quantity="10000000")
    wait_status(api, rid, "pending_review")
    senior = api_for_user(book.user("senior1"))
    rec = Decimal(senior.get(f"/api/desk/rfqs/{rid}/").json()["recommendation"]["price"])
    worse = rec - rec * Decimal("0.002")  # 20 bp lower bid: beyond the 5 bp band
    r = senior.post(f"/api/desk/rfqs/{rid}/decision/", {"action": "worsen", "price": str(worse)}, format="json")
    assert r.status_code == 400 and "reason" in r.json()["errors"]
    wrong_way = senior.post(f"/api/desk/rfqs/{rid}/decision/", {"action": "improve", "price": str(worse)}, format="json")
    assert wrong_way.status_code == 400 and "price" in wrong_way.json()["errors"]
    absurd = senior.post(f"/api/desk/rfqs/{rid}/decision/", {"action": "worsen", "price": "1.0", "reason": "x"}, format="json")
    assert absurd.status_code == 400 and "price" in absurd.json()["errors"]
    assert not Decision.objects.filter(rfq_id=rid).exists()
    r = senior.post(f"/api/desk/rfqs/{rid}/decision/", {"action": "send"}, format="json")
    assert r.status_code == 200
    assert Decimal(wait_status(api, rid, "quoted")["quote"]["price"]) == rec


def test_a_decision_with_a_quantity_that_is_not_a_number_is_a_400_and_decides_nothing(book, clients) -> None:
    api = clients["CLT0001"]
    rid = _send(api, book.isin(), quantity="5000000")
    wait_status(api, rid, "pending_review")
    senior = api_for_user(book.user("senior1"))
    rec = Decimal(senior.get(f"/api/desk/rfqs/{rid}/").json()["recommendation"]["price"])
    for bad in ("NaN", "sNaN", "Infinity", "-Infinity", "abc"):
        r = senior.post(f"/api/desk/rfqs/{rid}/decision/", {"action": "send", "price": str(rec), "quantity": bad},
                        format="json")
        assert r.status_code == 400 and "quantity" in r.json()["errors"], (bad, r.content)
    assert not Decision.objects.filter(rfq_id=rid).exists()
    assert Rfq.objects.get(id=rid).status == "pending_review"


def test_the_recommendation_is_no_quote_a_client_can_accept(book, clients) -> None:
    api = clients["CLT0001"]
    rid = _send(api, book.isin(), quantity="5000000")
    wait_status(api, rid, "pending_review")
    senior = api_for_user(book.user("senior1"))
    rec_id = senior.get(f"/api/desk/rfqs/{rid}/").json()["recommendation"]["quote_id"]
    early = api.post(f"/api/rfqs/{rid}/accept/", {"quote_id": rec_id}, format="json")
    assert early.status_code == 409 and f"Quote {rec_id} was never sent to you" in early.json()["detail"]
    assert senior.post(f"/api/desk/rfqs/{rid}/decision/", {"action": "send"}, format="json").status_code == 200
    live = wait_status(api, rid, "quoted")["quote"]["id"]
    r = api.post(f"/api/rfqs/{rid}/accept/", {"quote_id": rec_id}, format="json")
    assert r.status_code == 409 and f"the RFQ's live quote is {live}" in r.json()["detail"]
    assert not Trade.objects.exists()


def test_decline_tells_the_client(book, clients) -> None:
    api = clients["CLT0001"]
    rid = _send(api, book.isin(), quantity="5000000")
    wait_status(api, rid, "pending_review")
    r = api_for_user(book.user("senior1")).post(f"/api/desk/rfqs/{rid}/decision/",
                                                {"action": "decline", "reason": "axed the other way"}, format="json")
    assert r.status_code == 200
    assert wait_status(api, rid, "declined")["reason"] == "axed the other way"


def test_a_late_accept_is_refused_and_books_nothing(book, clients) -> None:
    api = clients["CLT0007"]
    rid = _send(api, book.isin())
    quote = wait_status(api, rid, "quoted")["quote"]
    Quote.objects.filter(id=quote["id"]).update(valid_until=timezone.now() - timedelta(seconds=1))
    r = api.post(f"/api/rfqs/{rid}/accept/", {"quote_id": quote["id"]}, format="json")
    assert r.status_code == 409 and "expired" in r.json()["detail"]
    assert not Trade.objects.exists()


def test_quotes_and_reviews_expire_on_time(book, clients) -> None:
    api = clients["CLT0007"]
    rid = _send(api, book.isin())
    quote = wait_status(api, rid, "quoted")["quote"]
    Quote.objects.filter(id=quote["id"]).update(valid_until=timezone.now() - timedelta(seconds=1))
    services.expire_due()
    body = api.get(f"/api/rfqs/{rid}/").json()
    assert body["status"] == "expired" and "time-to-live" in body["reason"]
    assert Quote.objects.get(id=quote["id"]).status == "expired"
    t1 = clients["CLT0001"]
    rid1 = _send(t1, book.isin(), rid="t1")
    wait_status(t1, rid1, "pending_review")
    Rfq.objects.filter(id=rid1).update(review_deadline=timezone.now() - timedelta(seconds=1))
    assert services.expire_due() == 1
    assert services.expire_due() == 0  # idempotent
    assert "review deadline" in t1.get(f"/api/rfqs/{rid1}/").json()["reason"]
    late = api_for_user(book.user("senior1")).post(f"/api/desk/rfqs/{rid1}/decision/", {"action": "send"}, format="json")
    assert late.status_code == 409


def test_a_pricing_run_expires_the_quotes_that_fell_due_without_the_sweep(book, clients) -> None:
    """No beat runs here: the run that prices the second RFQ expires the first one's quote."""
    api = clients["CLT0007"]
    first = _send(api, book.isin(), rid="first")
    quote = wait_status(api, first, "quoted")["quote"]
    time.sleep(0.3)  # the first run lingers 50 ms for more RFQs: the second one starts a run of its own
    Quote.objects.filter(id=quote["id"]).update(valid_until=timezone.now() - timedelta(seconds=1))
    second = _send(api, book.isin("govt", 2), rid="second")
    body = wait_status(api, first, "expired", timeout=5)
    assert body["reason"] == "the quote's time-to-live ran out"
    assert Quote.objects.get(id=quote["id"]).status == "expired"
    assert api.get(f"/api/rfqs/{second}/").json()["status"] == "quoted"
    late = api.post(f"/api/rfqs/{first}/accept/", {"quote_id": quote["id"]}, format="json")
    assert late.status_code == 409


def test_the_events_of_an_expiry_carry_the_expired_rfq_as_rest_and_the_desk_show_it(book, clients) -> None:
    """The expiry's events come from the rows its statement returns (PostgreSQL), not a second
    read: the client's `rfq.expired` and the desk's row must still equal the representations."""
    from dealer.desk.selectors import desk_rfq_payload, rfq_payload, rfqs_with_related
    from dealer.events import Outbox

    api = clients["CLT0007"]
    ids = [_send(api, book.isin(), rid="x1"), _send(api, book.isin("govt", 1), rid="x2", side="sell")]
    for rid in ids:
        wait_status(api, rid, "quoted")
    time.sleep(0.5)  # the pricing run lingers 50 ms for more RFQs, expiring as it goes: let it end
    Quote.objects.filter(rfq_id__in=ids).update(valid_until=timezone.now() - timedelta(seconds=1))
    outbox = Outbox()
    outbox.open = True
    assert services.expire_due(reviews=False, outbox=outbox) == 2
    held = outbox.drain()
    client_events = [(g, m) for g, m in held if g.startswith("client.")]
    desk_rows = [m["rfq"] for g, m in held if g == "desk"]
    assert [m["rfq"]["id"] for _, m in client_events] == ids
    for rfq in rfqs_with_related().select_related("recommendation", "claimed_by").filter(id__in=ids):
        group, message = next((g, m) for g, m in client_events if m["rfq"]["id"] == rfq.id)
        assert group == f"client.{rfq.client_id}" and message["type"] == "rfq.expired"
        assert message["rfq"] == rfq_payload(rfq) and message["rfq"]["status"] == "expired"
        assert next(row for row in desk_rows if row["id"] == rfq.id) == desk_rfq_payload(rfq)
    assert services.expire_due(reviews=False, outbox=outbox) == 0 and outbox.drain() == []


def test_a_runs_expiry_passes_look_back_only_to_their_last_pass_and_the_sweep_catches_the_rest(book, clients) -> None:
    api = clients["CLT0007"]
    ids = [_send(api, book.isin(), rid=f"w{k}") for k in range(3)]
    for rid in ids:
        wait_status(api, rid, "quoted")
    time.sleep(0.5)  # the pricing run lingers 50 ms for more RFQs, expiring as it goes: let it end
    expiry = services.QuoteExpiry()
    now = timezone.now()
    Quote.objects.filter(rfq_id=ids[0]).update(valid_until=now - timedelta(seconds=1))
    assert expiry.expire(limit=10) == 1  # the first pass looks at every quote due
    assert Rfq.objects.get(id=ids[0]).status == "expired"
    # Behind the mark (only a test moves a time-to-live back so far): the next pass does not see it...
    Quote.objects.filter(rfq_id=ids[1]).update(valid_until=now - timedelta(seconds=5))
    # ...a quote that ran out since the last pass, it does.
    Quote.objects.filter(rfq_id=ids[2]).update(valid_until=timezone.now())
    assert expiry.expire(limit=10) == 1
    assert [Rfq.objects.get(id=i).status for i in ids] == ["expired", "quoted", "expired"]
    assert services.expire_due() == 1  # the beat sweep looks at every quote due
    assert Rfq.objects.get(id=ids[1]).status == "expired"


def test_reject_frees_the_quote(book, clients) -> None:
    api = clients["CLT0007"]
    rid = _send(api, book.isin())
    quote = wait_status(api, rid, "quoted")["quote"]
    r = api.post(f"/api/rfqs/{rid}/reject/")
    assert r.status_code == 200 and r.json()["status"] == "rejected"
    late = api.post(f"/api/rfqs/{rid}/accept/", {"quote_id": quote["id"]}, format="json")
    assert late.status_code == 409
    assert Client.objects.get(code="CLT0007").credit_used == 0


def test_a_reject_after_the_time_to_live_is_refused_as_an_accept_is(book, clients) -> None:
    api = clients["CLT0007"]
    rid = _send(api, book.isin())
    quote = wait_status(api, rid, "quoted")["quote"]
    Quote.objects.filter(id=quote["id"]).update(valid_until=timezone.now() - timedelta(milliseconds=50))
    r = api.post(f"/api/rfqs/{rid}/reject/")
    assert r.status_code == 409 and "expired" in r.json()["detail"]
    assert Rfq.objects.get(id=rid).status == "quoted"
    services.expire_due()
    body = api.get(f"/api/rfqs/{rid}/").json()
    assert body["status"] == "expired" and "time-to-live" in body["reason"]


def test_a_quote_of_another_rfq_is_refused(book, clients) -> None:
    api = clients["CLT0007"]
    a = _send(api, book.isin(), rid="a")
    b = _send(api, book.isin(), rid="b")
    qa = wait_status(api, a, "quoted")["quote"]["id"]
    wait_status(api, b, "quoted")
    r = api.post(f"/api/rfqs/{b}/accept/", {"quote_id": qa}, format="json")
    assert r.status_code == 400 and "quote_id" in r.json()["errors"]
    assert api.post(f"/api/rfqs/{b}/accept/", {"quote_id": "x"}, format="json").status_code == 400
    assert not Trade.objects.exists()


def test_the_kill_switch_stops_automatic_quoting_and_is_audited(book, clients) -> None:
    senior = api_for_user(book.user("senior1"))
    refused = api_for_user(book.user("trader1")).post("/api/desk/switches/", {"name": "kill", "scope": "desk", "on": True}, format="json")
    assert refused.status_code == 403
    r = senior.post("/api/desk/switches/", {"name": "kill", "scope": "ig_corp", "on": True, "reason": "bad data"}, format="json")
    assert r.status_code == 200 and r.json()["changed_by"] == "senior1" and r.json()["on"] is True
    api = clients["CLT0007"]
    killed = _send(api, book.isin("ig_corp"), rid="k1")
    assert "kill switch" in wait_status(api, killed, "pending_review")["reason"]
    other = _send(api, book.isin("govt"), rid="k2")
    wait_status(api, other, "quoted")
    for body in ({"name": "kill", "scope": "ig_corp", "on": False}, {"name": "kill", "scope": "ig_corp", "on": False, "reason": " "}):
        refused = senior.post("/api/desk/switches/", body, format="json")  # off needs its own reason too
        assert refused.status_code == 400 and "reason" in refused.json()["errors"], refused.content
    assert Switch.objects.get(name="kill", scope="ig_corp").on is True
    off = senior.post("/api/desk/switches/", {"name": "kill", "scope": "ig_corp", "on": False, "reason": "prints fixed"},
                      format="json")
    assert off.status_code == 200 and off.json()["reason"] == "prints fixed"
    again = _send(api, book.isin("ig_corp"), rid="k3")
    wait_status(api, again, "quoted")
    switch = Switch.objects.get(name="kill", scope="ig_corp")
    assert switch.history.count() == 2
    listing = senior.get("/api/desk/switches/").json()["results"]
    assert {"name": "kill", "scope": "ig_corp"}.items() <= next(s for s in listing if s["scope"] == "ig_corp").items()
    assert senior.post("/api/desk/switches/", {"name": "kill", "scope": "nowhere", "on": True, "reason": "x"},
                       format="json").status_code == 400


def test_a_worker_killed_mid_pricing_strands_nothing(book, clients) -> None:
    from dealer.desk.pricing_service import claim_waiting

    api = clients["CLT0007"]
    # Stop the live worker from taking this RFQ: store it directly, then claim it as a dying worker would.
    data = services.parse_rfq_input(rfq_body(book.isin(), rid="stuck"))
    from django.db import transaction

    with transaction.atomic():
        rfq = Rfq.objects.create(client=Client.objects.get(code="CLT0007"), client_rfq_id="stuck",
                                 instrument_id=__import__("dealer.market.models", fromlist=["Instrument"]).Instrument.objects.get(isin=data.isin).id,
                                 side="buy", quantity=data.quantity, tier=3, received_at=timezone.now())
    claim_waiting()
    assert Rfq.objects.get(id=rfq.id).status == "pricing"
    Rfq.objects.filter(id=rfq.id).update(updated_at=timezone.now() - timedelta(seconds=30))
    assert services.requeue_stuck() == 1
    wait_status(api, rfq.id, "quoted")
    assert Quote.objects.filter(rfq_id=rfq.id).count() == 1


def test_markouts_are_recorded_at_the_horizons(book, clients) -> None:
    api = clients["CLT0007"]
    rid = _send(api, book.isin())
    quote = wait_status(api, rid, "quoted")["quote"]
    trade_id = api.post(f"/api/rfqs/{rid}/accept/", {"quote_id": quote["id"]}, format="json").json()["trade_id"]
    trade = Trade.objects.get(id=trade_id)
    later = trade.booked_at + timedelta(seconds=301)
    assert services.record_markouts(now=later, mids={trade.instrument_id: float(trade.price)}) == 2
    assert services.record_markouts(now=later, mids={trade.instrument_id: float(trade.price)}) == 0
    horizons = sorted(trade.markouts.values_list("horizon_seconds", flat=True))
    assert horizons == [60, 300]
    assert all(abs(m) < 1e-9 for m in trade.markouts.values_list("markout_bp", flat=True))


def test_a_tier_without_parameters_declines_instead_of_pricing_on_defaults(book, clients) -> None:
    from crm.models import TierLimit

    TierLimit.objects.filter(tier__number=3, asset_class__code="hy_corp").delete()
    rid = _send(clients["CLT0007"], book.isin("hy_corp"), rid="noparams")
    body = wait_status(clients["CLT0007"], rid, "declined")
    assert body["reason"] == "Tier 3 has no parameters for hy_corp"
    other = _send(clients["CLT0007"], book.isin("govt"), rid="fine")
    wait_status(clients["CLT0007"], other, "quoted")


def test_the_flat_rows_behind_sweeps_and_pushes_equal_the_rest_representations(book, clients) -> None:
    """`rfq_rows` (what the expiry sweep and every state change publish) gives the same client
    view and desk row as the REST representations, in every state an RFQ can be pushed in."""
    from dealer.desk.selectors import desk_rfq_payload, rfq_payload, rfq_rows, rfqs_with_related

    t3, t1 = clients["CLT0007"], clients["CLT0001"]
    quoted = _send(t3, book.isin(), rid="q")
    booked = _send(t3, book.isin("govt", 1), rid="b", side="sell")
    expired = _send(t3, book.isin("hy_corp", 2), rid="e")
    declined = _send(t3, book.isin(), rid="d", quantity="9000000000")
    review = _send(t1, book.isin("ig_corp", 5), rid="r", quantity="25000000")
    for api, rid in ((t3, quoted), (t3, booked), (t3, expired), (t1, review)):
        wait_status(api, rid, "quoted", "pending_review")
    wait_status(t3, declined, "declined")
    quote = t3.get(f"/api/rfqs/{booked}/").json()["quote"]
    assert t3.post(f"/api/rfqs/{booked}/accept/", {"quote_id": quote["id"]}, format="json").status_code == 201
    Quote.objects.filter(rfq_id=expired).update(valid_until=timezone.now() - timedelta(seconds=1))
    assert services.expire_due() == 1
    senior = api_for_user(book.user("senior1"))
    assert senior.post(f"/api/desk/rfqs/{review}/claim/").status_code in (200, 201)

    ids = [quoted, booked, expired, declined, review]
    rows = {row[2]["id"]: row for row in rfq_rows(ids)}
    assert set(rows) == set(ids)
    statuses = set()
    for rfq in rfqs_with_related().select_related("recommendation", "claimed_by").filter(id__in=ids):
        client_id, status, client_view, desk_row = rows[rfq.id]
        assert (client_id, status) == (rfq.client_id, rfq.status)
        assert client_view == rfq_payload(rfq)
        assert desk_row == desk_rfq_payload(rfq)
        statuses.add(status)
    assert statuses == {"quoted", "booked", "expired", "declined", "pending_review"}
    assert rows[review][3]["claimed_by"] == "senior1" and rows[review][3]["recommendation"]["ci_low"]
    assert rows[booked][2]["trade_id"] == Trade.objects.get(rfq_id=booked).id
