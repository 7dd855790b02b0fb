"""Pricing of waiting RFQs: claim them all, price them in one vectorized call, save and publish.

The claim (`SELECT ... FOR UPDATE SKIP LOCKED` on PostgreSQL, the write lock on SQLite) moves
each RFQ from received to pricing, so two workers never price the same RFQ; an RFQ left in
pricing by a dead worker is put back by `services.requeue_stuck`.
"""
from __future__ import annotations

from datetime import timedelta
from decimal import Decimal
from typing import Any

import numpy as np
from django.db import connection, transaction
from django.utils import timezone

from dealer.desk import pricing_context as ctx
from dealer.desk.models import Quote, Rfq
from dealer.desk.services import _move, _publish
from pricing.quoting import COMPONENTS, REASONS, RfqArrays, quote_batch

CLAIM_LIMIT = 1000
REASON_TEXT = {
    "over_max_size": "the size is over the tier's maximum size",
    "over_credit_line": "the trade would exceed the client's credit line",
    "kill_switch": "automatic quoting is stopped (kill switch): a trader reviews it",
    "tier1_review": "Tier 1: a senior trader reviews the recommendation",
    "over_auto_size": "the size is over the tier's automatic size: a trader reviews it",
    "auto": "",
}


def claim_waiting(limit: int = CLAIM_LIMIT) -> list[int]:
    with transaction.atomic():
        qs = Rfq.objects.filter(status=Rfq.Status.RECEIVED).order_by("id")
        if connection.features.has_select_for_update_skip_locked:
            qs = qs.select_for_update(skip_locked=True)
        ids = list(qs.values_list("id", flat=True)[:limit])
        if ids:
            Rfq.objects.filter(id__in=ids, status=Rfq.Status.RECEIVED).update(
                status=Rfq.Status.PRICING, updated_at=timezone.now())
    return ids


def _dec(x: float, places: str = "0.000001") -> Decimal:
    return Decimal(repr(float(x))).quantize(Decimal(places))


def price_waiting_rfqs() -> int:
    """Price every waiting RFQ; returns how many were priced."""
    ids = claim_waiting()
    if not ids:
        return 0
    rfqs = list(Rfq.objects.filter(id__in=ids, status=Rfq.Status.PRICING).select_related("instrument__asset_class"))
    if not rfqs:
        return 0
    snap = ctx.latest_snapshot()
    if snap is None:
        with transaction.atomic():
            Rfq.objects.filter(id__in=ids, status=Rfq.Status.PRICING).update(
                status=Rfq.Status.FAILED, reason="no market data to price from")
        return 0
    static = ctx.static_arrays()
    tiers_table, tiers = ctx.tier_table(static)
    kill_scopes, stress_scopes = ctx.switches()
    market = ctx.market_arrays(static, snap, stress_scopes)
    book = ctx.book_arrays(static, market.mid, bool(snap.stressed))
    now = timezone.now()
    agreements = ctx.agreements_for(rfqs, static, now.date())
    headroom = ctx.credit_headroom(r.client_id for r in rfqs)
    inst = np.array([static.index_of_id[r.instrument_id] for r in rfqs], dtype=np.intp)
    mid = market.mid[inst]
    batch = RfqArrays(
        instrument=inst,
        side=np.array([1.0 if r.side == "buy" else -1.0 for r in rfqs]),
        quantity=np.array([float(r.quantity) for r in rfqs]),
        tier=np.array([r.tier for r in rfqs], dtype=np.intp),
        agreement_bp=np.array([agreements[r.id][0] for r in rfqs]),
        credit_available=np.array([max(headroom.get(r.client_id, 0.0), 0.0) for r in rfqs]) * mid / 100.0,
        kill=np.array([("desk" in kill_scopes) or (r.instrument.asset_class.code in kill_scopes) for r in rfqs]),
    )
    result = quote_batch(batch, market, book, tiers_table)
    recs = _recommendations(batch, result, market, book, tiers_table)
    with transaction.atomic():
        for k, rfq in enumerate(rfqs):
            locked = Rfq.objects.select_for_update().filter(id=rfq.id, status=Rfq.Status.PRICING).first()
            if locked is None:
                continue
            _save_priced(locked, k, result, recs, tiers[locked.tier], agreements[rfq.id][1], now)
    return len(rfqs)


def _components(result: Any, k: int) -> dict[str, float]:
    return {name: round(float(result.components[name][k]), 6) for name in COMPONENTS}


def _save_priced(rfq: Rfq, k: int, result: Any, recs: dict[str, np.ndarray], tier: Any,
                 agreement_id: int | None, now: Any) -> None:
    reason = REASONS[int(result.reason[k])]
    decision = int(result.decision[k])
    rfq.priced_at = now
    components = _components(result, k)
    price = _dec(result.price[k])
    mid = _dec(result.mid[k])
    common = dict(rfq=rfq, quantity=rfq.quantity, mid=mid, mid_se=float(recs["mid_se"][k]), components=components,
                  half_spread_bp=float(result.half_spread_bp[k]), agreement_id=agreement_id, created_at=now)
    if decision == 2:
        _move(rfq, Rfq.Status.DECLINED)
        rfq.reason = REASON_TEXT[reason]
        rfq.save(update_fields=["status", "reason", "priced_at", "updated_at"])
    elif decision == 1:
        rec = Quote.objects.create(
            status=Quote.Status.RECOMMENDED, source="recommendation", price=_dec(recs["price"][k]),
            ci_low=_dec(recs["ci_low"][k]), ci_high=_dec(recs["ci_high"][k]), impact_bp=float(recs["impact_bp"][k]),
            win_probability=float(recs["win_probability"][k]), expected_pnl=float(recs["expected_pnl"][k]), **common)
        rfq.recommendation = rec
        _move(rfq, Rfq.Status.PENDING_REVIEW)
        rfq.reason = REASON_TEXT[reason]
        rfq.review_deadline = now + timedelta(seconds=tier.review_deadline_seconds)
        rfq.save(update_fields=["status", "reason", "priced_at", "recommendation", "review_deadline", "updated_at"])
    else:
        quote = Quote.objects.create(status=Quote.Status.ACTIVE, source="auto", price=price,
                                     valid_until=now + timedelta(seconds=tier.quote_ttl_seconds), **common)
        rfq.quote = quote
        _move(rfq, Rfq.Status.QUOTED)
        rfq.reason = ""
        rfq.save(update_fields=["status", "reason", "priced_at", "quote", "updated_at"])
    _publish(rfq)


def _recommendations(batch: RfqArrays, result: Any, market: Any, book: Any, tiers: Any) -> dict[str, np.ndarray]:
    from dealer.desk.recommend import recommend_for_batch

    return recommend_for_batch(batch, result, market, book, tiers)
