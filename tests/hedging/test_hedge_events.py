"""Hedge events reach the desk group after commit, never before and never for a rollback, in the
shapes documented in `dealer.desk.events`: a decision with its orders, fills, and an order
cancelled, re-timed or rejected."""
from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest
from django.db import transaction

from dealer.hedging import services
from dealer.hedging.models import HedgeOrder
from tests.hedging.helpers import book_trade, flat_instrument

DECISION_KEYS = {"type", "decision_id", "trade_id", "decision", "reason", "order_ids"}
FILL_KEYS = {"type", "decision_id", "order_id", "quantity", "price", "filled", "status"}
ORDER_KEYS = {"type", "decision_id", "order_id", "action", "status"}


@pytest.fixture
def sent(monkeypatch: pytest.MonkeyPatch) -> list[tuple[str, dict[str, Any]]]:
    """What the hedging services hand to the publisher, in order."""
    out: list[tuple[str, dict[str, Any]]] = []
    monkeypatch.setattr(services, "publish_many", lambda messages: out.extend(messages))
    return out


def _hedge_events(sent: list[tuple[str, dict[str, Any]]]) -> list[dict[str, Any]]:
    assert all(group == "desk" for group, _ in sent)
    return [m for _, m in sent if m["type"].startswith("hedge")]


def _schedule(desk: Any) -> tuple[Any, HedgeOrder]:
    inst = flat_instrument("ig_corp", liquid=True)
    qty = Decimal(int(float(inst.adv) * 0.5 / 1000) * 1000)
    trade = book_trade("CLT0001", inst, "sell", str(qty), senior=desk.user("senior1"))
    return trade, inst


def test_a_decision_is_published_after_commit_with_its_orders(desk, sent, django_capture_on_commit_callbacks) -> None:
    trade, _ = _schedule(desk)
    with django_capture_on_commit_callbacks() as callbacks:
        decision = services.hedge_decide(trade_id=trade.id)
        assert sent == []  # inside the transaction: nothing yet
    assert sent == []
    for callback in callbacks:
        callback()
    [event] = _hedge_events(sent)
    assert set(event) == DECISION_KEYS
    assert event == {"type": "hedge", "decision_id": decision.id, "trade_id": trade.id, "decision": "schedule",
                     "reason": decision.reason, "order_ids": sorted(decision.orders.values_list("id", flat=True))}
    parent = decision.orders.get(parent__isnull=True)
    assert event["order_ids"][0] == parent.id  # the schedule's parent first, then its pieces


def test_manual_steps_and_fills_are_published_with_the_order_after_the_change(desk, sent,
                                                                              django_capture_on_commit_callbacks) -> None:
    senior = desk.user("senior1")
    trade, _ = _schedule(desk)
    with django_capture_on_commit_callbacks(execute=True):
        decision = services.hedge_decide(trade_id=trade.id)
    parent = decision.orders.get(parent__isnull=True)
    sent.clear()

    with django_capture_on_commit_callbacks(execute=True):
        services.schedule_change_horizon(user=senior, order_id=parent.id, hours=8)
    with django_capture_on_commit_callbacks(execute=True):
        services.schedule_hedge_now(user=senior, order_id=parent.id)
    horizon, now = _hedge_events(sent)
    for event, action in ((horizon, "horizon"), (now, "hedge_now")):
        assert set(event) == ORDER_KEYS
        assert event == {"type": "hedge.order", "decision_id": decision.id, "order_id": parent.id, "action": action,
                         "status": "working"}

    sent.clear()
    piece = parent.children.filter(status="pending").order_by("id").first()
    for _ in range(200):
        with django_capture_on_commit_callbacks(execute=True):
            fill = services.fill_attempt(order_id=piece.id)
        if fill is not None:
            break
    assert fill is not None
    piece.refresh_from_db()
    (_, fill_event), (_, position) = sent[-2:]
    assert set(fill_event) == FILL_KEYS and position["type"] == "position"
    assert fill_event == {"type": "hedge.fill", "decision_id": decision.id, "order_id": piece.id,
                          "quantity": f"{fill.quantity:.2f}", "price": f"{fill.price:.6f}",
                          "filled": f"{piece.filled:.2f}", "status": piece.status}

    sent.clear()
    with django_capture_on_commit_callbacks(execute=True):
        services.order_cancel(user=senior, order_id=parent.id)
    [cancel] = _hedge_events(sent)
    assert cancel == {"type": "hedge.order", "decision_id": decision.id, "order_id": parent.id, "action": "cancel",
                      "status": "cancelled"}


def test_a_rolled_back_step_publishes_nothing(desk, sent, django_capture_on_commit_callbacks) -> None:
    trade, _ = _schedule(desk)
    with django_capture_on_commit_callbacks(execute=True):
        decision = services.hedge_decide(trade_id=trade.id)
    parent = decision.orders.get(parent__isnull=True)
    sent.clear()
    with django_capture_on_commit_callbacks(execute=True), pytest.raises(RuntimeError), transaction.atomic():
        services.order_cancel(user=desk.user("senior1"), order_id=parent.id)
        raise RuntimeError("the request failed after the cancel")
    assert sent == []
    parent.refresh_from_db()
    assert parent.status == "working"
