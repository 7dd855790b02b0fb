"""Who may read and change a client, through the API and the pages."""
from __future__ import annotations

from datetime import timedelta

import pytest
from django.test import Client as WebClient
from django.utils import timezone

from crm.models import Agreement
from tests.desk.helpers import api_for_token, api_for_user

pytestmark = pytest.mark.django_db

TODAY = timezone.now().date()
BODY = {"scope": "all", "value": None, "spread_adjustment_bp": 1.0, "start": str(TODAY),
        "end": str(TODAY + timedelta(days=10))}


def _web(book, name: str) -> WebClient:
    web = WebClient()
    web.force_login(book.user(name))
    return web


@pytest.mark.parametrize("user,code,read,write", [
    ("rm1", "CLT0001", 200, 201),   # own client
    ("rm1", "CLT0007", 404, 404),   # rm2's client: as if it did not exist
    ("rm2", "CLT0007", 200, 201),
    ("trader1", "CLT0007", 200, 403),
    ("senior1", "CLT0001", 200, 403),
    ("mgmt1", "CLT0007", 200, 201),
])
def test_the_api_permission_matrix(book, user, code, read, write) -> None:
    api = api_for_user(book.user(user))
    assert api.get(f"/api/clients/{code}/").status_code == read
    r = api.post(f"/api/clients/{code}/agreements/", BODY, format="json")
    assert r.status_code == write, r.content
    r = api.post(f"/api/clients/{code}/interests/", {"scope": "sector", "value": "nope", "side": "buy"}, format="json")
    assert r.status_code == (400 if write == 201 else write)


def test_an_api_client_is_refused(book) -> None:
    api = api_for_token(book.token("CLT0001"))
    assert api.get("/api/clients/").status_code == 403
    assert api.get("/api/clients/CLT0001/").status_code == 403
    assert api.post("/api/clients/CLT0001/agreements/", BODY, format="json").status_code == 403
    web = _web(book, "CLT0001")
    assert web.get("/crm/").status_code == 403
    assert web.get("/crm/clients/CLT0001/").status_code == 403


def test_the_list_shows_an_rm_only_their_clients(book) -> None:
    body = api_for_user(book.user("rm1")).get("/api/clients/").json()
    assert {c["code"] for c in body["results"]} == {"CLT0001", "CLT0002", "CLT0003", "CLT0004", "CLT0005"} | {
        c["code"] for c in body["results"] if c["rm"] == "rm1"}
    assert all(c["rm"] == "rm1" for c in body["results"])
    page = _web(book, "rm1").get("/crm/").content.decode()
    assert 'data-client="CLT0001"' in page and 'data-client="CLT0007"' not in page


@pytest.mark.parametrize("user,code,status", [
    ("rm1", "CLT0001", 302), ("rm1", "CLT0007", 404), ("trader1", "CLT0001", 403), ("mgmt1", "CLT0007", 302),
])
def test_the_pages_permission_matrix(book, user, code, status) -> None:
    web = _web(book, user)
    page = web.get(f"/crm/clients/{code}/")
    assert page.status_code == (404 if status == 404 else 200)
    if status != 404:
        assert ('id="agreement-form"' in page.content.decode()) == (status == 302)  # traders see no form
    r = web.post(f"/crm/clients/{code}/agreement/", {**BODY, "value": ""})
    assert r.status_code == status
    assert Agreement.objects.filter(client__code=code).exists() == (status == 302)


def test_settings_are_for_management(book) -> None:
    assert _web(book, "rm1").get("/crm/settings/").status_code == 403
    assert _web(book, "trader1").post("/crm/settings/", {"action": "save"}).status_code == 403
    assert _web(book, "mgmt1").get("/crm/settings/").status_code == 200


def test_a_refused_change_in_the_page_shows_the_message_at_its_field(book) -> None:
    web = _web(book, "rm2")
    r = web.post("/crm/clients/CLT0007/agreement/", {**BODY, "value": "", "spread_adjustment_bp": "-7"})
    assert r.status_code == 400
    html = r.content.decode()
    assert 'data-field="spread_adjustment_bp"' in html and "Tier 3 allows adjustments from -2 to 10 bp" in html
    assert not Agreement.objects.exists()
    r = web.post("/crm/clients/CLT0007/tier/", {"tier": "1", "reason": ""})
    assert r.status_code == 400 and 'data-field="reason"' in r.content.decode()


def test_the_settings_page_previews_then_saves(book) -> None:
    from crm.views import _settings_values

    web = _web(book, "mgmt1")
    data = {k: str(v) for k, v in _settings_values().items()}
    r = web.post("/crm/settings/", {**data, "weight_volume": "40", "action": "preview"})
    assert r.status_code == 400 and "sum to 100" in r.content.decode()
    r = web.post("/crm/settings/", {**data, "action": "preview"})
    assert r.status_code == 200 and 'id="preview-count"' in r.content.decode()
    r = web.post("/crm/settings/", {**data, "tier1_threshold": "75", "action": "save"})
    assert r.status_code == 302


def test_the_desk_reads_the_client_list_and_changes_nothing_from_it(book) -> None:
    page = _web(book, "trader1").get("/crm/").content.decode()
    assert 'data-client="CLT0001"' in page and 'data-client="CLT0007"' in page
    assert "All clients" in page
    assert 'id="recompute"' not in page and "Import clients" not in page
    assert _web(book, "trader1").post("/crm/scores/recompute/").status_code == 403
