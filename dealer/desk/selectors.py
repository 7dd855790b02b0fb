"""Reads of the desk: RFQ representations, RFQs for a client or person, positions, switches."""
from __future__ import annotations

import json
from datetime import datetime
from decimal import Decimal
from typing import Any, Iterable

from django.db.models import QuerySet

from dealer.desk.models import Axe, Position, Quote, Rfq, Switch, Trade
from dealer.errors import NotFound
from dealer.roles import MANAGEMENT, RM, SENIOR_TRADER, TRADER, has_role


def iso(dt: datetime | None) -> str | None:
    return dt.isoformat() if dt is not None else None


def dec(value: Decimal | None, places: int | None = None) -> str | None:
    if value is None:
        return None
    if places is not None:
        return f"{value:.{places}f}"
    return str(value)


def rfqs_with_related() -> QuerySet[Rfq]:
    return Rfq.objects.select_related("instrument", "quote", "trade", "client", "instrument__asset_class")


def client_quote_payload(quote: Quote | None) -> dict[str, Any] | None:
    if quote is None:
        return None
    return {
        "id": quote.id,
        "price": dec(quote.price, 6),
        "quantity": dec(quote.quantity, 2),
        "valid_until": iso(quote.valid_until),
    }


def _trade_id(rfq: Rfq) -> int | None:
    if rfq.status not in ("accepted", "booked"):
        return None
    try:
        return rfq.trade.id if rfq.trade else None
    except Trade.DoesNotExist:
        return None


def rfq_payload(rfq: Rfq) -> dict[str, Any]:
    """The REST (and client websocket) representation of an RFQ, DESIGN.md section 9."""
    return {
        "id": rfq.id,
        "client_rfq_id": rfq.client_rfq_id,
        "isin": rfq.instrument.isin,
        "side": rfq.side,
        "quantity": dec(rfq.quantity, 2),
        "status": rfq.status,
        "reason": rfq.reason,
        "quote": client_quote_payload(rfq.quote),
        "trade_id": _trade_id(rfq),
        "received_at": iso(rfq.received_at),
    }


def recommendation_payload(quote: Quote | None) -> dict[str, Any] | None:
    if quote is None:
        return None
    return {
        "quote_id": quote.id,
        "price": dec(quote.price, 6),
        "quantity": dec(quote.quantity, 2),
        "ci_low": dec(quote.ci_low, 6),
        "ci_high": dec(quote.ci_high, 6),
        "impact_bp": quote.impact_bp,
        "win_probability": quote.win_probability,
        "expected_pnl": quote.expected_pnl,
        "mid": dec(quote.mid, 6),
        "components": quote.components,
        "half_spread_bp": quote.half_spread_bp,
    }


def desk_rfq_payload(rfq: Rfq, *, recommendation: Quote | None = None) -> dict[str, Any]:
    """An RFQ as the desk sees it: the client's view plus client, tier, components, review."""
    body = rfq_payload(rfq)
    quote = rfq.quote
    body.update(
        {
            "client": rfq.client.code,
            "client_name": rfq.client.name,
            "tier": rfq.tier,
            "asset_class": rfq.instrument.asset_class.code,
            "description": rfq.instrument.description,
            "review_deadline": iso(rfq.review_deadline),
            "claimed_by": rfq.claimed_by.username if rfq.claimed_by_id and rfq.claimed_by else None,
            "channel": rfq.channel,
        }
    )
    if body["quote"] is not None and quote is not None:
        body["quote"]["components"] = quote.components
        body["quote"]["mid"] = dec(quote.mid, 6)
        body["quote"]["source"] = quote.source
    rec = recommendation if recommendation is not None else rfq.recommendation
    body["recommendation"] = recommendation_payload(rec) if rfq.tier == 1 or rec is not None else None
    return body


_ROW_FIELDS = (
    "id", "client_id", "client_rfq_id", "side", "quantity", "status", "reason", "received_at", "tier",
    "review_deadline", "channel", "quote_id", "recommendation_id", "claimed_by__username", "trade__id",
    "instrument__isin", "instrument__description", "instrument__asset_class__code", "client__code", "client__name",
    "quote__price", "quote__quantity", "quote__valid_until", "quote__components", "quote__mid", "quote__source",
)
_REC_FIELDS = ("price", "quantity", "ci_low", "ci_high", "impact_bp", "win_probability", "expected_pnl", "mid",
               "components", "half_spread_bp")


def rfq_rows(ids: Iterable[int]) -> list[tuple[int, str, dict[str, Any], dict[str, Any]]]:
    """(client id, status, client view, desk row) of each RFQ in `ids`, from two flat reads.

    The same representations as `rfq_payload` and `desk_rfq_payload`, without building five
    model instances per RFQ: a sweep that expires a second's worth of quotes at once (200 at
    200 RFQs/s) spends its time here."""
    return rfq_rows_from(list(Rfq.objects.filter(id__in=list(ids)).order_by("id").values_list(*_ROW_FIELDS)))


