"""The RM workspace in headless Chromium: the client page draws its score charts with data."""
from __future__ import annotations

from pathlib import Path

import pytest

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
        "--disable-sync"]
ARTIFACTS = Path(__file__).resolve().parents[2] / "artifacts"


def test_the_rm_client_page_shows_the_components_chart(book, live) -> None:
    from playwright.sync_api import sync_playwright

    from crm import services
    from tests.crm.factories import small_book

    small_book()
    services.scores_recompute()
    services.scores_recompute()
    ARTIFACTS.mkdir(exist_ok=True)
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path="/usr/bin/chromium", headless=True, args=ARGS)
        try:
            page = browser.new_page(viewport={"width": 1400, "height": 1600})
            page.goto(f"{live.url}/accounts/login/")
            page.fill("input[name=username]", "rm1")
            page.fill("input[name=password]", "demo")
            page.click("button[type=submit]")
            page.wait_for_url(lambda url: "/accounts/login" not in url)
            page.goto(f"{live.url}/crm/?sort=score&dir=desc")
            assert page.locator("tr[data-client=CLT0001]").count() == 1
            assert page.locator("tr[data-client=CLT0007]").count() == 0
            page.click("a[href='/crm/clients/CLT0001/']")
            page.wait_for_function("() => { const el = document.querySelector('#components-chart.js-plotly-plot');"
                                   " return el && el.data && el.data.length > 0; }", timeout=10000)
            n = page.evaluate("document.querySelector('.js-plotly-plot').data.length")
            assert n > 0
            assert page.evaluate("document.querySelector('#components-chart').data.length") == 4
            # An agreement beyond the tier band is refused with the message at its field.
            page.select_option("#agreement-form select[name=scope]", "all")
            page.fill("#agreement-form input[name=spread_adjustment_bp]", "-50")
            page.fill("#agreement-form input[name=start]", "2030-01-01")
            page.fill("#agreement-form input[name=end]", "2030-02-01")
            page.click("#agreement-submit")
            assert "Tier 1 allows adjustments" in page.locator(
                "#agreement-form .error[data-field=spread_adjustment_bp]").inner_text()
            page.fill("#agreement-form input[name=spread_adjustment_bp]", "-3")
            page.click("#agreement-submit")
            page.wait_for_selector("#agreements tr[data-agreement-id]")
            page.wait_for_function("() => document.querySelector('#components-chart').data.length > 0")
            page.screenshot(path=str(ARTIFACTS / "rm_client.png"), full_page=True)
        finally:
            browser.close()
