"""Management reports in a real headless Chromium: Plotly draws the charts from the embedded
JSON (plotly.js from our own static files), a bar click drills down, and a screenshot is kept."""
from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from django.core.management import call_command

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

ROOT = Path(__file__).resolve().parents[2]
TIMEOUT_MS = 15_000


def _log_in_as_management(page: Any, live: Any) -> None:
    page.goto(f"{live.url}/accounts/login/?next=/reports/")
    page.fill("input[name=username]", "mgmt1")
    page.fill("input[name=password]", "demo")
    page.click("button[type=submit]")
    page.wait_for_url(f"{live.url}/reports/")


def test_reports_draw_plotly_charts_and_drill_down(browser: Any, live: Any) -> None:
    call_command("seed_demo", "--clients", "30", "--trades", "600")
    ctx = browser.new_context(viewport={"width": 1440, "height": 1100})
    ctx.set_default_timeout(TIMEOUT_MS)
    errors: list[str] = []
    page = ctx.new_page()
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    external: list[str] = []
    page.on("request", lambda req: external.append(req.url) if not req.url.startswith(live.url) else None)
    try:
        _log_in_as_management(page, live)
        page.wait_for_function("() => { const g = document.querySelector('.js-plotly-plot');"
                               " return g && g.data && g.data.length > 0 && g.data[0].x.length > 0; }")
        assert page.evaluate("document.querySelector('.js-plotly-plot').data.length") > 0
        assert page.locator(".js-plotly-plot").count() >= 2
        (ROOT / "artifacts").mkdir(exist_ok=True)
        page.screenshot(path=str(ROOT / "artifacts" / "reports.png"), full_page=True)
        # drill down: a tier row leads to the clients behind it
        page.locator("[data-table=profitability] a[data-drill]").first.click()
        page.wait_for_url("**group_by=client**")
        page.wait_for_function("() => document.querySelector('.js-plotly-plot') && "
                               "document.querySelector('.js-plotly-plot').data.length > 0")
        for path in ("/reports/flow/", "/reports/hits/", "/reports/inventory/", "/reports/judgment/"):
            page.goto(f"{live.url}{path}")
            page.wait_for_function("() => document.querySelector('.js-plotly-plot') && "
                                   "document.querySelector('.js-plotly-plot').data.length > 0")
        page.goto(f"{live.url}/reports/flow/")
        page.wait_for_function("() => document.querySelector('.js-plotly-plot').data.length > 0")
        page.screenshot(path=str(ROOT / "artifacts" / "reports_flow.png"), full_page=True)
    finally:
        ctx.close()
    assert not errors, errors
    assert not external, external


def test_report_tables_align_numbers_right_and_show_hedge_pnl(browser: Any, live: Any) -> None:
    """Numbers right-aligned and text left (static/css/reports.css), a Tier 1 decision's prices at
    the desk's precision, and hedge P&L of filled hedges on the profitability page."""
    from datetime import timedelta

    from django.utils import timezone

    from dealer.hedging import services as hedging
    from dealer.market.services import market_tick
    from dealer.reports.services import hedges_catch_up, rollups_apply_trade
    from tests.conftest import Personas
    from tests.hedging.helpers import book_trade, flat_instrument

    call_command("seed_demo", "--clients", "30", "--trades", "600")
    market_tick()
    senior = Personas().user("senior1")
    book_trade("CLT0001", flat_instrument("ig_corp", liquid=True), "buy", "2000000", senior=senior)
    hedges_catch_up()
    trade = book_trade("CLT0007", flat_instrument("govt", liquid=True), "sell", "200000")
    rollups_apply_trade(trade.id)
    order = hedging.hedge_decide(trade_id=trade.id).orders.get()
    for _ in range(200):
        if hedging.fill_attempt(order_id=order.id) is not None:
            break
    hedges_catch_up(now=timezone.now() + timedelta(minutes=1))
    ctx = browser.new_context(viewport={"width": 1600, "height": 1100})
    ctx.set_default_timeout(TIMEOUT_MS)
    page = ctx.new_page()
    try:
        _log_in_as_management(page, live)
        page.goto(f"{live.url}/reports/?group_by=client")
        align = page.evaluate("""() => {
            const t = document.querySelector('[data-table=profitability] tbody tr');
            const cs = (el) => getComputedStyle(el).textAlign;
            return [cs(t.cells[0]), cs(t.cells[2]), cs(document.querySelector('[data-table=profitability] th[data-col=volume]'))];
        }""")
        assert align == ["left", "right", "right"], align
        row = page.locator("[data-table=profitability] tbody tr", has_text="CLT0007")
        hedge = row.locator("td").nth(6).inner_text()
        assert hedge not in ("0", "\u2014"), hedge
        (ROOT / "artifacts").mkdir(exist_ok=True)
        page.screenshot(path=str(ROOT / "artifacts" / "reports_profitability_clients.png"), full_page=True)
        page.goto(f"{live.url}/reports/judgment/")
        rec = page.locator("[data-table=decisions] tbody tr").first.locator("td").nth(7).inner_text()
        assert len(rec.split(".")[1]) >= 4, rec
        page.screenshot(path=str(ROOT / "artifacts" / "reports_judgment.png"), full_page=True)
    finally:
        ctx.close()
