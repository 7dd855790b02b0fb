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


def rfq_changed(client_id: int, status: str, client_payload: dict[str, Any], desk_row: dict[str, Any]) -> None:
    """Publish one RFQ state change to its client (when the client has a message for it) and the desk."""
    client_type = CLIENT_TYPES.get(status)
    if client_type:
        publish_on_commit(client_group(client_id), {"type": client_type, "rfq": client_payload})
    publish_on_commit("desk", {"type": "rfq", "rfq": desk_row})
    if status == "pending_review":
        publish_on_commit("review", {"type": "review.request", "rfq": desk_row})


def review_event(event: dict[str, Any]) -> None:
    """Claims and decisions: everyone on the desk sees them (senior traders are in `desk` too)."""
    publish_on_commit("desk", event)


def desk_event(event: dict[str, Any]) -> None:
    publish_on_commit("desk", event)
