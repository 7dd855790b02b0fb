"""The relationship pages as people read them: amounts with separators, inputs that take "5,000,000",
the settings tables and preview, agreements that end without losing what they priced."""
from __future__ import annotations

import re
from datetime import timedelta
from decimal import Decimal
from html.parser import HTMLParser

import pytest
from django.test import Client as WebClient
from django.utils import timezone

from crm import services
from crm.models import Agreement, Client, CreditLineRequest, TierLimit
from dealer.errors import DeskError
from dealer.market.models import Instrument

pytestmark = pytest.mark.django_db

TODAY = timezone.now().date()


def _web(book, name: str) -> WebClient:
    web = WebClient()
    web.force_login(book.user(name))
    return web


def _post(web: WebClient, code: str, action: str, **data: str):
    return web.post(f"/crm/clients/{code}/{action}/", data)


def _agreement_data(**kw: str) -> dict[str, str]:
    data = {"scope": "all", "value": "", "spread_adjustment_bp": "-1", "max_size": "", "start": str(TODAY),
            "end": str(TODAY + timedelta(days=30))}
    data.update(kw)
    return data


class _Cells(HTMLParser):
    """The rows of one table (by id): each row a list of (tag, attrs, text) cells, inputs as cells of their own."""

    def __init__(self, table_id: str) -> None:
        super().__init__()
        self.table_id, self.depth, self.rows, self.cell = table_id, 0, [], None

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if tag == "table" and a.get("id") == self.table_id:
            self.depth = 1
        elif self.depth and tag == "table":
            self.depth += 1
        if not self.depth:
            return
        if tag == "tr":
            self.rows.append([])
        elif tag in ("th", "td"):
            self.cell = [tag, a, ""]
            self.rows[-1].append(self.cell)
        elif tag == "input":
            self.rows[-1].append(["input", a, ""])

    def handle_endtag(self, tag):
        if self.depth and tag == "table":
            self.depth -= 1
        if tag in ("th", "td"):
            self.cell = None

    def handle_data(self, data):
        if self.depth and self.cell is not None:
            self.cell[2] += data


def _table(html: str, table_id: str) -> list[list[list]]:
    p = _Cells(table_id)
    p.feed(html)
    assert p.rows, f"no table #{table_id}"
    return p.rows


# --------------------------------------------------------------------------- face amounts


@pytest.mark.parametrize("text,amount", [("5000000", "5000000"), ("5,000,000", "5000000"), (" 1,234,567.5 ", "1234567.5"),
                                         ("999", "999")])
def test_face_amounts_accept_plain_and_comma_grouped(text, amount) -> None:
    assert services._money(text, "max_size") == Decimal(amount)


@pytest.mark.parametrize("text", ["5,00,000", "5.000.000", "1e6", "5m", "5 000 000", ",500", "5,000,", "abc"])
def test_other_amount_spellings_are_refused_with_an_example(text) -> None:
    with pytest.raises(DeskError) as exc:
        services._money(text, "max_size")
    assert exc.value.field == "max_size" and "5,000,000" in exc.value.message


def test_every_face_amount_input_of_the_client_page_takes_commas(book) -> None:
    mgmt = _web(book, "mgmt1")
    r = _post(mgmt, "CLT0007", "credit", credit_line="123,456,789", reason="bigger book")
    assert r.status_code == 302
    assert Client.objects.get(code="CLT0007").credit_line == Decimal(123456789)
    r = _post(mgmt, "CLT0007", "agreement", **_agreement_data(max_size="7,500,000"))
    assert r.status_code == 302
    assert Agreement.objects.get(client__code="CLT0007").max_size == Decimal(7500000)
    r = _post(mgmt, "CLT0007", "credit", credit_line="12.345.678")
    assert r.status_code == 400
    assert "such as 5000000 or 5,000,000" in r.content.decode()


