"""The Tier 1 review cockpit's context: what a senior trader needs to overrule a recommendation.

`cockpit_context(rfq=...)` reads, for one RFQ: the client's recent trades and RFQs, its hit
ratio and recent markouts, the desk's position and active axes on the instrument, the P&L and
risk impact of the trade for the book, and the win-probability model's parameters so that the
page can recompute the win probability and expected P&L as the trader moves the price
(`winprob_at` is the same formula on the server; the page mirrors it).

The win-probability terms mirror `dealer.desk.recommend.recommend_for_batch`: the model is
evaluated on the price without the client's agreement shift, net of the desk's cost components
(`COST_COMPONENTS`), so that at the recommended price the page shows exactly the stored
recommendation's win probability and expected P&L.
"""
from __future__ import annotations

import math
from decimal import Decimal
from typing import Any

import numpy as np
from django.db.models import Avg, Count

from crm.models import TierLimit
from dealer.desk.book import position_rows
from dealer.desk.book_risk import trade_risk_change
from dealer.desk.models import Markout, Rfq, Trade
from dealer.desk.recommend import COST_COMPONENTS, winprob_params
from dealer.desk.selectors import dec, iso, trade_payload
from pricing.winprob import expected_pnl, win_probability

RECENT = 10
HIT_WINDOW = 200
QUOTED_OUTCOMES = ("booked", "rejected", "expired", "accepted")

__all__ = ["cockpit_context", "winprob_at", "winprob_terms"]


def winprob_terms(rfq: Rfq) -> dict[str, Any] | None:
    """The parameters of the hit-probability model for this RFQ (None without a recommendation)."""
    rec = rfq.recommendation
    if rec is None:
        return None
    params = winprob_params()
    base = (TierLimit.objects.filter(tier__number=rfq.tier, asset_class_id=rfq.instrument.asset_class_id)
            .values_list("base_spread_bp", flat=True).first()) or 5.0
    comps = rec.components or {}
    return {
        "coef": [float(c) for c in params.coef],
        "fitted": bool(params.converged),
        "mid": float(rec.mid),
        "side": 1 if rfq.side == "buy" else -1,
        "tier": rfq.tier,
        "base_spread_bp": float(base),
        "risk_cost_bp": float(sum(float(comps.get(c, 0.0)) for c in COST_COMPONENTS)),
        "agreement_bp": float(comps.get("agreement", 0.0)),
        "decision_band_bp": float(rfq.client.tier.decision_band_bp),
        "sanity_band_bp": 500.0,
    }


def winprob_at(terms: dict[str, Any], *, price: float, quantity: float) -> tuple[float, float]:
    """(win probability, expected P&L) of quoting `price` for `quantity` (server twin of the page)."""
    from pricing.winprob import WinProbParams

    p = WinProbParams(np.array(terms["coef"], dtype=float), np.eye(len(terms["coef"])), True, 0, float("nan"))
    m, s = terms["mid"], terms["side"]
    ex_agreement = price - s * terms["agreement_bp"] * m * 1e-4
    d = s * (ex_agreement - m) / (terms["base_spread_bp"] * m * 1e-4)
    pw = float(win_probability(p, d, math.log(quantity), terms["tier"]))
    e = float(expected_pnl(p, ex_agreement, mid=m, side=s, quantity=quantity, base_spread_bp=terms["base_spread_bp"],
                           tier=terms["tier"], risk_cost_bp=terms["risk_cost_bp"]))
    return pw, e


