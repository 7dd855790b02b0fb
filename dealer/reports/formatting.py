"""How report tables read on the page: a human label and a number format for each column.

Only the HTML is formatted; CSV downloads (and the API) keep the raw values under the column codes
(`spread_pnl`, `hit_ratio` 0.41, prices with all their decimals), so that they stay machine-readable.

Formats, as the desk shows the same figures (static/js/desk.js): prices clean per 100 with 4
decimals, more (up to the 6 stored) when the price has them; face with thousands separators;
P&L signed with separators (whole currency units in summaries, cents per trade or decision); bp
signed; ratios as percentages; times in UTC as `YYYY-MM-DD HH:MM:SS UTC`; empty cells an em dash.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timezone as dt_tz
from decimal import Decimal, InvalidOperation
from typing import Any

__all__ = ["Cell", "EMPTY", "format_value", "column", "format_rows"]

EMPTY = "\u2014"  # em dash
MINUS = "-"

#: Column code -> (label, format). Formats: text, int, face, money (whole units), money2 (cents),
#: bp1, bp2, pct, price, bool, time, dv01.
COLUMNS: dict[str, tuple[str, str]] = {
    # profitability
    "trades": ("Trades", "int"), "volume": ("Volume (face)", "face"), "pnl": ("Client P&L", "money"),
    "spread_pnl": ("Spread capture", "money"), "inventory_pnl": ("Inventory P&L", "money"),
    "hedge_pnl": ("Hedge P&L", "money"), "net_pnl": ("Net P&L", "money"), "pnl_bp": ("Client P&L (bp)", "bp2"),
    "unrealized_pnl": ("Unrealized P&L", "money"),
    # trades and decisions
    "id": ("Trade", "text"), "booked_at": ("Booked", "time"), "client": ("Client", "text"), "tier": ("Tier", "text"),
    "isin": ("ISIN", "text"), "side": ("Client side", "text"), "quantity": ("Face", "face"),
    "price": ("Price", "price"), "mid_at_booking": ("Mid at booking", "price"), "rfq_id": ("RFQ", "text"),
    "decided_at": ("Decided", "time"), "action": ("Action", "text"), "trader": ("Trader", "text"),
    "recommended_price": ("Recommended price", "price"), "departure_bp": ("Departure (bp)", "bp2"),
    "traded": ("Traded", "bool"), "departure_pnl": ("Departure P&L", "money2"),
    "markout_pnl": ("P&L after markouts", "money2"), "pnl_at_recommendation": ("P&L at recommendation", "money2"),
    "reason": ("Reason", "text"), "decisions": ("Decisions", "int"), "hit_ratio": ("Hit ratio", "pct"),
    "avg_departure_bp": ("Average departure (bp)", "bp2"),
    # flow quality
    "markout_1min_bp": ("Markout 1 min (bp)", "bp1"), "markout_5min_bp": ("Markout 5 min (bp)", "bp1"),
    "markout_30min_bp": ("Markout 30 min (bp)", "bp1"), "markout_1day_bp": ("Markout 1 day (bp)", "bp1"),
    "markout_1d_bp": ("Markout 1 day (bp)", "bp1"), "n_1day": ("Trades with a 1-day markout", "int"),
    # hit ratios
    "asset_class": ("Asset class", "text"), "size": ("Size (face)", "text"),
    "distance": ("Quoted distance to mid", "text"), "quoted": ("Quoted", "int"), "won": ("Won", "int"),
    "bin": ("Predicted win probability", "text"), "n": ("RFQs", "int"), "predicted": ("Predicted", "pct"),
    "realized": ("Realized", "pct"), "low": ("Realized, 95% low", "pct"), "high": ("Realized, 95% high", "pct"),
    # inventory and capital
    "notional": ("Notional", "money"), "net_qty": ("Net flow (face)", "face"), "net_dv01": ("Net DV01", "dv01"),
    "bucket": ("Age", "text"), "positions": ("Positions", "int"), "gross_face": ("Gross position", "face"),
    "avg_price": ("Average price", "price"), "mid": ("Mid", "price"), "age_days": ("Days since last traded", "int"),
    "sector": ("Sector", "text"), "rm": ("RM", "text"), "period": ("Period", "text"),
}
#: The same code means something else in these tables: (table, code) -> (label, format).
OVERRIDES: dict[tuple[str, str], tuple[str, str]] = {
    ("actions", "traded"): ("Traded", "int"),
    ("trades", "pnl"): ("Client P&L", "money2"), ("trades", "spread_pnl"): ("Spread capture", "money2"),
    ("trades", "inventory_pnl"): ("Inventory P&L", "money2"), ("trades", "hedge_pnl"): ("Hedge P&L", "money2"),
    ("trades", "net_pnl"): ("Net P&L", "money2"),
    ("positions", "quantity"): ("Position", "face"),
    ("toxic", "pnl"): ("Client P&L", "money"), ("benign", "pnl"): ("Client P&L", "money"),
}
KEY_LABELS = {"client": "Client", "tier": "Tier", "rm": "RM", "asset_class": "Asset class", "sector": "Sector",
              "period": "Period"}
NUMERIC = {"int", "face", "money", "money2", "bp1", "bp2", "pct", "price", "dv01"}


@dataclass(frozen=True)
class Cell:
    text: str
    numeric: bool


def column(table: str, code: str) -> tuple[str, str]:
    """(label, format) of a table's column; unknown codes read as their code, unformatted."""
    return OVERRIDES.get((table, code)) or COLUMNS.get(code) or (code.replace("_", " ").capitalize(), "text")


