"""Each role lands on its own workspace and is refused the others'."""
from __future__ import annotations

import pytest
from django.test import Client as HttpClient

LANDING = {"rm1": "/crm/", "trader1": "/desk/", "senior1": "/desk/", "mgmt1": "/reports/", "CLT0001": "/api/docs/"}
PAGES = {"/crm/": {"rm1", "mgmt1", "trader1", "senior1"}, "/desk/": {"trader1", "senior1", "mgmt1"}, "/desk/book/": {"trader1", "senior1", "mgmt1"},
         "/reports/": {"rm1", "trader1", "senior1", "mgmt1"}}


def _login(name: str) -> HttpClient:
    http = HttpClient()
    assert http.login(username=name, password="demo")
    return http


@pytest.mark.parametrize("name,landing", LANDING.items())
def test_home_sends_each_person_to_their_workspace(book, name: str, landing: str) -> None:
    r = _login(name).get("/")
    assert r.status_code == 302
    assert r["Location"] == landing


@pytest.mark.parametrize("page,allowed", PAGES.items())
@pytest.mark.parametrize("name", ["rm1", "trader1", "senior1", "mgmt1", "CLT0001"])
def test_workspaces_refuse_the_wrong_role(book, page: str, allowed: set[str], name: str) -> None:
    r = _login(name).get(page)
    assert r.status_code == (200 if name in allowed else 403)


def test_anonymous_visitor_is_sent_to_login(book) -> None:
    r = HttpClient().get("/desk/")
    assert r.status_code == 302
    assert r["Location"].startswith("/accounts/login/")


def test_login_page_renders(book) -> None:
    r = HttpClient().get("/accounts/login/")
    assert r.status_code == 200
    assert b'name="username"' in r.content


def test_management_reads_the_records_in_the_admin_and_changes_none(book) -> None:
    from crm.models import Client

    mgmt = _login("mgmt1")
    index = mgmt.get("/admin/").content.decode()
    assert "/admin/desk/rfq/" in index and "/admin/crm/client/" in index
    client = Client.objects.get(code="CLT0001")
    assert mgmt.get(f"/admin/crm/client/{client.pk}/change/").status_code == 200
    r = mgmt.post(f"/admin/crm/client/{client.pk}/change/", {"name": "Renamed"})
    assert r.status_code == 403
    assert Client.objects.get(pk=client.pk).name == client.name
    assert mgmt.get("/admin/crm/client/add/").status_code == 403
    assert _login("rm1").get("/admin/").status_code == 302  # not staff: sent to the admin's login
