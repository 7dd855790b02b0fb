"""The book as the desk sees it: positions with P&L at the current mid and interested clients."""
from __future__ import annotations

from decimal import Decimal
from typing import Any

from crm.models import Interest
from dealer.desk.models import Position
from dealer.market.selectors import current_mids
from dealer.market.units import money_per_point_decimal


def position_rows(*, isin: str | None = None) -> list[dict[str, Any]]:
    qs = Position.objects.select_related("instrument", "instrument__asset_class").order_by("instrument__sim_index")
    qs = qs.filter(instrument__isin=isin) if isin else qs.exclude(quantity=0)
    positions = list(qs)
    mids = current_mids() if positions else {}
    interests = list(Interest.objects.select_related("client").all())
    rows = []
    for p in positions:
        inst = p.instrument
        mid = mids.get(inst.id)
        unreal = ((Decimal(repr(mid)) - p.avg_price) * p.quantity * money_per_point_decimal(inst.asset_class.code)
                  if mid is not None and p.quantity else Decimal(0))
        # A long desk wants buyers; a short desk wants sellers.
        wanted = "buy" if p.quantity > 0 else "sell"
        matching = [
            {"code": i.client.code, "side": i.side} for i in interests
            if i.side == wanted and (
                (i.scope == "instrument" and i.value == inst.isin) or (i.scope == "issuer" and i.value == inst.issuer)
                or (i.scope == "sector" and i.value == inst.sector))
        ]
        rows.append({
            "isin": inst.isin, "description": inst.description, "asset_class": inst.asset_class.code,
            "quantity": f"{p.quantity:.2f}", "avg_price": f"{p.avg_price:.6f}",
            "realized_pnl": f"{p.realized_pnl:.2f}", "unrealized_pnl": f"{unreal:.2f}",
            "mid": f"{mid:.6f}" if mid is not None else None, "interested_clients": matching,
        })
    return rows
