"""The desk in a real headless Chromium: blotter, Tier 1 review cockpit and book, against the live
ASGI server, the real websocket and the real Celery worker.

Playwright's sync API keeps an event loop on the test thread, so Django's async-safety check is
switched off for these tests (the ORM calls here are the test's own, on its own connection).
"""
from __future__ import annotations

import asyncio
import json
import threading
from datetime import timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
import websockets
from django.utils import timezone

from dealer.desk import services
from dealer.desk.models import Decision, Position, Rfq
from tests.desk.helpers import api_for_token, rfq_body, wait_for, wait_status

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

ROOT = Path(__file__).resolve().parents[2]


def live_feed(page: Any) -> None:
    page.wait_for_selector("#conn.conn.live")


def submit(api: Any, isin: str, rid: str, quantity: str = "20000000", side: str = "buy") -> int:
    r = api.post("/api/rfqs/", rfq_body(isin, rid, side, quantity), format="json")
    assert r.status_code == 202, r.content
    return int(r.json()["id"])


class ClientFeed(threading.Thread):
    """An API client's `/ws/client/` connection in its own thread and event loop."""

    def __init__(self, url: str):
        super().__init__(daemon=True)
        self.url = url
        self.messages: list[dict[str, Any]] = []
        self.ready = threading.Event()
        self.done = threading.Event()

    def run(self) -> None:
        asyncio.run(self._run())

    async def _run(self) -> None:
        async with websockets.connect(self.url) as ws:
            self.ready.set()
            while not self.done.is_set():
                try:
                    self.messages.append(json.loads(await asyncio.wait_for(ws.recv(), 0.2)))
                except TimeoutError:
                    continue

    def first(self, kind: str, rfq_id: int, timeout: float = 10) -> dict[str, Any]:
        return wait_for(lambda: next((m for m in self.messages if m.get("type") == kind and m["rfq"]["id"] == rfq_id), None),
                        timeout)


def test_tier1_rfq_reaches_the_senior_trader_who_improves_and_sends_and_the_client_books(book, live, login) -> None:
    token = book.token("CLT0001")
    api = api_for_token(token)
    isin = book.isin("ig_corp", 5)
    feed = ClientFeed(f"{live.ws_url}/ws/client/?token={token}")
    feed.start()
    assert feed.ready.wait(10)
    blotter = login("senior1", "/desk/")
    live_feed(blotter)
    book_page = blotter.context.new_page()
    book_page.goto(f"{live.url}/desk/book/")
    live_feed(book_page)

    assert book_page.locator(f'#positions tr[data-isin="{isin}"]').count() == 0  # flat before
    rid = submit(api, isin, "b1")
    # The blotter shows it arrive and move to pending review without a reload, with an alert.
    blotter.wait_for_selector(f'#blotter tr[data-rfq-id="{rid}"][data-status="pending_review"]')
    blotter.wait_for_selector(f'.review-alert[data-rfq-id="{rid}"]')
    rec = Rfq.objects.select_related("recommendation").get(id=rid).recommendation
    assert rec is not None
    row_text = blotter.inner_text(f'#blotter tr[data-rfq-id="{rid}"]')
    assert "CLT0001" in row_text and isin in row_text and "20,000,000" in row_text

    # Open the cockpit from the alert: it claims the RFQ and shows the recommendation.
    blotter.click(f'.review-alert[data-rfq-id="{rid}"]')
    blotter.wait_for_url(f"{live.url}/desk/review/{rid}/")
    cockpit = blotter
    cockpit.wait_for_selector("#claim-state.mine")
    live_feed(cockpit)
    assert Rfq.objects.get(id=rid).claimed_by.username == "senior1"
    assert cockpit.get_attribute("#rec-price [data-price]", "data-price") == f"{rec.price:.6f}"
    wp_at_rec = float(cockpit.get_attribute("#at-wp", "data-value"))
    pnl_at_rec = float(cockpit.get_attribute("#at-pnl", "data-value"))
    assert wp_at_rec == pytest.approx(rec.win_probability, rel=1e-4)  # price and components are stored to 6 dp
    assert pnl_at_rec == pytest.approx(rec.expected_pnl, rel=1e-4, abs=0.01)
    cockpit.wait_for_selector("#waterfall .main-svg")
    assert cockpit.locator("#cockpit").get_attribute("data-rfq-id") == str(rid)
    assert cockpit.locator("#deadline").inner_text().endswith("s")
    for action in ("send", "improve", "worsen", "decline"):
        assert cockpit.locator(f'button[data-action="{action}"]').is_enabled()
    shots = [ROOT / "artifacts" / "cockpit.png", ROOT / "docs" / "cockpit.png"]
    for shot in shots:
        shot.parent.mkdir(exist_ok=True)
    cockpit.screenshot(path=str(shots[0]), full_page=True)
    shots[1].write_bytes(shots[0].read_bytes())

    # Improve by 1 bp with the keyboard: the win probability rises as the price moves.
    cockpit.keyboard.press("i")
    cockpit.keyboard.press("i")
    improved = Decimal(cockpit.input_value("#price"))
    assert improved < rec.price
    assert float(cockpit.input_value("#price-bp")) == pytest.approx(1.0, abs=0.01)
    assert float(cockpit.get_attribute("#at-wp", "data-value")) > wp_at_rec
    cockpit.keyboard.press("Enter")
    cockpit.wait_for_selector("#decision-message.ok")
    assert "Quoted" in cockpit.inner_text("#decision-message")
    assert not cockpit.locator('button[data-action="send"]').is_enabled()

    # The client's websocket gets exactly that price; the client accepts.
    quote = feed.first("quote", rid)["rfq"]["quote"]
    assert Decimal(quote["price"]) == improved
    decision = Decision.objects.get(rfq_id=rid)
    assert decision.action == "improve" and decision.decided_by.username == "senior1"
    accepted = api.post(f"/api/rfqs/{rid}/accept/", {"quote_id": quote["id"]}, format="json")
    assert accepted.status_code == 201, accepted.content
    feed.first("trade", rid)
    feed.done.set()

    # The page shows it booked, and the book page (open all along) shows the position moved.
    cockpit.wait_for_selector("#rfq-status.status-booked")
    cockpit.goto(f"{live.url}/desk/")
    cockpit.wait_for_selector(f'#blotter tr[data-rfq-id="{rid}"][data-status="booked"]')
    # The book page shows the desk short on the instrument (hedge fills may already be working it down).
    cell = book_page.wait_for_selector(f'#positions tr[data-isin="{isin}"] td.qty')
    moved = Decimal(cell.get_attribute("data-quantity"))
    assert Decimal(-20000000) <= moved < 0
    assert Position.objects.get(instrument__isin=isin).quantity < 0
    assert login.js_errors == []


