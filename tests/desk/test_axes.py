"""Axes: create, edit, retire through `dealer.desk.axes`, audited, with bad input refused."""
from __future__ import annotations

from decimal import Decimal

import pytest

from dealer.desk import axes
from dealer.desk.models import Axe
from dealer.errors import Conflict, DeskError, Forbidden, NotFound
from tests.desk.helpers import api_for_user

pytestmark = pytest.mark.django_db


def test_a_trader_creates_edits_and_retires_an_axe_and_each_step_is_audited(book) -> None:
    trader = book.user("trader1")
    isin = book.isin("ig_corp", 2)
    axe = axes.axe_create(user=trader, isin=isin, side="buy", quantity="5000000", note="want it back")
    assert axe.active and axe.quantity == Decimal("5000000.00") and axe.created_by == trader
    axes.axe_update(user=book.user("senior1"), axe_id=axe.id, quantity="7500000.50", side="sell")
    axe.refresh_from_db()
    assert (axe.side, axe.quantity) == ("sell", Decimal("7500000.50"))
    axes.axe_retire(user=trader, axe_id=axe.id)
    axe.refresh_from_db()
    assert not axe.active and axe.retired_at is not None
    history = list(axe.history.order_by("history_date"))
    assert [h.history_type for h in history] == ["+", "~", "~"]
    assert [h.history_user.username for h in history] == ["trader1", "senior1", "trader1"]


@pytest.mark.parametrize("quantity", ["0", "-5", "0.00", "abc", "", None, "1e11", "1.234", True])
def test_a_zero_negative_or_malformed_quantity_is_refused(book, quantity) -> None:
    with pytest.raises(DeskError) as exc:
        axes.axe_create(user=book.user("trader1"), isin=book.isin(), side="buy", quantity=quantity)
    assert exc.value.field == "quantity" and exc.value.status == 400
    assert not Axe.objects.exists()


def test_an_unknown_instrument_or_side_is_refused(book) -> None:
    with pytest.raises(DeskError) as exc:
        axes.axe_create(user=book.user("trader1"), isin="XS0000000000", side="buy", quantity="1000000")
    assert exc.value.field == "isin"
    with pytest.raises(DeskError) as exc:
        axes.axe_create(user=book.user("trader1"), isin=book.isin(), side="long", quantity="1000000")
    assert exc.value.field == "side"
    with pytest.raises(DeskError) as exc:
        axes.axe_create(user=book.user("trader1"), isin=book.isin(), side="buy", quantity="1000000", note="x" * 201)
    assert exc.value.field == "note"
    assert not Axe.objects.exists()


def test_retiring_twice_or_editing_a_retired_axe_is_a_conflict(book) -> None:
    trader = book.user("trader1")
    axe = axes.axe_create(user=trader, isin=book.isin(), side="sell", quantity="1000000")
    axes.axe_retire(user=trader, axe_id=axe.id)
    with pytest.raises(Conflict, match="already retired"):
        axes.axe_retire(user=trader, axe_id=axe.id)
    with pytest.raises(Conflict):
        axes.axe_update(user=trader, axe_id=axe.id, quantity="2000000")
    assert axe.history.count() == 2
    with pytest.raises(NotFound):
        axes.axe_retire(user=trader, axe_id=999999)


@pytest.mark.parametrize("who", ["rm1", "mgmt1"])
def test_only_the_desk_manages_axes(book, who) -> None:
    with pytest.raises(Forbidden):
        axes.axe_create(user=book.user(who), isin=book.isin(), side="buy", quantity="1000000")
    r = api_for_user(book.user(who)).post("/api/desk/axes/", {"isin": book.isin(), "side": "buy", "quantity": "1000000"},
                                          format="json")
    assert r.status_code == 403
    assert not Axe.objects.exists()


def test_the_axes_api_speaks_the_contract(book) -> None:
    api = api_for_user(book.user("senior1"))
    isin = book.isin("govt", 0)
    r = api.post("/api/desk/axes/", {"isin": isin, "side": "buy", "quantity": "3000000", "note": "n"}, format="json")
    assert r.status_code == 201 and r.json()["isin"] == isin and r.json()["created_by"] == "senior1"
    axe_id = r.json()["id"]
    bad = api.post("/api/desk/axes/", {"isin": isin, "side": "buy", "quantity": "-1"}, format="json")
    assert bad.status_code == 400 and "quantity" in bad.json()["errors"]
    unknown = api.post("/api/desk/axes/", {"isin": isin, "side": "buy", "quantity": "1", "colour": "red"}, format="json")
    assert unknown.status_code == 400 and "colour" in unknown.json()["errors"]
    assert api.patch(f"/api/desk/axes/{axe_id}/", {"note": "edited"}, format="json").json()["note"] == "edited"
    assert api.post(f"/api/desk/axes/{axe_id}/retire/").status_code == 200
    again = api.post(f"/api/desk/axes/{axe_id}/retire/")
    assert again.status_code == 409 and "already retired" in again.json()["detail"]
    assert api.get("/api/desk/axes/").json()["count"] == 0
    assert api.get("/api/desk/axes/?all=1").json()["count"] == 1
    assert api_for_user(book.user("mgmt1")).get("/api/desk/axes/").status_code == 200
    assert api_for_user(book.user("rm1")).get("/api/desk/axes/").status_code == 403
