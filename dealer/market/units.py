"""What a point of price is worth per unit of quantity, by asset class.

Bonds, CDS indices and rates futures are quoted per 100 of face (notional), so a quantity of face
times a price is worth quantity * price / 100; credit ETFs trade in shares at a price per share,
worth quantity * price. Positions, P&L and risk of every instrument go through this one rule.
"""
from __future__ import annotations

from decimal import Decimal

SHARE_CLASSES = frozenset({"credit_etf"})


def money_per_point(asset_class_code: str) -> float:
    return 1.0 if asset_class_code in SHARE_CLASSES else 0.01


def money_per_point_decimal(asset_class_code: str) -> Decimal:
    return Decimal(1) if asset_class_code in SHARE_CLASSES else Decimal("0.01")
