"""Report pages render for each role with charts and CSV downloads; bad filters show a message."""
from __future__ import annotations

import csv
import io
import json
import re
from typing import Any

import pytest
from django.test import Client as HttpClient

from dealer.desk.models import Trade
from tests.desk.helpers import external_assets

pytestmark = pytest.mark.django_db
PAGES = ["/reports/", "/reports/flow/", "/reports/hits/", "/reports/judgment/", "/reports/inventory/"]


def _login(seeded: Any, name: str) -> HttpClient:
    c = HttpClient()
    c.force_login(seeded.user(name))
    return c


def _charts(html: str) -> list[dict[str, Any]]:
    m = re.search(r'<script id="report-charts" type="application/json">(.*?)</script>', html, re.S)
    assert m
    return json.loads(m.group(1))


@pytest.mark.parametrize("path", PAGES)
def test_management_pages_have_charts_tables_and_csv(seeded: Any, path: str, django_assert_max_num_queries: Any) -> None:
    c = _login(seeded, "mgmt1")
    with django_assert_max_num_queries(25):
        r = c.get(path)
    assert r.status_code == 200
    html = r.content.decode()
    assert "/static/vendor/plotly.min.js" in html and external_assets(html) == []
    assert "last brought up to date" in html
    charts = _charts(html)
    assert charts and all(ch["figure"]["data"] for ch in charts[:1])
    names = re.findall(r'data-csv="([a-z_]+)"', html)
    assert names
    for name in names:
        d = c.get(path, {"format": "csv", "table": name})
        assert d.status_code == 200 and d["Content-Type"].startswith("text/csv"), (path, name)


def test_drill_down_from_tier_to_clients_to_trades(seeded: Any) -> None:
    c = _login(seeded, "mgmt1")
    r = c.get("/reports/", {"group_by": "tier"})
    html = r.content.decode()
    link = re.search(r'<a href="([^"]+)" data-drill>1</a>', html)
    assert link, "tier 1 row links to its clients"
    clients = c.get(link.group(1).replace("&amp;", "&"))
    assert clients.status_code == 200
    client_link = re.search(r'<a href="([^"]+trades=1[^"]*)" data-drill>(CLT\d+)</a>', clients.content.decode())
    assert client_link
    trades = c.get(client_link.group(1).replace("&amp;", "&"))
    assert trades.status_code == 200 and 'data-table="trades"' in trades.content.decode()
    code = client_link.group(2)
    d = c.get(client_link.group(1).replace("&amp;", "&") + "&format=csv&table=trades")
    rows = list(csv.reader(io.StringIO(d.content.decode())))
    assert rows[0][:3] == ["id", "booked_at", "client"] and all(row[2] == code for row in rows[1:])
    assert 0 < len(rows) - 1 <= min(50, Trade.objects.filter(client__code=code).count())


def test_bad_filter_shows_a_message_not_an_error_page(seeded: Any) -> None:
    r = _login(seeded, "mgmt1").get("/reports/flow/", {"start": "2025-05-01", "end": "2025-01-01"})
    assert r.status_code == 400
    assert 'data-error-field="start"' in r.content.decode() and "reversed" in r.content.decode()


def test_page_permissions(seeded: Any) -> None:
    assert _login(seeded, "trader1").get("/reports/", {"group_by": "client"}).status_code == 403
    assert _login(seeded, "trader1").get("/reports/", {"group_by": "asset_class"}).status_code == 200
    rm = _login(seeded, "rm1").get("/reports/", {"group_by": "client"}).content.decode()
    codes = set(re.findall(r"data-drill>(CLT\d+)<", rm))
    from crm.models import Client

    mine = set(Client.objects.filter(rm__username="rm1").values_list("code", flat=True))
    assert codes and codes <= mine and "CLT0006" not in codes
    api_user = HttpClient()
    api_user.force_login(seeded.user("CLT0001"))
    assert api_user.get("/reports/").status_code == 403
    assert HttpClient().get("/reports/").status_code == 302


def _cells(html: str, table: str) -> tuple[list[str], list[list[str]]]:
    """(header labels, rows of cell texts) of one report table on the page."""
    m = re.search(rf'data-table="{table}".*?<table class="rtable">(.*?)</table>', html, re.S)
    assert m, table
    from html import unescape

    head = [unescape(re.sub(r"<[^>]+>", "", h)) for h in re.findall(r"<th[^>]*>(.*?)</th>", m.group(1), re.S)]
    rows = [[unescape(re.sub(r"<[^>]+>", "", c)) for c in re.findall(r"<td[^>]*>(.*?)</td>", tr, re.S)]
            for tr in re.findall(r"<tr[^>]*>(.*?)</tr>", m.group(1).split("<tbody>")[1], re.S)]
    return head, rows


