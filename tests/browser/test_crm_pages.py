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


# The checks below use the shared fixtures of tests/browser/conftest.py (`login`, with JS errors kept).

_RIGHT_EDGES = """(table) => {
  // For every numeric header: its text's right edge and the right edge of each input in its column.
  const t = document.querySelector(table);
  const heads = Array.from(t.querySelectorAll('thead tr:last-child th[data-col]'));
  const grid = Array.from(t.querySelectorAll('tbody tr')).map(tr => Array.from(tr.querySelectorAll('td')));
  return heads.map((th, k) => {
    const r = document.createRange(); r.selectNodeContents(th);
    const text = r.getBoundingClientRect();
    return {col: th.dataset.col, text: text.right, left: text.left,
            inputs: grid.map(row => { const b = row[k].querySelector('input').getBoundingClientRect();
                                      return [b.left, b.right]; })};
  });
}"""


def test_each_settings_header_sits_over_its_own_input_and_the_preview_names_clients(book, login) -> None:
    from crm import services
    from tests.crm.factories import small_book

    small_book()
    services.scores_recompute()
    page = login("mgmt1", "/crm/settings/")
    for table in ("#tier-table", "#limit-table"):
        cols = page.evaluate(_RIGHT_EDGES, table)
        assert len(cols) == (5 if table == "#tier-table" else 9)
        for c in cols:
            for left, right in c["inputs"]:
                # The header ends where its input ends (both right-aligned in one column), so it is
                # nearer its own input than the next one.
                assert abs(c["text"] - right) <= 2.5, (table, c["col"], c["text"], right)
                assert left - 1 <= c["left"] or c["text"] - c["left"] > right - left, (table, c["col"])
    # Amounts show grouped; one typed plain is grouped when the field is left.
    size = page.locator("input[name=limit3_hy_corp_auto_size]")
    assert "," in size.input_value()
    size.fill("2500000")
    size.blur()
    assert size.input_value() == "2,500,000"
    page.fill("input[name=tier1_threshold]", "60")
    page.fill("input[name=tier2_threshold]", "20")
    page.click("#preview-btn")
    page.wait_for_selector("#preview-changes")
    n = int(page.locator("#preview-count").inner_text())
    codes = page.locator("#preview-changes tbody tr").evaluate_all("rows => rows.map(r => r.dataset.client)")
    assert n > 0 and len(codes) == n and "CLT0003" in codes  # 78.6 -> Tier 1 at a threshold of 60
    page.screenshot(path=str(ARTIFACTS / "crm_settings_preview.png"), full_page=True)
    assert not login.js_errors


def test_the_client_page_dates_its_chart_groups_amounts_and_confirms_before_ending(book, login) -> None:
    from datetime import timedelta

    from django.utils import timezone

    from crm import services
    from crm.models import Agreement, Client, Interest
    from dealer.market.models import Instrument
    from tests.crm.factories import small_book

    small_book()
    services.scores_recompute()  # one score: one point on the charts
    today = timezone.now().date()
    rm1 = Client.objects.get(code="CLT0001").rm
    running = services.agreement_create(user=rm1, client=Client.objects.get(code="CLT0001"), scope="all", value=None,
                                        spread_adjustment_bp=-1, start=today, end=today + timedelta(days=30))
    Agreement.objects.filter(id=running.id).update(start=today - timedelta(days=10))
    services.interest_create(user=rm1, client=Client.objects.get(code="CLT0001"), scope="sector",
                             value=Instrument.objects.exclude(sector="").values_list("sector", flat=True).first(),
                             side="buy")
    page = login("rm1", "/crm/clients/CLT0001/")
    page.wait_for_function("() => { const el = document.querySelector('#score-chart.js-plotly-plot');"
                           " return el && el.data && el.data.length > 0; }")
    ticks = page.locator("#score-chart .xtick text").evaluate_all("els => els.map(e => e.textContent)")
    assert ticks and all(len(t) == 10 and t[4] == "-" and t[7] == "-" for t in ticks), ticks  # YYYY-MM-DD
    assert not any(":" in t for t in ticks)
    assert page.locator("#client-credit").inner_text().count(",") >= 2

    # A sector typed in capitals, suggested by the form, stored as the instruments spell it.
    form = "#agreement-form"
    page.select_option(f"{form} select[name=scope]", "sector")
    assert page.get_attribute(f"{form} input[name=value]", "list") == "values-sector"
    sector = page.locator("#values-sector option").first.get_attribute("value")
    page.fill(f"{form} input[name=value]", sector.upper())
    page.fill(f"{form} input[name=spread_adjustment_bp]", "-2")
    page.fill(f"{form} input[name=max_size]", "5000000")
    page.locator(f"{form} input[name=max_size]").blur()
    assert page.locator(f"{form} input[name=max_size]").input_value() == "5,000,000"
    page.fill(f"{form} input[name=start]", str(today))
    page.fill(f"{form} input[name=end]", str(today + timedelta(days=7)))
    page.click("#agreement-submit")
    page.wait_for_selector("#agreements tr[data-scope=sector]")
    created = Agreement.objects.get(client__code="CLT0001", scope="sector")
    assert created.value == sector and created.max_size == 5_000_000
    assert page.locator(f"#agreements tr[data-agreement-id='{created.id}'] td.max-size").inner_text() == "5,000,000"

    # End asks first: cancelling changes nothing, confirming ends it and keeps it listed.
    row = f"#agreements tr[data-agreement-id='{running.id}']"
    page.click(f"{row} .js-end-agreement")
    box = page.locator(f"{row} .confirm-box")
    assert box.is_visible() and str(today - timedelta(days=1)) in box.inner_text()
    page.screenshot(path=str(ARTIFACTS / "crm_client_confirm.png"), full_page=True)
    page.click(f"{row} .js-confirm-no")
    assert not box.is_visible()
    assert Agreement.objects.get(id=running.id).end == today + timedelta(days=30)
    page.click(f"{row} .js-end-agreement")
    with page.expect_navigation():
        page.click(f"{row} .js-confirm-yes")
    assert Agreement.objects.get(id=running.id).end == today - timedelta(days=1)
    assert page.get_attribute(row, "data-state") == "ended"

    # Removing an interest asks too.
    interest = Interest.objects.get(client__code="CLT0001")
    irow = f"#interests tr[data-interest-id='{interest.id}']"
    page.click(f"{irow} button")
    assert page.locator(f"{irow} .confirm-box").is_visible()
    assert Interest.objects.filter(id=interest.id).exists()
    with page.expect_navigation():
        page.click(f"{irow} .js-confirm-yes")
    assert not Interest.objects.filter(id=interest.id).exists()
    page.screenshot(path=str(ARTIFACTS / "crm_client.png"), full_page=True)
    assert not login.js_errors
