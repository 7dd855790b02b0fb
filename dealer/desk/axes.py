"""Writes of the desk's axes: create, edit, retire (audited through `Axe.history`).

An axe says the desk wants to buy or sell an instrument; the pricer reads the active ones
(`dealer.desk.selectors.active_axes`) and improves quotes that move the book toward them.
Traders and senior traders manage axes; everyone else is refused. Each write stamps the
history row with the person (`_history_user`) and publishes `{"type": "axe", "axe": ...}` to
the desk after commit.
"""
from __future__ import annotations

from decimal import Decimal, InvalidOperation
from typing import Any

from django.db import transaction
from django.utils import timezone

from dealer.desk import events
from dealer.desk.models import Axe
from dealer.errors import Conflict, DeskError, Forbidden, NotFound
from dealer.market.models import Instrument
from dealer.roles import SENIOR_TRADER, TRADER, has_role

MAX_AXE_QUANTITY = Decimal("1e10")
NOTE_MAX = 200

__all__ = ["axe_create", "axe_payload", "axe_retire", "axe_update"]


def _require_desk(user: Any) -> None:
    if not has_role(user, TRADER, SENIOR_TRADER):
        raise Forbidden("Only traders and senior traders manage the desk's axes.")


def _side(value: Any) -> str:
    if value not in ("buy", "sell"):
        raise DeskError('Must be "buy" or "sell" (the desk\'s side).', field="side")
    return str(value)


def _quantity(value: Any) -> Decimal:
    if isinstance(value, bool) or value in (None, ""):
        raise DeskError("A face amount is required.", field="quantity")
    try:
        qty = Decimal(str(value).strip())
    except (InvalidOperation, ValueError):
        raise DeskError("Must be a decimal face amount such as \"5000000\".", field="quantity") from None
    if not qty.is_finite() or qty <= 0:
        raise DeskError("Must be greater than 0.", field="quantity")
    if qty > MAX_AXE_QUANTITY:
        raise DeskError("Must be at most 10000000000 (1e10) face.", field="quantity")
    if qty != qty.quantize(Decimal("0.01")):
        raise DeskError("At most 2 decimals.", field="quantity")
    return qty.quantize(Decimal("0.01"))


def _note(value: Any) -> str:
    text = str(value or "").strip()
    if len(text) > NOTE_MAX:
        raise DeskError(f"At most {NOTE_MAX} characters.", field="note")
    return text


def axe_payload(axe: Axe) -> dict[str, Any]:
    inst = axe.instrument
    return {
        "id": axe.id,
        "isin": inst.isin,
        "description": inst.description,
        "asset_class": inst.asset_class.code if inst.asset_class_id else None,
        "side": axe.side,
        "quantity": f"{axe.quantity:.2f}",
        "note": axe.note,
        "active": axe.active,
        "created_by": axe.created_by.username if axe.created_by_id and axe.created_by else None,
        "created_at": axe.created_at.isoformat() if axe.created_at else None,
        "retired_at": axe.retired_at.isoformat() if axe.retired_at else None,
    }


def _publish(axe: Axe) -> None:
    events.desk_event({"type": "axe", "axe": axe_payload(axe)})


@transaction.atomic
def axe_create(*, user: Any, isin: Any, side: Any, quantity: Any, note: Any = "") -> Axe:
    """Create an active axe on an instrument (any instrument the desk holds or hedges with)."""
    _require_desk(user)
    if not isinstance(isin, str) or not isin.strip():
        raise DeskError("This field is required.", field="isin")
    instrument = Instrument.objects.select_related("asset_class").filter(isin=isin.strip()).first()
    if instrument is None:
        raise DeskError(f"Unknown ISIN {isin}.", field="isin")
    axe = Axe(instrument=instrument, side=_side(side), quantity=_quantity(quantity), note=_note(note),
              created_by=user, active=True)
    axe._history_user = user  # type: ignore[attr-defined]
    axe.save()
    _publish(axe)
    return axe


def _locked_active(axe_id: Any) -> Axe:
    """Lock the axe row (`select_for_update`); the caller holds the transaction."""
    try:
        pk = int(axe_id)
    except (TypeError, ValueError):
        raise NotFound("No such axe.") from None
    axe = Axe.objects.select_for_update(of=("self",)).select_related("instrument", "instrument__asset_class", "created_by").filter(
        pk=pk).first()
    if axe is None:
        raise NotFound("No such axe.")
    return axe


@transaction.atomic
def axe_update(*, user: Any, axe_id: Any, side: Any = None, quantity: Any = None, note: Any = None) -> Axe:
    """Change the side, size or note of an active axe; a retired axe cannot be edited."""
    _require_desk(user)
    axe = _locked_active(axe_id)
    if not axe.active:
        raise Conflict(f"Axe {axe.id} was retired at {axe.retired_at.isoformat() if axe.retired_at else '?'}: it cannot be edited.")
    if side is not None:
        axe.side = _side(side)
    if quantity is not None:
        axe.quantity = _quantity(quantity)
    if note is not None:
        axe.note = _note(note)
    axe._history_user = user  # type: ignore[attr-defined]
    axe.save(update_fields=["side", "quantity", "note"])
    _publish(axe)
    return axe


@transaction.atomic
def axe_retire(*, user: Any, axe_id: Any) -> Axe:
    """Retire an active axe (kept, with its history); retiring it again is a Conflict."""
    _require_desk(user)
    axe = _locked_active(axe_id)
    if not axe.active:
        raise Conflict(f"Axe {axe.id} is already retired.")
    axe.active = False
    axe.retired_at = timezone.now()
    axe._history_user = user  # type: ignore[attr-defined]
    axe.save(update_fields=["active", "retired_at"])
    _publish(axe)
    return axe
