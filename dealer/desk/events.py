"""The shapes of every realtime message, in one place.

Groups: `desk` (traders and management: every RFQ event), `review` (senior traders: review
requests and decisions), `client.<client id>` (one API client: its own RFQs).

Client messages (`/ws/client/`), each `{"type": ..., "rfq": <REST representation>}`:
`rfq.received`, `quote`, `rfq.declined`, `rfq.expired`, `trade` (plus `rfq.rejected`).

Desk messages (`/ws/desk/`): `{"type": "rfq", "rfq": <desk row>}` for every state change,
`{"type": "review.request", "rfq": <desk row with recommendation>}`,
`{"type": "review.claimed", "rfq_id", "by"}`, `{"type": "review.decision", "rfq_id", "action", "by"}`,
`{"type": "position", "position": {...}}`, `{"type": "switch", "switch": {...}}`,
`{"type": "axe", "axe": {...}}`.

Hedges (`desk`, after the commit that made the change; `dealer.hedging.services`), ids the hedge
decision's (`decision_id`, the book page's `data-hedge-id`), its trade's and the order's; amounts
face as decimal strings, prices clean per 100:
- `{"type": "hedge", "decision_id", "trade_id", "decision": "offset" | "schedule" | "proxy" |
  "internalize" | "hold", "reason", "order_ids": [...]}`: a decision made, with the orders it
  created (a schedule's parent first, then its pieces).
- `{"type": "hedge.fill", "decision_id", "order_id", "quantity", "price", "filled", "status"}`:
  one fill of an order (`filled` its total so far, `status` "working" or "filled"); a `position`
  message follows.
- `{"type": "hedge.order", "decision_id", "order_id", "action": "cancel" | "reject" | "horizon" |
  "hedge_now", "status"}`: a senior trader cancelled an order (a schedule's unfilled pieces with
  it), re-timed a schedule (`horizon`: over a new horizon; `hedge_now`: its remainder released
  now; the schedule's pending pieces are replaced by new ones), or no venue filled the order
  (`reject`); `status` is the order's after the change.
"""
from __future__ import annotations

from typing import Any

from dealer.events import publish_on_commit

CLIENT_TYPES = {
    "received": "rfq.received",
    "quoted": "quote",
    "declined": "rfq.declined",
    "expired": "rfq.expired",
    "booked": "trade",
    "rejected": "rfq.rejected",
}


def client_group(client_id: int) -> str:
    return f"client.{client_id}"


def rfq_changed_messages(client_id: int, status: str, client_payload: dict[str, Any],
                         desk_row: dict[str, Any]) -> list[tuple[str, dict[str, Any]]]:
    """The (group, message) pairs of one RFQ state change: its client (when the client has a
    message for it), the desk, and the review group for a review request."""
    out = []
    client_type = CLIENT_TYPES.get(status)
    if client_type:
        out.append((client_group(client_id), {"type": client_type, "rfq": client_payload}))
    out.append(("desk", {"type": "rfq", "rfq": desk_row}))
    if status == "pending_review":
        out.append(("review", {"type": "review.request", "rfq": desk_row}))
    return out


def rfq_changed(client_id: int, status: str, client_payload: dict[str, Any], desk_row: dict[str, Any]) -> None:
    """Publish one RFQ state change after commit."""
    for group, message in rfq_changed_messages(client_id, status, client_payload, desk_row):
        publish_on_commit(group, message)


def review_event(event: dict[str, Any]) -> None:
    """Claims and decisions: everyone on the desk sees them (senior traders are in `desk` too)."""
    publish_on_commit("desk", event)


def desk_event(event: dict[str, Any]) -> None:
    publish_on_commit("desk", event)


# --- hedges -------------------------------------------------------------------------------------

def hedge_decided(decision: Any, order_ids: list[int]) -> dict[str, Any]:
    return {"type": "hedge", "decision_id": decision.id, "trade_id": decision.trade_id,
            "decision": decision.decision, "reason": decision.reason, "order_ids": list(order_ids)}


def hedge_filled(order: Any, quantity: Any, price: Any) -> dict[str, Any]:
    return {"type": "hedge.fill", "decision_id": order.decision_id, "order_id": order.id,
            "quantity": f"{quantity:.2f}", "price": f"{price:.6f}", "filled": f"{order.filled:.2f}",
            "status": order.status}


def hedge_order_changed(order: Any, action: str) -> dict[str, Any]:
    return {"type": "hedge.order", "decision_id": order.decision_id, "order_id": order.id, "action": action,
            "status": order.status}