def test_decline_from_the_cockpit_tells_the_client(book, live, login) -> None:
    api = api_for_token(book.token("CLT0002"))
    rid = submit(api, book.isin("govt", 1), "d1", quantity="10000000", side="sell")
    wait_status(api, rid, "pending_review")
    page = login("senior1", f"/desk/review/{rid}/")
    page.wait_for_selector("#claim-state.mine")
    page.fill("#reason", "axed the other way")
    page.click('button[data-action="decline"]')  # arms the decline: it ends the client's request
    page.wait_for_selector('button[data-action="decline"].armed')
    assert "Decline RFQ" in page.inner_text("#decision-message")
    assert Rfq.objects.get(id=rid).status == "pending_review"
    page.click('button[data-action="decline"]')
    page.wait_for_selector("#rfq-status.status-declined")
    assert "axed the other way" in page.inner_text("#decision-message")
    body = wait_status(api, rid, "declined")
    assert body["reason"] == "axed the other way"
    assert Decision.objects.get(rfq_id=rid).action == "decline"


def test_keys_act_on_what_the_trader_means_never_on_a_focused_button_or_typed_text(book, live, login) -> None:
    api = api_for_token(book.token("CLT0003"))
    rid = submit(api, book.isin("govt", 2), "k1", quantity="8000000")
    wait_status(api, rid, "pending_review")
    page = login("senior1", f"/desk/review/{rid}/")
    page.wait_for_selector("#claim-state.mine")
    rec = page.input_value("#price")
    # Enter on the focused Decline button presses Decline (which asks to confirm); it never sends.
    page.focus('button[data-action="decline"]')
    page.keyboard.press("Enter")
    page.wait_for_selector('button[data-action="decline"].armed')
    page.keyboard.press("Escape")
    page.wait_for_selector('button[data-action="decline"]:not(.armed)')
    # Letters typed in the price and reason boxes are text, not shortcuts: no decline, no send.
    page.click("#price")
    page.keyboard.type("dsiw")
    page.click("#reason")
    page.keyboard.type("dd sw")
    assert page.input_value("#reason") == "dd sw"
    page.wait_for_timeout(300)
    assert Rfq.objects.get(id=rid).status == "pending_review" and not Decision.objects.filter(rfq_id=rid).exists()
    page.fill("#reason", "")
    # In the price box the arrows nudge, up improving for the client (a client buy: a lower price).
    page.fill("#price", rec)
    page.focus("#price")
    page.keyboard.press("ArrowUp")
    assert float(page.input_value("#price-bp")) == pytest.approx(0.5, abs=0.01)
    assert Decimal(page.input_value("#price")) < Decimal(rec)
    page.keyboard.press("Escape")
    assert page.input_value("#price") == rec
    assert "+-" not in page.inner_text("#at-dep")
    # D on the page arms, a second D declines.
    page.locator("h1").first.click()
    page.keyboard.press("d")
    page.wait_for_selector('button[data-action="decline"].armed')
    assert Rfq.objects.get(id=rid).status == "pending_review"
    page.keyboard.press("d")
    page.wait_for_selector("#rfq-status.status-declined")
    assert Decision.objects.get(rfq_id=rid).action == "decline"
    assert wait_status(api, rid, "declined")["status"] == "declined"
    assert login.js_errors == []


