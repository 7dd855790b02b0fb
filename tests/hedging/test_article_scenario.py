"""The article's stressed-market scenario end to end, over the API and the real worker."""
from __future__ import annotations

from decimal import Decimal

import pytest

from crm.models import Client, Interest
from dealer.hedging.models import HedgeDecision, HedgeFill
from dealer.market.models import Instrument
from dealer.market.services import market_tick
from dealer.seeding import seed_closes
from tests.desk.helpers import api_for_token, api_for_user, rfq_body, wait_for, wait_status
from tests.hedging.helpers import flat_instrument

pytestmark = pytest.mark.django_db(transaction=True)


def test_stressed_market_tier1_ig_block_is_proxy_hedged_with_the_cds_index(book, worker) -> None:
    seed_closes(seed=7)
    senior = api_for_user(book.user("senior1"))
    assert senior.post("/api/desk/switches/", {"name": "stress", "scope": "desk", "on": True,
                                               "reason": "credit sell-off"}, format="json").status_code == 200
    market_tick()
    inst = flat_instrument("ig_corp", liquid=True)
    Interest.objects.create(client=Client.objects.get(code="CLT0005"), scope="issuer", value=inst.issuer, side="buy")
    client = api_for_token(book.token("CLT0001"))
    rid = client.post("/api/rfqs/", rfq_body(inst.isin, "block", "sell", "50000000"), format="json").json()["id"]
    wait_status(client, rid, "pending_review")
    assert senior.post(f"/api/desk/rfqs/{rid}/decision/", {"action": "send"}, format="json").status_code == 200
    quote = wait_status(client, rid, "quoted")["quote"]
    trade_id = client.post(f"/api/rfqs/{rid}/accept/", {"quote_id": quote["id"]}, format="json").json()["trade_id"]
    decision = wait_for(lambda: HedgeDecision.objects.filter(trade_id=trade_id).first(), timeout=15)
    assert decision.decision == "proxy" and decision.reason.startswith("stressed market"), decision.reason
    hedge = senior.get(f"/api/trades/{trade_id}/hedge/").json()
    classes = {Instrument.objects.get(isin=o["isin"]).asset_class.code for o in hedge["orders"]}
    assert "cds_index" in classes
    cds = next(p for p in decision.figures["proxies"]
               if Instrument.objects.get(isin=p["isin"]).asset_class.code == "cds_index")
    assert "CDX" in cds["description"] or "ITRAXX" in cds["description"]
    position = senior.get(f"/api/positions/?isin={inst.isin}").json()["results"][0]
    assert Decimal(position["quantity"]) == Decimal("50000000")
    assert {"code": "CLT0005", "side": "buy"} in position["interested_clients"]


def test_a_restarted_worker_finishes_orders_without_double_fills(book, worker) -> None:
    from dealer.desk.models import Position
    from dealer.hedging import services
    from dealer.hedging.tasks import work_orders
    from tests.hedging.helpers import book_trade

    seed_closes(seed=7)
    market_tick()
    inst = flat_instrument("govt", liquid=True)
    trade = book_trade("CLT0007", inst, "sell", "300000")
    order = services.hedge_decide(trade_id=trade.id).orders.get()
    # The worker stops, as a killed one would, with work queued and the order partly worked ...
    worker.stop()
    work_orders.delay()
    services.fill_attempt(order_id=order.id)
    # ... and a new worker picks the queued work up.
    worker.start()

    def done() -> bool:
        work_orders.delay()
        order.refresh_from_db()
        return order.status == "filled"

    wait_for(done, timeout=30, interval=0.3)
    fills = HedgeFill.objects.filter(order=order)
    assert sum(f.quantity for f in fills) == order.quantity
    assert len({f.fill_key for f in fills}) == fills.count()
    assert Position.objects.get(instrument=inst).quantity == 0