def test_amounts_are_shown_with_thousands_separators(book) -> None:
    rm2 = book.user("rm2")
    c = book.client("CLT0007")
    services.credit_line_change(user=book.user("mgmt1"), client=c, credit_line="500000000")
    Client.objects.filter(id=c.id).update(credit_used=Decimal(800000))
    services.credit_line_change(user=rm2, client=book.client("CLT0007"), credit_line="750000000", reason="more")
    services.agreement_create(user=rm2, client=c, scope="all", value=None, spread_adjustment_bp=1, start=TODAY,
                              end=TODAY + timedelta(days=5), max_size="5000000")
    html = _web(book, "mgmt1").get("/crm/clients/CLT0007/").content.decode()
    assert "500,000,000 face (used 800,000)" in html
    assert "<td class=\"num max-size\">5,000,000</td>" in html
    assert re.search(r'<td class="num">750,000,000</td><td>rm2</td>', html)  # the request table
    assert "500,000,000" in html.split('id="audit"')[1]  # the audit
    for raw in ("500000000", "750000000", "5000000.00", "800000 "):
        assert raw not in html.split("<main>")[1], raw
    work = _web(book, "mgmt1").get("/crm/").content.decode()
    assert CreditLineRequest.objects.filter(status="pending").count() == 1
    assert "<td class=\"num\">500,000,000</td><td class=\"num\">750,000,000</td>" in work


def test_the_client_csv_takes_comma_grouped_credit_lines(book) -> None:
    created = services.clients_import_csv(user=book.user("mgmt1"),
                                          text='code,name,tier,credit_line\nNEW01,New One,3,"1,000,000"\n')
    assert created[0].credit_line == Decimal(1000000)
    with pytest.raises(services.CsvImportError) as exc:
        services.clients_import_csv(user=book.user("mgmt1"), text='code,name,tier,credit_line\nNEW02,N,3,"1,0000"\n')
    assert exc.value.errors[0][1] == "credit_line" and "5,000,000" in exc.value.errors[0][2]


# --------------------------------------------------------------------------- agreements


def test_a_sector_is_matched_whatever_its_case_and_stored_as_the_instruments_spell_it(book) -> None:
    sector = Instrument.objects.filter(rfq_enabled=True).exclude(sector="").values_list("sector", flat=True).first()
    typed = sector.upper() if sector != sector.upper() else sector.lower()
    r = _post(_web(book, "rm2"), "CLT0007", "agreement", **_agreement_data(scope="sector", value=typed))
    assert r.status_code == 302
    assert Agreement.objects.get(client__code="CLT0007").value == sector
    issuer = Instrument.objects.exclude(issuer="").values_list("issuer", flat=True).first()
    a = services.agreement_create(user=book.user("rm2"), client=book.client("CLT0007"), scope="issuer",
                                  value=f"  {issuer.lower()} ", spread_adjustment_bp=1, start=TODAY, end=TODAY)
    assert a.value == issuer


def test_an_unknown_sector_lists_the_known_ones(book) -> None:
    r = _post(_web(book, "rm2"), "CLT0007", "agreement", **_agreement_data(scope="sector", value="Energie"))
    assert r.status_code == 400
    html = r.content.decode()
    sectors = sorted(set(Instrument.objects.exclude(sector="").values_list("sector", flat=True)))
    msg = re.search(r'data-field="value">value: ([^<]*)<', html).group(1)
    assert "Unknown sector" in msg and all(s in msg for s in sectors), msg
    assert 'id="values-sector"' in html and f'<option value="{sectors[0]}">' in html  # the form suggests them
    assert not Agreement.objects.exists()


@pytest.mark.parametrize("start,end", [(-10, -1), (-1, -1)])
def test_an_agreement_wholly_in_the_past_is_refused(book, start, end) -> None:
    r = _post(_web(book, "rm2"), "CLT0007", "agreement", **_agreement_data(
        start=str(TODAY + timedelta(days=start)), end=str(TODAY + timedelta(days=end))))
    assert r.status_code == 400
    html = r.content.decode()
    assert 'data-field="end">end: ' in html and "must end today" in html
    assert "applies from the next RFQ" not in html
    assert not Agreement.objects.exists()


def test_the_api_refuses_an_agreement_in_the_past_naming_end(book) -> None:
    from tests.desk.helpers import api_for_user

    r = api_for_user(book.user("rm2")).post("/api/clients/CLT0007/agreements/", {
        "scope": "all", "value": None, "spread_adjustment_bp": 1, "start": str(TODAY - timedelta(days=30)),
        "end": str(TODAY - timedelta(days=2))}, format="json")
    assert r.status_code == 400 and list(r.json()["errors"]) == ["end"]


