"""A point of price is worth quantity / 100 for face (bonds, CDS, futures), quantity for ETF shares:
positions, P&L and risk follow each instrument's unit (dealer.market.units)."""
from __future__ import annotations

from decimal import Decimal

import pytest

from dealer.desk.book import position_rows
from dealer.desk.book_risk import with_risk
from dealer.desk.models import Position
from dealer.desk.services import position_apply
from dealer.market.models import Instrument
from dealer.market.selectors import current_mids


def _at(isin: str, mid_offset: float, quantity: int) -> tuple[Instrument, float]:
    inst = Instrument.objects.get(isin=isin)
    mid = current_mids()[inst.id]
    Position.objects.create(instrument=inst, quantity=Decimal(quantity), avg_price=Decimal(f"{mid - mid_offset:.6f}"))
    return inst, mid


def test_unrealized_pnl_and_notional_count_shares_for_an_etf_and_face_per_100_for_a_bond(book) -> None:
    etf, etf_mid = _at(book.isin("credit_etf", 0, rfq_enabled=False), 1.0, 1000)
    bond, bond_mid = _at(book.isin("ig_corp", 0), 1.0, 1_000_000)
    rows = {r["isin"]: r for r in with_risk(position_rows())["rows"]}
    # avg_price was quoted to 6 dp: a point's P&L within a cent of 1,000 shares x 1 and 1,000,000 face x 1 / 100.
    assert float(rows[etf.isin]["unrealized_pnl"]) == pytest.approx(1000.0, abs=0.01)
    assert float(rows[bond.isin]["unrealized_pnl"]) == pytest.approx(10_000.0, abs=0.01)
    assert rows[etf.isin]["notional"] == pytest.approx(1000 * etf_mid, rel=1e-9)
    assert rows[bond.isin]["notional"] == pytest.approx(1_000_000 * bond_mid / 100, rel=1e-9)


def test_realized_pnl_of_a_fill_follows_the_unit_it_is_given(book) -> None:
    etf = Instrument.objects.get(isin=book.isin("credit_etf", 0, rfq_enabled=False))
    position_apply(instrument_id=etf.id, desk_qty=Decimal(500), price=Decimal("80"), per_point=Decimal(1))
    moved = position_apply(instrument_id=etf.id, desk_qty=Decimal(-200), price=Decimal("82.5"), per_point=Decimal(1))
    assert moved.realized_pnl == Decimal("500.00")  # 200 shares x 2.5
    bond = Instrument.objects.get(isin=book.isin("govt", 0))
    position_apply(instrument_id=bond.id, desk_qty=Decimal(1_000_000), price=Decimal("99"))
    moved = position_apply(instrument_id=bond.id, desk_qty=Decimal(-1_000_000), price=Decimal("99.5"))
    assert moved.realized_pnl == Decimal("5000.00")  # 1,000,000 face x 0.5 / 100
