"""GET /api/reports/profitability/: the contract, the permission matrix, bad input, CSV, query counts."""
from __future__ import annotations

import csv
import io
from datetime import timedelta
from typing import Any

import pytest
from django.utils import timezone
from rest_framework.test import APIClient

from crm.models import Client
from dealer.desk.models import Trade
from tests.desk.helpers import api_for_token, api_for_user

URL = "/api/reports/profitability/"
pytestmark = pytest.mark.django_db


def _range() -> dict[str, str]:
    today = timezone.now().date()
    return {"start": (today - timedelta(days=731)).isoformat(), "end": today.isoformat()}


def test_management_sees_every_client_and_totals_match(seeded: Any) -> None:
    r = api_for_user(seeded.user("mgmt1")).get(URL, {"group_by": "client", **_range()})
    assert r.status_code == 200, r.content
    body = r.json()
    assert set(body) == {"results", "total"}
    assert set(body["results"][0]) == {"key", "trades", "volume", "pnl"}
    assert isinstance(body["results"][0]["volume"], str) and isinstance(body["results"][0]["pnl"], str)
    assert body["total"]["trades"] == Trade.objects.count() == sum(r["trades"] for r in body["results"])
    assert {r["key"] for r in body["results"]} == set(Trade.objects.values_list("client__code", flat=True))


def test_tier_keys_are_integers(seeded: Any) -> None:
    body = api_for_user(seeded.user("mgmt1")).get(URL, {"group_by": "tier", **_range()}).json()
    assert sorted(r["key"] for r in body["results"]) == sorted(set(Trade.objects.values_list("tier", flat=True)))


def test_rm_sees_own_clients_only(seeded: Any) -> None:
    rm1 = seeded.user("rm1")
    body = api_for_user(rm1).get(URL, {"group_by": "client", **_range()}).json()
    mine = set(Client.objects.filter(rm=rm1).values_list("code", flat=True))
    assert body["results"] and {r["key"] for r in body["results"]} <= mine
    assert body["total"]["trades"] == Trade.objects.filter(client__rm=rm1).count()
    rms = api_for_user(rm1).get(URL, {"group_by": "rm", **_range()}).json()
    assert [r["key"] for r in rms["results"]] == ["rm1"]
    other = api_for_user(rm1).get(URL, {"group_by": "client", "client": "CLT0006", **_range()})
    assert other.status_code == 400 and "client" in other.json()["errors"]


@pytest.mark.parametrize("group_by,status", [("tier", 200), ("asset_class", 200), ("client", 403), ("rm", 403)])
def test_traders_see_desk_level_only(seeded: Any, group_by: str, status: int) -> None:
    for name in ("trader1", "senior1"):
        r = api_for_user(seeded.user(name)).get(URL, {"group_by": group_by, **_range()})
        assert r.status_code == status, (name, r.content)


def test_api_clients_and_anonymous_are_refused(seeded: Any) -> None:
    r = api_for_token(seeded.token("CLT0001")).get(URL, {"group_by": "tier"})
    assert r.status_code == 403
    assert APIClient().get(URL, {"group_by": "tier"}).status_code in (401, 403)


@pytest.mark.parametrize("params,field", [
    ({"start": "2025-03-01", "end": "2025-01-01"}, "start"),
    ({"start": "2021-01-01", "end": "2024-01-01"}, "end"),
    ({"group_by": "colour"}, "group_by"),
    ({"group_by": "sector"}, "group_by"),
    ({"tier": "7"}, "tier"),
    ({"client": "NOPE"}, "client"),
    ({"rm": "nobody"}, "rm"),
    ({"asset_class": "equity"}, "asset_class"),
    ({"start": "yesterday"}, "start"),
    ({"colour": "red"}, "colour"),
])
def test_bad_input_names_the_parameter(seeded: Any, params: dict[str, str], field: str) -> None:
    r = api_for_user(seeded.user("mgmt1")).get(URL, {"group_by": "tier", **params})
    assert r.status_code == 400, r.content
    errors = r.json()["errors"]
    assert list(errors) == [field] and errors[field][0]


def test_csv_has_the_contract_header_and_same_rows(seeded: Any) -> None:
    api = api_for_user(seeded.user("mgmt1"))
    r = api.get(URL, {"group_by": "asset_class", "format": "csv", **_range()})
    assert r.status_code == 200 and r["Content-Type"].startswith("text/csv")
    rows = list(csv.reader(io.StringIO(r.content.decode())))
    assert rows[0] == ["key", "trades", "volume", "pnl"]
    js = api.get(URL, {"group_by": "asset_class", **_range()}).json()["results"]
    assert rows[1:] == [[x["key"], str(x["trades"]), x["volume"], x["pnl"]] for x in js]


def test_profitability_query_count_is_pinned(seeded: Any, django_assert_max_num_queries: Any) -> None:
    api = api_for_user(seeded.user("rm1"))
    with django_assert_max_num_queries(6):
        assert api.get(URL, {"group_by": "client", "client": "CLT0001", "asset_class": "ig_corp", **_range()}).status_code == 200