def test_ending_an_agreement_that_started_today_and_priced_nothing_removes_it(book) -> None:
    a = services.agreement_create(user=book.user("rm2"), client=book.client("CLT0007"), scope="all", value=None,
                                  spread_adjustment_bp=1, start=TODAY, end=TODAY + timedelta(days=5))
    web = _web(book, "rm2")
    r = web.post("/crm/clients/CLT0007/agreement_end/", {"agreement_id": str(a.id)}, follow=True)
    assert r.redirect_chain == [("/crm/clients/CLT0007/", 302)]
    assert not Agreement.objects.filter(id=a.id).exists()
    assert f"Agreement #{a.id} removed: it had not applied to any quote." in r.content.decode()


def test_an_ended_agreement_stays_listed_without_end_or_edit(book) -> None:
    a = services.agreement_create(user=book.user("rm2"), client=book.client("CLT0007"), scope="all", value=None,
                                  spread_adjustment_bp=1, start=TODAY, end=TODAY + timedelta(days=5))
    Agreement.objects.filter(id=a.id).update(start=TODAY - timedelta(days=9), end=TODAY + timedelta(days=5))
    html = _web(book, "rm2").post("/crm/clients/CLT0007/agreement_end/", {"agreement_id": str(a.id)},
                                  follow=True).content.decode()
    a.refresh_from_db()
    assert a.end == TODAY - timedelta(days=1)
    row = re.search(rf'<tr data-agreement-id="{a.id}".*?</tr>', html, re.DOTALL).group(0)
    assert 'data-state="ended"' in row and "js-end-agreement" not in row and "js-edit-agreement" not in row
    assert f"its last day was {a.end}" in html


# --------------------------------------------------------------------------- settings


def test_the_tier_table_has_one_header_with_its_unit_over_each_input(book) -> None:
    html = _web(book, "mgmt1").get("/crm/settings/").content.decode()
    rows = _table(html, "tier-table")
    headers = rows[0][1:]
    assert [h[2].split()[-1] for h in headers] == ["s", "s", "bp", "bp", "bp"]  # units
    for row in rows[1:]:
        inputs = [c for c in row if c[0] == "input"]
        cells = [c for c in row if c[0] == "td"]
        assert len(inputs) == len(cells) == len(headers)
        # Header and input cell share the alignment: both right-aligned (numbers).
        assert all("num" in h[1].get("class", "") for h in headers)
        assert all("num" in c[1].get("class", "") for c in cells)
        assert all("num-input" in i[1]["class"] for i in inputs)
        assert [i[1]["name"].split("_", 1)[1] for i in inputs] == [h[1]["data-col"] for h in headers]


def test_the_asset_class_table_has_sub_headers_and_grouped_amounts(book) -> None:
    html = _web(book, "mgmt1").get("/crm/settings/").content.decode()
    rows = _table(html, "limit-table")
    groups, subs = rows[0], rows[1]
    assert [g[2].strip() for g in groups[1:]] == ["Tier 1", "Tier 2", "Tier 3"]
    assert [s[1]["data-col"] for s in subs] == ["base_spread_bp", "auto_size", "max_size"] * 3
    assert all(re.search(r"(bp|face)$", s[2].strip()) for s in subs)
    lim = TierLimit.objects.select_related("tier", "asset_class").get(tier__number=3, asset_class__code="hy_corp")
    body = {c[1]["name"]: c[1]["value"] for row in rows[2:] for c in row if c[0] == "input"}
    assert body["limit3_hy_corp_max_size"] == f"{lim.max_size:,.0f}"
    assert all(re.fullmatch(r"\d{1,3}(,\d{3})*(\.\d+)?", v) for k, v in body.items() if k.endswith("_size"))
    assert ".00" not in "".join(body.values())
    assert sum(k.endswith("_size") and "," in v for k, v in body.items()) > 0


def test_the_settings_page_saves_comma_grouped_sizes_and_names_a_bad_one(book) -> None:
    from tests.crm.test_scores import _settings_data

    mgmt = _web(book, "mgmt1")
    r = mgmt.post("/crm/settings/", {**_settings_data(limit3_hy_corp_auto_size="750,000"), "action": "save"})
    assert r.status_code == 302
    assert TierLimit.objects.get(tier__number=3, asset_class__code="hy_corp").auto_size == Decimal(750000)
    r = mgmt.post("/crm/settings/", {**_settings_data(limit3_hy_corp_auto_size="75,0000"), "action": "preview"})
    assert r.status_code == 400
    html = r.content.decode()
    assert "Tier 3 · hy_corp · Automatic size (face)" in html
    assert re.search(r'<input name="limit3_hy_corp_auto_size" value="75,0000"[^>]*class="[^"]*invalid', html)


