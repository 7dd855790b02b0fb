"""The book page's hedges in headless Chromium: a senior trader sees why and steps in; a trader cannot."""
from __future__ import annotations

from decimal import Decimal

import pytest

from dealer.hedging import services
from dealer.hedging.models import HedgeAction, HedgeOrder
from dealer.market.services import market_tick
from dealer.seeding import seed_closes
from tests.hedging.helpers import book_trade, flat_instrument

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_a_senior_trader_sees_the_hedge_and_cancels_a_schedule(book, login) -> None:
    seed_closes(seed=7)
    market_tick()
    inst = flat_instrument("ig_corp", liquid=True)
    qty = Decimal(int(float(inst.adv) * 0.5 / 1000) * 1000)
    trade = book_trade("CLT0001", inst, "sell", str(qty), senior=book.user("senior1"))
    decision = services.hedge_decide(trade_id=trade.id)
    parent = decision.orders.get(parent__isnull=True)
    page = login("senior1", "/desk/book/")
    row = page.locator(f"#hedges tr[data-hedge-id='{decision.id}']")
    assert "schedule" in row.inner_text() and "large_vs_adv" in row.inner_text()
    page.on("dialog", lambda d: d.accept())
    row.locator(f"button[data-hedge-action='cancel'][data-order='{parent.id}']").click()
    page.wait_for_selector("#hedge-message:has-text('cancel done')")
    parent.refresh_from_db()
    assert parent.status == "cancelled"
    assert not HedgeOrder.objects.filter(parent=parent, status="pending").exists()
    assert HedgeAction.objects.filter(decision=decision, action="cancel", actor__username="senior1").exists()
    trader = login("trader1", "/desk/book/")
    assert trader.locator(f"#hedges tr[data-hedge-id='{decision.id}']").count() == 1
    assert trader.locator("button[data-hedge-action]").count() == 0