def test_the_blotter_redraws_only_the_rows_an_event_moves_and_shows_the_switches_that_are_on(book, live, login) -> None:
    api = api_for_token(book.token("CLT0007"))
    first = submit(api, book.isin("govt", 0), "f1", quantity="500000")
    wait_status(api, first, "quoted")
    page = login("senior1", "/desk/")
    live_feed(page)
    page.wait_for_selector(f'#blotter tr[data-rfq-id="{first}"][data-status="quoted"]')
    page.evaluate(f"() => {{ document.querySelector('#blotter tr[data-rfq-id=\"{first}\"]').dataset.kept = '1'; }}")
    second = submit(api, book.isin("govt", 1), "f2", quantity="500000")
    page.wait_for_selector(f'#blotter tr[data-rfq-id="{second}"][data-status="quoted"]')
    assert page.get_attribute(f'#blotter tr[data-rfq-id="{first}"]', "data-kept") == "1"  # the same element
    assert page.locator("#blotter tbody tr").first.get_attribute("data-rfq-id") == str(second)  # newest first
    # A countdown never reads "60s": 59.7 s left is 1m00s; a time before today carries its date.
    assert page.evaluate("() => Desk.countdown(new Date(Date.now() + 59700).toISOString())") == "1m00s"
    assert page.evaluate("() => Desk.countdown(new Date(Date.now() + 119700).toISOString())") == "2m00s"
    assert page.evaluate("() => Desk.time('2020-01-02T03:04:05+00:00')") == "2020-01-02 03:04:05"
    # The kill switch on hy_corp shows above the blotter as it is flipped, and goes when it is off.
    assert page.locator("#switch-banner").is_hidden()
    senior = book.user("senior1")
    services.switch_set(user=senior, name="kill", scope="hy_corp", on=True, reason="bad prints")
    banner = page.wait_for_selector('#switch-banner [data-switch="kill:hy_corp"]')
    assert "automatic quoting is stopped for hy_corp" in banner.inner_text() and "bad prints" in banner.inner_text()
    services.switch_set(user=senior, name="kill", scope="hy_corp", on=False, reason="prints fixed")
    page.wait_for_selector('#switch-banner [data-switch="kill:hy_corp"]', state="detached")
    assert page.locator("#switch-banner").is_hidden()
    assert login.js_errors == []


def test_a_price_beyond_the_band_needs_a_reason_and_an_absurd_price_is_refused_in_the_form(book, live, login) -> None:
    api = api_for_token(book.token("CLT0003"))
    rid = submit(api, book.isin("ig_corp", 2), "p1", quantity="5000000")
    wait_status(api, rid, "pending_review")
    page = login("senior1", f"/desk/review/{rid}/")
    page.wait_for_selector("#claim-state.mine")
    page.keyboard.press("Shift+W")  # worsen 5 bp
    page.keyboard.press("w")  # and 0.5 more: beyond the 5 bp band
    assert "required" in page.inner_text("#reason-hint")
    page.click('button[data-action="worsen"]')
    page.wait_for_selector("#decision-message.error")
    assert "reason" in page.inner_text("#decision-message")
    page.fill("#price", "1")
    page.click('button[data-action="worsen"]')
    page.wait_for_function("document.querySelector('#decision-message').textContent.includes('sanity band')")
    assert Rfq.objects.get(id=rid).status == "pending_review"
    assert not Decision.objects.filter(rfq_id=rid).exists()


