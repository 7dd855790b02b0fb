"""Small hand-made books: trades with their markouts, written through the ORM."""
from __future__ import annotations

from datetime import datetime, timedelta
from decimal import Decimal

from django.utils import timezone

from crm.models import Client
from dealer.desk.models import Markout, Trade
from dealer.market.models import Instrument


def instrument(asset_class: str, n: int = 0) -> Instrument:
    return Instrument.objects.filter(asset_class__code=asset_class, rfq_enabled=True).order_by("sim_index")[n]


def trade(code: str, asset_class: str, *, side: str, qty: str, price: str, mid: str, pnl_1d: float | None = None,
          markout_5m_bp: float | None = None, at: datetime | None = None) -> Trade:
    client = Client.objects.select_related("tier").get(code=code)
    at = at or timezone.now() - timedelta(days=3)
    t = Trade.objects.create(client=client, instrument=instrument(asset_class), side=side, quantity=Decimal(qty),
                             price=Decimal(price), mid_at_booking=Decimal(mid), booked_at=at, tier=client.tier.number)
    if pnl_1d is not None:
        Markout.objects.create(trade=t, horizon_seconds=86400, mid=float(mid), markout_bp=0.0, pnl=pnl_1d,
                               recorded_at=at + timedelta(days=1))
    if markout_5m_bp is not None:
        Markout.objects.create(trade=t, horizon_seconds=300, mid=float(mid), markout_bp=markout_5m_bp, pnl=0.0,
                               recorded_at=at + timedelta(minutes=5))
    return t


def small_book() -> None:
    """Three clients with trades (one more than a year old, to be ignored); the other nine none."""
    trade("CLT0001", "ig_corp", side="buy", qty="1000000", price="100", mid="99.95", pnl_1d=300.0, markout_5m_bp=-1.0)
    # No 1-day markout yet: profitability is the spread captured, (50.01 - 50) * 2,000,000 / 100 = 200.
    trade("CLT0001", "govt", side="sell", qty="2000000", price="50", mid="50.01", markout_5m_bp=2.0)
    trade("CLT0002", "hy_corp", side="buy", qty="3000000", price="100", mid="99.9", pnl_1d=-100.0, markout_5m_bp=-3.0)
    trade("CLT0003", "ig_corp", side="sell", qty="500000", price="100", mid="100.02", pnl_1d=50.0)
    trade("CLT0003", "hy_corp", side="buy", qty="90000000", price="100", mid="99", pnl_1d=1e6, markout_5m_bp=9.0,
          at=timezone.now() - timedelta(days=400))