def test_the_preview_lists_the_clients_that_would_change_tier(book) -> None:
    from tests.crm.factories import small_book
    from tests.crm.test_scores import _settings_data

    small_book()
    services.scores_recompute()
    before = dict(Client.objects.values_list("code", "suggested_tier"))
    scores = dict(Client.objects.values_list("code", "score"))
    data = _settings_data(tier1_threshold=60, tier2_threshold=20)
    r = _web(book, "mgmt1").post("/crm/settings/", {**data, "action": "preview"})
    assert r.status_code == 200
    html = r.content.decode()
    preview = services.settings_preview(user=book.user("mgmt1"), data=data)
    assert preview.n_changed > 0
    rows = _table(html, "preview-changes")[1:]
    listed = {row[0][2].strip(): row for row in rows}
    assert len(listed) == preview.n_changed
    for code, row in listed.items():
        c = Client.objects.get(code=code)
        text = [cell[2].strip() for cell in row]
        assert text[1] == c.name and text[3] == str(before[code])
        new = 1 if scores[code] >= 60 else 2 if scores[code] >= 20 else 3
        assert new != before[code] and text[5] == str(new) and text[7] == f"{scores[code]:.1f}"
    assert f"All {preview.n_changed} shown" in html


def test_the_preview_shows_the_first_n_with_the_count(book, monkeypatch) -> None:
    from crm import views
    from tests.crm.factories import small_book
    from tests.crm.test_scores import _settings_data

    small_book()
    services.scores_recompute()
    monkeypatch.setattr(views, "PREVIEW_LIMIT", 1)
    data = _settings_data(tier1_threshold=60, tier2_threshold=20)
    n = services.settings_preview(user=book.user("mgmt1"), data=data).n_changed
    assert n > 1
    html = _web(book, "mgmt1").post("/crm/settings/", {**data, "action": "preview"}).content.decode()
    assert len(_table(html, "preview-changes")) == 2  # the header and one client
    assert f"First 1 of {n} shown" in html


@pytest.mark.django_db(transaction=True)
def test_ending_an_agreement_that_started_today_and_priced_a_quote_keeps_it(book) -> None:
    """It used to be deleted: gone from the page and the API, and the quote it shaped lost its link."""
    from dealer.desk.models import Rfq
    from dealer.desk.pricing_service import price_waiting_rfqs

    client = book.client("CLT0007")
    isin = book.isin("ig_corp", 2)
    a = services.agreement_create(user=book.user("rm2"), client=client, scope="instrument", value=isin,
                                  spread_adjustment_bp=-1, start=TODAY, end=TODAY + timedelta(days=30))
    rfq = Rfq.objects.create(client=client, client_rfq_id="end-today-1", instrument=Instrument.objects.get(isin=isin),
                             side="buy", quantity=Decimal(250000), tier=client.tier.number,
                             received_at=timezone.now())
    price_waiting_rfqs()
    rfq = Rfq.objects.select_related("quote").get(id=rfq.id)
    assert rfq.quote is not None and rfq.quote.agreement_id == a.id

    html = _web(book, "rm2").get("/crm/clients/CLT0007/").content.decode()
    row = re.search(rf'<tr data-agreement-id="{a.id}".*?</tr>', html, re.DOTALL).group(0)
    assert "It has already priced today's quotes" in row and ">End</button>" in row  # what the confirmation will say

    web = _web(book, "rm2")
    r = web.post("/crm/clients/CLT0007/agreement_end/", {"agreement_id": str(a.id)}, follow=True)
    assert r.redirect_chain == [("/crm/clients/CLT0007/", 302)]
    assert f"Agreement #{a.id} ends today ({TODAY})" in r.content.decode()
    a.refresh_from_db()
    assert (a.start, a.end) == (TODAY, TODAY)  # kept as history; dates are inclusive
    rfq.quote.refresh_from_db()
    assert rfq.quote.agreement_id == a.id
    from tests.desk.helpers import api_for_user

    body = api_for_user(book.user("rm2")).get("/api/clients/CLT0007/").json()
    assert [x["id"] for x in body["agreements"]] == [a.id] and body["agreements"][0]["end"] == str(TODAY)
