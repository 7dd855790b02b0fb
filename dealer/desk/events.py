"""The shapes of every realtime message, in one place.

Groups: `desk` (traders and management: every RFQ event), `review` (senior traders: review
requests and decisions), `client.<client id>` (one API client: its own RFQs).

Client messages (`/ws/client/`), each `{"type": ..., "rfq": <REST representation>}`:
`rfq.received`, `quote`, `rfq.declined`, `rfq.expired`, `trade` (plus `rfq.rejected`).

Desk messages (`/ws/desk/`): `{"type": "rfq", "rfq": <desk row>}` for every state change,
`{"type": "review.request", "rfq": <desk row with recommendation>}`,
`{"type": "review.claimed", "rfq_id", "by"}`, `{"type": "review.decision", "rfq_id", "action", "by"}`,
`{"type": "position", "position": {...}}`, `{"type": "switch", "switch": {...}}`.
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