def _client_activity(rfq: Rfq) -> dict[str, Any]:
    client_id = rfq.client_id
    trades = list(Trade.objects.filter(client_id=client_id).select_related("client", "instrument")
                  .order_by("-booked_at", "-id")[:RECENT])
    rfqs = list(Rfq.objects.filter(client_id=client_id).exclude(pk=rfq.pk).select_related("instrument", "quote")
                .order_by("-received_at", "-id")[:RECENT])
    window = list(Rfq.objects.filter(client_id=client_id, quote__isnull=False, status__in=QUOTED_OUTCOMES)
                  .order_by("-received_at").values_list("status", flat=True)[:HIT_WINDOW])
    hits = sum(1 for s in window if s in ("booked", "accepted"))
    markouts = list(Markout.objects.filter(trade__client_id=client_id).select_related("trade__instrument")
                    .order_by("-recorded_at", "-id")[:RECENT])
    by_horizon = list(Markout.objects.filter(trade__client_id=client_id).values("horizon_seconds")
                      .annotate(avg_bp=Avg("markout_bp"), n=Count("id")).order_by("horizon_seconds"))
    return {
        "trades": [trade_payload(t) for t in trades],
        "rfqs": [{"id": r.id, "isin": r.instrument.isin, "side": r.side, "quantity": dec(r.quantity, 2),
                  "status": r.status, "price": dec(r.quote.price, 6) if r.quote else None,
                  "received_at": iso(r.received_at)} for r in rfqs],
        "hit_ratio": (hits / len(window)) if window else None,
        "hit_window": len(window),
        "markouts": [{"trade_id": m.trade_id, "isin": m.trade.instrument.isin, "horizon_seconds": m.horizon_seconds,
                      "markout_bp": round(m.markout_bp, 3), "pnl": round(m.pnl, 2)} for m in markouts],
        "markout_by_horizon": [{"horizon_seconds": r["horizon_seconds"], "avg_bp": round(r["avg_bp"], 3), "n": r["n"]}
                               for r in by_horizon],
    }


def _desk_on_instrument(rfq: Rfq) -> dict[str, Any]:
    from dealer.desk.axes import axe_payload

    rows = position_rows(isin=rfq.instrument.isin)
    axes = [axe_payload(a) for a in rfq.instrument.axes.filter(active=True)
            .select_related("instrument", "instrument__asset_class", "created_by")]
    return {"position": rows[0] if rows else None, "axes": axes}


def _impact(rfq: Rfq, position: dict[str, Any] | None, axes: list[dict[str, Any]]) -> dict[str, Any] | None:
    """What the trade does to the book at the recommendation: position, edge, costs, axe fit."""
    rec = rfq.recommendation
    if rec is None:
        return None
    q = rec.quantity
    s = 1 if rfq.side == "buy" else -1
    desk_qty = -q if s == 1 else q
    before = Decimal(position["quantity"]) if position else Decimal(0)
    mid = float(rec.mid)
    comps = rec.components or {}

    def money(bp: float) -> float:
        return round(bp * mid * 1e-4 * float(q) / 100.0, 2)

    edge = round(s * (float(rec.price) - mid) * float(q) / 100.0, 2)
    desk_side = "buy" if desk_qty > 0 else "sell"
    toward = [a for a in axes if a["side"] == desk_side]
    against = [a for a in axes if a["side"] != desk_side]
    return {
        "desk_quantity": f"{desk_qty:.2f}",
        "position_before": f"{before:.2f}",
        "position_after": f"{before + desk_qty:.2f}",
        "reduces_risk": abs(before + desk_qty) < abs(before),
        "edge_pnl": edge,
        "inventory_risk_cost": money(float(comps.get("skew", 0.0))),
        "impact_cost": money(float(comps.get("impact", 0.0))),
        "hedge_cost": money(float(comps.get("hedge", 0.0))),
        "funding_cost": money(float(comps.get("funding", 0.0))),
        "net_pnl": round(edge - money(sum(float(comps.get(c, 0.0)) for c in COST_COMPONENTS)), 2),
        "axe": "toward" if toward else "against" if against else "none",
        "risk": trade_risk_change(instrument_id=rfq.instrument_id, desk_quantity=float(desk_qty)),
    }


def cockpit_context(*, rfq: Rfq) -> dict[str, Any]:
    """Everything the cockpit shows beside the RFQ row itself (see the module docstring)."""
    desk = _desk_on_instrument(rfq)
    terms = winprob_terms(rfq)
    return {
        "rfq_id": rfq.id,
        "client": {"code": rfq.client.code, "name": rfq.client.name, "tier": rfq.client.tier.number},
        "activity": _client_activity(rfq),
        "desk": desk,
        "impact": _impact(rfq, desk["position"], desk["axes"]),
        "winprob": terms,
    }
