"""The book page's hedges in headless Chromium: a senior trader sees why and steps in; a trader cannot."""
from __future__ import annotations

import re
from decimal import Decimal
from typing import Any

import pytest

from dealer.hedging import services
from dealer.hedging.models import HedgeAction, HedgeDecision, HedgeOrder
from dealer.market.services import market_tick
from dealer.seeding import seed_closes
from tests.desk.helpers import api_for_user
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


def _hedge_rows(page: Any) -> int:
    return page.locator("#hedges tbody tr[data-hedge-id]").count()


def test_a_hedge_booked_while_the_page_is_open_appears_without_reload(book, login) -> None:
    """A 30,000,000 HY Tier 1 trade: its proxy hedge, fills and an axe reach the open page over /ws/desk/."""
    seed_closes(seed=7)
    market_tick()
    page = login("senior1", "/desk/book/")
    page.wait_for_selector("#conn.conn.live")
    assert _hedge_rows(page) == 0 and "No open axes" in page.inner_text("#axe-offers")
    loads = page.evaluate("performance.getEntriesByType('navigation').length")

    inst = flat_instrument("hy_corp", liquid=False)
    trade = book_trade("CLT0001", inst, "buy", "30000000", senior=book.user("senior1"))
    row = page.locator(f"#hedges tr[data-trade-id='{trade.id}']")
    row.wait_for()  # the worker decided it and the page heard
    decision = HedgeDecision.objects.get(trade=trade)
    assert decision.decision == "proxy"
    assert row.get_attribute("data-hedge-id") == str(decision.id)
    text = row.inner_text()
    assert "proxy" in text and decision.reason in text
    order = decision.orders.exclude(status="rejected").order_by("id").first()
    # Face amounts with thousands separators, not "25308000.00".
    assert f"{order.quantity:,.0f}" in text and f"{order.quantity:.2f}" not in text

    for _ in range(200):  # the fills move the progress and the order's state on the page
        if services.fill_attempt(order_id=order.id) is not None:
            order.refresh_from_db()
            if order.status == "filled":
                break
    assert order.status == "filled"
    page.wait_for_selector(f"#hedges .hedge-order[data-order-id='{order.id}'][data-status='filled']")
    assert f"filled {order.filled:,.0f}" in page.inner_text(f"#hedges .hedge-order[data-order-id='{order.id}']")

    trader = api_for_user(book.user("trader1"))
    assert trader.post("/api/desk/axes/", {"isin": inst.isin, "side": "sell", "quantity": "5000000", "note": "offer"},
                       format="json").status_code == 201
    page.wait_for_selector(f"#axe-offers tr:has-text('{inst.isin}')")
    assert "5,000,000" in page.inner_text("#axe-offers")
    page.screenshot(path="/tmp/book-live.png", full_page=True)

    # A reconnection re-syncs the hedges over REST (whatever the socket missed while down).
    with page.expect_request(lambda r: "/api/desk/book/?include=hedges" in r.url):
        page.evaluate("window.deskSocket.drop()")
    page.wait_for_selector("#conn.conn.live")
    assert page.evaluate("performance.getEntriesByType('navigation').length") == loads  # never reloaded
    assert not login.js_errors