def test_tables_read_as_figures_and_csv_keeps_the_raw_values(seeded: Any) -> None:
    from datetime import timedelta

    from django.utils import timezone

    c = _login(seeded, "mgmt1")
    today = timezone.now().date()
    q = {"start": (today - timedelta(days=700)).isoformat(), "end": today.isoformat(), "group_by": "client"}
    html = c.get("/reports/", q).content.decode()
    head, rows = _cells(html, "profitability")
    assert head[:4] == ["Client", "Trades", "Volume (face)", "Client P&L"] and "Hedge P&L" in head
    assert "spread_pnl" not in head and "Spread capture" in head
    from datetime import datetime, time, timezone as dt_tz

    from django.db.models import Sum

    lo = datetime.combine(today - timedelta(days=700), time.min, tzinfo=dt_tz.utc)
    total = Trade.objects.filter(booked_at__gte=lo).aggregate(v=Sum("quantity"))["v"]
    assert rows[-1][0] == "Total" and rows[-1][2] == f"{total:,.0f}"  # 4,405,636,000 not 4405636000.00
    assert all(re.fullmatch(r"[+-][\d,]+|0", r[3]) for r in rows), [r[3] for r in rows]  # signed P&L
    assert 'class="num"' in html and 'class="txt"' in html and "css/reports.css" in html
    # CSV: the column codes and the raw values, as before
    d = c.get("/reports/", {**q, "format": "csv", "table": "profitability"}).content.decode()
    lines = list(csv.reader(io.StringIO(d)))
    assert lines[0][:4] == ["key", "trades", "volume", "pnl"]
    assert lines[-1][2] == str(total) and "," not in lines[-1][2]
    # the trades behind a client: prices with the desk's precision, times in UTC
    t = Trade.objects.select_related("client").order_by("-booked_at", "-id").first()
    trades = c.get("/reports/", {**q, "client": t.client.code, "trades": "1"}).content.decode()
    head, rows = _cells(trades, "trades")
    row = next(r for r in rows if r[0] == str(t.id))
    price = row[head.index("Price")]
    assert price in (f"{t.price:,.4f}", f"{t.price:,.5f}", f"{t.price:,.6f}") and float(price.replace(",", "")) == float(t.price)
    assert row[head.index("Face")] == f"{t.quantity:,.0f}"
    assert row[head.index("Booked")] == t.booked_at.astimezone(__import__("datetime").timezone.utc).strftime("%Y-%m-%d %H:%M:%S UTC")
    raw = list(csv.reader(io.StringIO(c.get("/reports/", {**q, "client": t.client.code, "trades": "1", "format": "csv",
                                                           "table": "trades"}).content.decode())))
    raw_row = next(r for r in raw[1:] if r[0] == str(t.id))
    assert raw_row[raw[0].index("price")] == str(t.price) and raw_row[raw[0].index("booked_at")] == t.booked_at.isoformat()


def test_judgment_and_hit_pages_show_prices_percentages_and_no_python_literals(seeded: Any) -> None:
    from dealer.desk.models import Decision
    from dealer.market.services import market_tick
    from tests.hedging.helpers import book_trade, flat_instrument

    market_tick()
    book_trade("CLT0001", flat_instrument("ig_corp", liquid=True), "buy", "2000000", senior=seeded.user("senior1"))
    c = _login(seeded, "mgmt1")
    html = c.get("/reports/judgment/").content.decode()
    head, rows = _cells(html, "decisions")
    assert rows and "Recommended price" in head and "rfq_id" not in head
    row = next(r for r in rows if r[head.index("Recommended price")] != "\u2014")
    d = Decision.objects.filter(rfq_id=int(row[0])).order_by("-decided_at").first()
    rec = row[head.index("Recommended price")]
    assert re.fullmatch(r"[\d,]+\.\d{4,6}", rec) and float(rec.replace(",", "")) == float(d.recommended_price)
    assert re.fullmatch(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d UTC", row[head.index("Decided")])
    assert row[head.index("Traded")] in ("yes", "no")
    cells = [x for _, rs in [_cells(html, n) for n in ("actions", "decisions")] for r in rs for x in r]
    assert not {"None", "True", "False"} & set(cells)
    hits = c.get("/reports/hits/").content.decode()
    head, rows = _cells(hits, "by_tier")
    assert head == ["Tier", "Quoted", "Won", "Hit ratio"]
    assert rows and all(re.fullmatch(r"\d{1,3}\.\d%", r[3]) for r in rows), rows