def test_an_expired_review_shows_expired_and_cannot_be_decided(book, live, login) -> None:
    api = api_for_token(book.token("CLT0001"))
    rid = submit(api, book.isin("ig_corp", 1), "e1", quantity="5000000")
    wait_status(api, rid, "pending_review")
    page = login("senior1", f"/desk/review/{rid}/")
    page.wait_for_selector("#claim-state.mine")
    live_feed(page)
    Rfq.objects.filter(id=rid).update(review_deadline=timezone.now() - timedelta(seconds=1))
    assert services.expire_due() == 1
    page.wait_for_selector("#rfq-status.status-expired")
    assert "Expired" in page.inner_text("#decision-message")
    assert not page.locator('button[data-action="send"]').is_enabled()
    page.keyboard.press("Enter")  # the shortcut changes nothing either
    assert not Decision.objects.filter(rfq_id=rid).exists()
    assert wait_status(api, rid, "expired")["status"] == "expired"


def test_two_senior_traders_race_and_exactly_one_decides(book, live, login) -> None:
    api = api_for_token(book.token("CLT0001"))
    rid = submit(api, book.isin("hy_corp", 0), "r1", quantity="8000000")
    wait_status(api, rid, "pending_review")
    first = login("senior1", f"/desk/review/{rid}/")
    second = login("senior2", f"/desk/review/{rid}/")
    first.wait_for_selector("#claim-state.mine")
    second.wait_for_selector("#claim-state.theirs")
    live_feed(second)
    assert "Claimed by senior1" in second.inner_text("#claim-state")
    assert not second.locator('button[data-action="send"]').is_enabled()
    assert "senior1" in second.inner_text("#decision-message")
    # Both press send at the same moment; the second page's stale click goes to the server anyway.
    second.evaluate("""() => { document.querySelectorAll('#decide-card button').forEach(b => b.disabled = false); }""")
    first.evaluate("() => setTimeout(() => document.querySelector('[data-action=send]').click(), 0)")
    refused = second.evaluate(f"""async () => {{
        try {{ await Desk.api('/api/desk/rfqs/{rid}/decision/', {{method: 'POST', body: {{action: 'send'}}}}); return null; }}
        catch (e) {{ return {{status: e.status, message: e.message}}; }} }}""")
    assert refused is not None and refused["status"] == 409
    first.wait_for_selector("#decision-message.ok")
    second.wait_for_function("document.querySelector('#decision-message').textContent.includes('senior1')")
    assert Decision.objects.filter(rfq_id=rid).count() == 1
    assert Decision.objects.get(rfq_id=rid).decided_by.username == "senior1"
    assert wait_status(api, rid, "quoted")["status"] == "quoted"


@pytest.mark.parametrize("who", ["trader1", "mgmt1"])
def test_someone_who_is_not_a_senior_trader_sees_no_decision_button_and_is_refused(book, live, login, who) -> None:
    api = api_for_token(book.token("CLT0001"))
    rid = submit(api, book.isin("ig_corp", 3), f"n-{who}", quantity="5000000")
    wait_status(api, rid, "pending_review")
    page = login(who, f"/desk/review/{rid}/")
    live_feed(page)
    assert page.locator("[data-action]").count() == 0
    assert "read-only" in page.inner_text("#no-decision")
    assert page.get_attribute("#rec-price [data-price]", "data-price")  # they see the recommendation
    status = page.evaluate(f"""async () => {{
        try {{ await Desk.api('/api/desk/rfqs/{rid}/decision/', {{method: 'POST', body: {{action: 'send'}}}}); return 200; }}
        catch (e) {{ return e.status; }} }}""")
    assert status == 403
    assert Rfq.objects.get(id=rid).status == "pending_review" and Rfq.objects.get(id=rid).claimed_by is None