def _number(v: Any) -> Decimal | None:
    if isinstance(v, bool):
        return None
    if isinstance(v, Decimal):
        return v
    if isinstance(v, int):
        return Decimal(v)
    if isinstance(v, float):
        return Decimal(repr(v))
    if isinstance(v, str):
        try:
            return Decimal(v.replace(",", ""))
        except InvalidOperation:
            return None
    return None


def _signed(d: Decimal, places: int) -> str:
    q = round(d, places)
    if q == 0:
        return f"{abs(q):,.{places}f}"
    return f"{'+' if q > 0 else MINUS}{abs(q):,.{places}f}"


def _price(d: Decimal) -> str:
    """4 decimals, more (up to 6) when the price carries them: 103.0200, 103.021350."""
    for places in (4, 5, 6):
        if round(d, places) == d:
            return f"{d:,.{places}f}"
    return f"{d:,.6f}"


def _time(v: Any) -> str:
    if isinstance(v, str):
        try:
            v = datetime.fromisoformat(v)
        except ValueError:
            return v
    if isinstance(v, datetime):
        if v.tzinfo is not None:
            v = v.astimezone(dt_tz.utc)
        return v.strftime("%Y-%m-%d %H:%M:%S") + " UTC"
    return str(v)


def format_value(v: Any, kind: str) -> str:
    """The cell text of a raw value `v` in format `kind`."""
    if v is None or v == "":
        return EMPTY
    if kind == "bool" or isinstance(v, bool):
        return "yes" if v else "no"
    if kind == "time":
        return _time(v)
    if kind not in NUMERIC:
        return str(v)
    d = _number(v)
    if d is None or not d.is_finite():
        return str(v)
    if kind == "int":
        return f"{d:,.0f}"
    if kind == "face":
        return f"{d:,.0f}" if d == d.to_integral_value() else f"{d:,.2f}"
    if kind in ("money", "dv01"):
        return _signed(d, 0)
    if kind == "money2":
        return _signed(d, 2)
    if kind == "bp1":
        return _signed(d, 1)
    if kind == "bp2":
        return _signed(d, 2)
    if kind == "pct":
        return f"{d * 100:.1f}%"
    if kind == "price":
        return _price(d)
    return str(v)


def format_rows(table: str, header: list[str], rows: list[list[Any]], *,
                key_label: str | None = None) -> tuple[list[Cell], list[list[Cell]]]:
    """The labelled header and formatted rows of a table (`key_label`: the label of a `key` column)."""
    specs = [((key_label or "Key"), "text") if code == "key" else column(table, code) for code in header]
    head = [Cell(label, kind in NUMERIC) for label, kind in specs]
    body = [[Cell(format_value(v, kind), kind in NUMERIC) for v, (_, kind) in zip(row, specs)] for row in rows]
    return head, body
