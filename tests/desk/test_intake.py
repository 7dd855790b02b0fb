"""RFQ intake over REST: validation, idempotency, the contract's errors, nothing half-written."""
from __future__ import annotations

import json

import pytest

from dealer.desk.models import Rfq
from tests.desk.helpers import api_for_token, api_for_user, rfq_body


@pytest.fixture
def clt(book):
    return api_for_token(book.token("CLT0007"))


def test_intake_answers_202_with_the_rfq_id(book, clt) -> None:
    r = clt.post("/api/rfqs/", rfq_body(book.isin()), format="json")
    assert r.status_code == 202
    body = r.json()
    assert set(body) == {"id", "client_rfq_id", "status"}
    assert body["status"] == "received"
    rfq = Rfq.objects.get(id=body["id"])
    assert rfq.client.code == "CLT0007" and rfq.quantity == 500000 and rfq.tier == 3


def test_a_repeat_returns_the_first_rfq_and_a_changed_repeat_is_409(book, clt) -> None:
    first = clt.post("/api/rfqs/", rfq_body(book.isin()), format="json").json()
    again = clt.post("/api/rfqs/", rfq_body(book.isin()), format="json")
    assert again.status_code == 200
    assert again.json()["id"] == first["id"]
    changed = clt.post("/api/rfqs/", rfq_body(book.isin(), quantity="600000"), format="json")
    assert changed.status_code == 409
    assert "already used" in changed.json()["detail"]
    assert Rfq.objects.filter(client__code="CLT0007").count() == 1


@pytest.mark.parametrize("change,field", [
    ({"isin": "US0000000000"}, "isin"),
    ({"isin": "XX"}, "isin"),
    ({"quantity": "0"}, "quantity"),
    ({"quantity": "-5"}, "quantity"),
    ({"quantity": "10000000000.01"}, "quantity"),
    ({"quantity": "1.234"}, "quantity"),
    ({"quantity": "abc"}, "quantity"),
    ({"quantity": "1e6"}, "quantity"),
    ({"quantity": "1000\n"}, "quantity"),
    ({"quantity": " 1000"}, "quantity"),
    ({"quantity": "\u0661\u0660\u0660"}, "quantity"),  # Arabic-Indic digits: Decimal() reads them, we don't
    ({"quantity": True}, "quantity"),
    ({"side": "hold"}, "side"),
    ({"client_rfq_id": "x" * 65}, "client_rfq_id"),
    ({"client_rfq_id": ""}, "client_rfq_id"),
    ({"price": "100"}, "price"),
])
def test_bad_fields_are_named_and_nothing_is_stored(book, clt, change, field) -> None:
    body = {**rfq_body(book.isin()), **change}
    r = clt.post("/api/rfqs/", body, format="json")
    assert r.status_code == 400, r.content
    assert field in r.json()["errors"]
    assert not Rfq.objects.exists()


def test_a_missing_field_is_named(book, clt) -> None:
    body = rfq_body(book.isin())
    del body["side"]
    r = clt.post("/api/rfqs/", body, format="json")
    assert r.status_code == 400 and r.json()["errors"]["side"]


def test_every_refused_field_is_named_at_once(book, clt) -> None:
    r = clt.post("/api/rfqs/", {"isin": "short", "side": "hold", "quantity": "-1", "price": "100"}, format="json")
    assert r.status_code == 400
    errors = r.json()["errors"]
    assert set(errors) == {"client_rfq_id", "isin", "side", "quantity", "price"}
    assert errors["client_rfq_id"] == ["This field is required."]
    assert not Rfq.objects.exists()


def test_a_hedge_instrument_is_not_open_for_rfqs(book, clt) -> None:
    r = clt.post("/api/rfqs/", rfq_body(book.isin("cds_index", rfq_enabled=False)), format="json")
    assert r.status_code == 400
    assert "not open" in r.json()["errors"]["isin"][0]
    assert not Rfq.objects.exists()


def test_malformed_json_is_a_400_with_detail(book, clt) -> None:
    r = clt.generic("POST", "/api/rfqs/", "{not json", content_type="application/json")
    assert r.status_code == 400
    assert "detail" in r.json()
    assert not Rfq.objects.exists()


def test_an_oversized_body_is_a_json_413(book, clt) -> None:
    body = json.dumps({**rfq_body(book.isin()), "pad": "x" * 70_000})
    r = clt.generic("POST", "/api/rfqs/", body, content_type="application/json")
    assert r.status_code == 413
    assert "64 KB" in r.json()["detail"]
    assert not Rfq.objects.exists()


def test_a_client_never_sees_another_clients_rfq(book, clt) -> None:
    rid = clt.post("/api/rfqs/", rfq_body(book.isin()), format="json").json()["id"]
    other = api_for_token(book.token("CLT0008"))
    assert other.get(f"/api/rfqs/{rid}/").status_code == 404
    assert other.get("/api/rfqs/").json()["count"] == 0
    assert other.post(f"/api/rfqs/{rid}/accept/", {"quote_id": 1}, format="json").status_code == 404


def test_list_filters_by_status_and_since(book, clt) -> None:
    clt.post("/api/rfqs/", rfq_body(book.isin(), rid="a"), format="json")
    clt.post("/api/rfqs/", rfq_body(book.isin(), rid="b"), format="json")
    body = clt.get("/api/rfqs/?status=received").json()
    assert body["count"] == 2 and set(body) == {"count", "next", "previous", "results"}
    assert clt.get("/api/rfqs/?status=quoted").json()["count"] == 0
    assert clt.get("/api/rfqs/?since=2999-01-01").json()["count"] == 0
    assert clt.get("/api/rfqs/?since=yesterday").status_code == 400
    assert clt.get("/api/rfqs/?status=bogus").status_code == 400


@pytest.mark.parametrize("person", ["rm1", "trader1", "senior1", "mgmt1"])
def test_only_api_clients_submit_rfqs(book, person) -> None:
    r = api_for_user(book.user(person)).post("/api/rfqs/", rfq_body(book.isin()), format="json")
    assert r.status_code == 403
    assert not Rfq.objects.exists()


def test_a_wrong_token_is_refused(book) -> None:
    r = api_for_token("0" * 40).post("/api/rfqs/", rfq_body(book.isin()), format="json")
    assert r.status_code == 401


def test_instruments_list_follows_the_contract(book, clt) -> None:
    body = clt.get("/api/instruments/").json()
    assert body["count"] == 500
    first = body["results"][0]
    assert set(first) == {"isin", "description", "asset_class", "currency", "maturity", "coupon", "rfq_enabled"}
    assert clt.get("/api/instruments/?rfq_enabled=false").json()["count"] == 30


def test_create_api_token_prints_the_same_token_until_rotated(book) -> None:
    from io import StringIO

    from django.core.management import call_command

    def token(*args: str) -> str:
        out = StringIO()
        call_command("create_api_token", *args, stdout=out)
        return out.getvalue().strip()

    a, b = token("CLT0011"), token("CLT0011")
    assert a == b and len(a) == 40
    c = token("CLT0011", "--rotate")
    assert c != a
    assert api_for_token(a).get("/api/rfqs/").status_code == 401
    assert api_for_token(c).get("/api/rfqs/").status_code == 200