def test_a_dropped_socket_shows_reconnecting_then_catches_up_over_rest(book, live, login) -> None:
    page = login("trader1", "/desk/")
    live_feed(page)
    # An RFQ the socket never announces: only the re-sync after the reconnection can show it.
    client = book.client("CLT0007")
    from dealer.market.models import Instrument

    silent = Rfq.objects.create(client=client, client_rfq_id="silent", instrument=Instrument.objects.get(isin=book.isin()),
                                side="buy", quantity=Decimal(100000), status="declined", reason="test", tier=3,
                                received_at=timezone.now())
    assert page.locator(f'#blotter tr[data-rfq-id="{silent.id}"]').count() == 0
    page.evaluate("() => window.deskSocket.drop()")
    page.wait_for_selector("#conn.conn.reconnecting")
    assert page.evaluate("() => document.body.classList.contains('desk-stale')")
    page.wait_for_selector("#conn.conn.live")
    page.wait_for_selector(f'#blotter tr[data-rfq-id="{silent.id}"][data-status="declined"]')
    assert page.evaluate("() => window.deskSocket.connections") == 2


def test_the_book_page_manages_axes_and_switches(book, live, login) -> None:
    from dealer.desk.models import Axe, Switch

    isin = book.isin("ig_corp", 4)
    page = login("senior1", "/desk/book/")
    live_feed(page)
    page.fill("#axe-form input[name=isin]", isin)
    page.select_option("#axe-form select[name=side]", "sell")
    page.fill("#axe-form input[name=quantity]", "0")
    page.click("#axe-create")
    page.wait_for_selector("#axe-message.error")
    assert "quantity" in page.inner_text("#axe-message")
    page.fill("#axe-form input[name=quantity]", "7000000")
    page.click("#axe-create")
    page.wait_for_selector("#axe-message.ok")
    axe = Axe.objects.get(instrument__isin=isin)
    row = page.locator(f'#axes tr[data-axe-id="{axe.id}"]')
    row.locator("input[data-field=quantity]").fill("9000000")
    row.locator("button[data-axe=save]").click()
    page.wait_for_function("document.querySelector('#axe-message').textContent.includes('saved')")
    assert Axe.objects.get(id=axe.id).quantity == Decimal(9000000)
    page.locator(f'#axes tr[data-axe-id="{axe.id}"] button[data-axe=retire]').click()
    page.wait_for_function("document.querySelector('#axe-message').textContent.includes('retired')")
    page.wait_for_selector(f'#axes tr[data-axe-id="{axe.id}"]', state="detached")
    assert Axe.objects.get(id=axe.id).active is False and axe.history.count() == 3

    page.select_option("#switch-form select[name=name]", "kill")
    page.select_option("#switch-form select[name=scope]", "hy_corp")
    page.fill("#switch-form input[name=reason]", "bad prints")
    page.click('#switch-form button[data-switch="on"]')
    page.click("#switch-confirm-yes")  # each flip is confirmed (tests/browser/test_hedge_pages.py)
    page.wait_for_selector('#switches tr[data-switch="kill:hy_corp"] .switch-on')
    switch = Switch.objects.get(name="kill", scope="hy_corp")
    assert switch.on and switch.changed_by.username == "senior1" and switch.reason == "bad prints"

    trader = login("trader1", "/desk/book/")
    assert trader.locator("#switch-form").count() == 0 and trader.locator("#axe-form").count() == 1
    status = trader.evaluate("""async () => {
        try { await Desk.api('/api/desk/switches/', {method: 'POST', body: {name: 'kill', scope: 'desk', on: true}}); return 200; }
        catch (e) { return e.status; } }""")
    assert status == 403
    assert not Switch.objects.filter(name="kill", scope="desk", on=True).exists()


def test_the_cockpit_decides_without_its_chart_library_and_asks_for_nothing_missing(book, live, login) -> None:
    """Plotly (4.8 MB) loads beside the page: a slow or failed load never holds the decision."""
    api = api_for_token(book.token("CLT0002"))
    rid = submit(api, book.isin("govt", 3), "c1", quantity="6000000")
    wait_status(api, rid, "pending_review")
    page = login("senior1", "/desk/")
    missing: list[str] = []
    page.on("response", lambda r: missing.append(f"{r.status} {r.url}") if r.status >= 400 else None)
    page.route("**/vendor/plotly.min.js", lambda route: route.abort())
    page.goto(f"{live.url}/desk/review/{rid}/")
    page.wait_for_selector("#claim-state.mine")
    assert page.evaluate("() => !window.Plotly")
    page.keyboard.press("i")
    assert float(page.input_value("#price-bp")) == pytest.approx(0.5, abs=0.01)
    page.keyboard.press("Enter")
    page.wait_for_selector("#rfq-status.status-quoted")
    assert Decision.objects.get(rfq_id=rid).action == "improve"
    assert missing == []  # no 404: the favicon is ours
    assert login.js_errors == []
