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