def rfq_rows_from(rows: list[tuple[Any, ...]]) -> list[tuple[int, str, dict[str, Any], dict[str, Any]]]:
    """`rfq_rows` of rows already read, each with the columns of `_ROW_FIELDS` in their order (a
    statement that moves RFQs returns them: the quote expiry's). A JSON column may come as text."""
    rec_ids = [r[12] for r in rows if r[12] is not None]
    recs = {q[0]: q[1:] for q in Quote.objects.filter(id__in=rec_ids).values_list("id", *_REC_FIELDS)} \
        if rec_ids else {}
    out = []
    for (rid, client_id, client_rfq_id, side, qty, status, reason, received_at, tier, deadline, channel, quote_id,
         rec_id, claimed_by, trade_id, isin, description, asset_class, code, name, q_price, q_qty, q_valid,
         q_components, q_mid, q_source) in rows:
        quote = None if quote_id is None else {
            "id": quote_id, "price": dec(q_price, 6), "quantity": dec(q_qty, 2), "valid_until": iso(q_valid)}
        client = {
            "id": rid, "client_rfq_id": client_rfq_id, "isin": isin, "side": side, "quantity": dec(qty, 2),
            "status": status, "reason": reason, "quote": quote,
            "trade_id": trade_id if status in ("accepted", "booked") else None, "received_at": iso(received_at),
        }
        desk = {**client, "client": code, "client_name": name, "tier": tier, "asset_class": asset_class,
                "description": description, "review_deadline": iso(deadline), "claimed_by": claimed_by,
                "channel": channel}
        if quote is not None:
            if isinstance(q_components, str):
                q_components = json.loads(q_components)
            desk["quote"] = {**quote, "components": q_components, "mid": dec(q_mid, 6), "source": q_source}
        rec = recs.get(rec_id) if rec_id is not None else None
        desk["recommendation"] = None if rec is None else {
            "quote_id": rec_id, "price": dec(rec[0], 6), "quantity": dec(rec[1], 2), "ci_low": dec(rec[2], 6),
            "ci_high": dec(rec[3], 6), "impact_bp": rec[4], "win_probability": rec[5], "expected_pnl": rec[6],
            "mid": dec(rec[7], 6), "components": rec[8], "half_spread_bp": rec[9]}
        out.append((client_id, status, client, desk))
    return out


def rfq_get_for_client(*, client_id: int, rfq_id: int) -> Rfq:
    rfq = rfqs_with_related().filter(client_id=client_id, id=rfq_id).first()
    if rfq is None:
        raise NotFound("No such RFQ.")
    return rfq


def rfqs_for_client(*, client_id: int, status: str | None = None, since: datetime | None = None) -> QuerySet[Rfq]:
    qs = rfqs_with_related().filter(client_id=client_id)
    if status:
        qs = qs.filter(status=status)
    if since:
        qs = qs.filter(received_at__gte=since)
    return qs.order_by("-received_at", "-id")


def rfq_get_for_person(*, user: Any, rfq_id: int) -> Rfq:
    qs = rfqs_with_related().select_related("recommendation", "claimed_by")
    if not has_role(user, TRADER, SENIOR_TRADER, MANAGEMENT):
        if has_role(user, RM):
            qs = qs.filter(client__rm=user)
        else:
            raise NotFound("No such RFQ.")
    rfq = qs.filter(id=rfq_id).first()
    if rfq is None:
        raise NotFound("No such RFQ.")
    return rfq


def desk_rfqs(*, status: str | None = None, tier: int | None = None, asset_class: str | None = None,
              client: str | None = None, limit: int = 200) -> list[Rfq]:
    qs = rfqs_with_related().select_related("recommendation", "claimed_by")
    if status:
        qs = qs.filter(status=status)
    if tier:
        qs = qs.filter(tier=tier)
    if asset_class:
        qs = qs.filter(instrument__asset_class__code=asset_class)
    if client:
        qs = qs.filter(client__code=client)
    return list(qs.order_by("-received_at", "-id")[:limit])


def trades_for_user(*, user: Any, client: str | None = None, isin: str | None = None,
                    since: datetime | None = None) -> QuerySet[Trade]:
    qs = Trade.objects.select_related("client", "instrument")
    if not has_role(user, TRADER, SENIOR_TRADER, MANAGEMENT):
        qs = qs.filter(client__rm=user)
    if client:
        qs = qs.filter(client__code=client)
    if isin:
        qs = qs.filter(instrument__isin=isin)
    if since:
        qs = qs.filter(booked_at__gte=since)
    return qs.order_by("-booked_at", "-id")


def trade_payload(trade: Trade) -> dict[str, Any]:
    return {
        "id": trade.id,
        "rfq_id": trade.rfq_id,
        "client": trade.client.code,
        "isin": trade.instrument.isin,
        "side": trade.side,
        "quantity": dec(trade.quantity, 2),
        "price": dec(trade.price, 6),
        "booked_at": iso(trade.booked_at),
    }


def positions(*, isin: str | None = None) -> QuerySet[Position]:
    qs = Position.objects.select_related("instrument", "instrument__asset_class").exclude(quantity=0)
    if isin:
        qs = Position.objects.select_related("instrument", "instrument__asset_class").filter(instrument__isin=isin)
    return qs.order_by("instrument__sim_index")


def active_axes() -> QuerySet[Axe]:
    return Axe.objects.filter(active=True).select_related("instrument")


def switches_on() -> dict[tuple[str, str], bool]:
    return {(s.name, s.scope): s.on for s in Switch.objects.all()}


def switch_rows() -> list[Switch]:
    return list(Switch.objects.select_related("changed_by").order_by("name", "scope"))


def desk_rows(rfqs: Iterable[Rfq]) -> list[dict[str, Any]]:
    return [desk_rfq_payload(r) for r in rfqs]