def test_the_book_page_fits_a_1600px_viewport(book, login) -> None:
    """Long hedge reasons, schedules with many pieces and long switch reasons wrap; nothing spills."""
    seed_closes(seed=7)
    market_tick()
    senior = book.user("senior1")
    for asset_class, liquid, qty in (("ig_corp", True, None), ("hy_corp", False, "30000000"), ("govt", True, "200000")):
        inst = flat_instrument(asset_class, liquid=liquid)
        qty = qty or str(Decimal(int(float(inst.adv) * 0.5 / 1000) * 1000))
        services.hedge_decide(trade_id=book_trade("CLT0001", inst, "sell", qty, senior=senior).id)
    api = api_for_user(senior)
    for scope in ("ig_corp", "hy_corp"):
        assert api.post("/api/desk/switches/", {"name": "kill", "scope": scope, "on": True,
                                                "reason": "Composite prints look stale since the open; " * 4},
                        format="json").status_code == 200
    isin = book.isin("hy_corp", 3)
    assert api.post("/api/desk/axes/", {"isin": isin, "side": "sell", "quantity": "25000000",
                                        "note": "Clients asked twice this week"}, format="json").status_code == 201
    page = login("senior1", "/desk/book/")
    page.set_viewport_size({"width": 1600, "height": 1000})
    page.reload()
    page.wait_for_selector("#conn.conn.live")
    page.wait_for_selector("#hedges tr[data-hedge-id]")
    page.locator("#hedges details.pieces").first.evaluate("d => { d.open = true; }")
    page.screenshot(path="/tmp/book-1600.png", full_page=True)
    widths = page.evaluate("""() => ({
        page: document.documentElement.scrollWidth,
        cards: [...document.querySelectorAll('main .card')].map((c) => [c.id, c.scrollWidth, c.clientWidth]),
    })""")
    assert widths["page"] <= 1600, widths
    for card, scroll, client in widths["cards"]:
        assert scroll <= client + 1, (card, scroll, client)  # no card scrolls sideways: its tables fit
    page.set_viewport_size({"width": 1440, "height": 1000})
    page.screenshot(path="/tmp/book-1440.png", full_page=True)
    text = page.inner_text("#hedges")
    assert re.search(r"\d{1,3}(,\d{3})+ ", text) and not re.search(r"\d{7,}\.\d\d", text)


def test_a_kill_switch_flip_needs_a_reason_and_a_confirmation(book, login) -> None:
    from dealer.desk.models import Switch

    page = login("senior1", "/desk/book/")
    page.wait_for_selector("#conn.conn.live")
    page.select_option("#switch-form select[name=name]", "kill")
    page.select_option("#switch-form select[name=scope]", "ig_corp")
    confirm = page.locator("#switch-confirm")

    page.click('#switch-form button[data-switch="on"]')  # no reason: refused on the page
    page.wait_for_selector("#switch-message.error")
    assert "reason" in page.inner_text("#switch-message") and confirm.is_hidden()
    assert not Switch.objects.filter(name="kill", scope="ig_corp").exists()

    page.fill("#switch-form input[name=reason]", "bad prints")
    page.click('#switch-form button[data-switch="on"]')
    confirm.wait_for()
    assert "Stop automatic quoting for ig_corp? RFQs will go to review." in confirm.inner_text()
    assert "bad prints" in confirm.inner_text()
    page.screenshot(path="/tmp/book-switch-confirm.png")
    page.click("#switch-confirm-no")  # a second thought: nothing sent
    confirm.wait_for(state="hidden")
    assert not Switch.objects.filter(name="kill", scope="ig_corp").exists()

    page.click('#switch-form button[data-switch="on"]')
    page.click("#switch-confirm-yes")
    page.wait_for_selector('#switches tr[data-switch="kill:ig_corp"] .switch-on')
    switch = Switch.objects.get(name="kill", scope="ig_corp")
    assert switch.on and switch.reason == "bad prints" and switch.changed_by.username == "senior1"
    assert page.input_value("#switch-form input[name=reason]") == ""  # never reused for the next flip

    page.click('#switch-form button[data-switch="off"]')  # off needs its own reason
    page.wait_for_selector("#switch-message.error")
    assert confirm.is_hidden() and Switch.objects.get(id=switch.id).on
    page.fill("#switch-form input[name=reason]", "prints fixed")
    page.click('#switch-form button[data-switch="off"]')
    confirm.wait_for()
    assert "Resume automatic quoting for ig_corp?" in confirm.inner_text()
    page.click("#switch-confirm-yes")
    page.wait_for_selector('#switches tr[data-switch="kill:ig_corp"] .switch-off')
    assert list(Switch.objects.get(id=switch.id).history.order_by("history_date").values_list("on", "reason")) == [
        (True, "bad prints"), (False, "prints fixed")]
    # The server refuses a flip without a reason too.
    status = page.evaluate("""async () => {
        try { await Desk.api('/api/desk/switches/', {method: 'POST', body: {name: 'kill', scope: 'desk', on: true, reason: ''}}); return 200; }
        catch (e) { return [e.status, Object.keys(e.body.errors || {})]; } }""")
    assert status == [400, ["reason"]]
    assert not login.js_errors
