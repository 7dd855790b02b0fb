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
        page.goto(f"{live.url}/accounts/login/?next=/reports/")
        page.fill("input[name=username]", "mgmt1")
        page.fill("input[name=password]", "demo")
        page.click("button[type=submit]")
        page.wait_for_url(f"{live.url}/reports/")
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
