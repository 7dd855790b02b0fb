from __future__ import annotations

from typing import Any

from django import template

register = template.Library()


@register.filter
def get(mapping: Any, key: Any) -> Any:
    """`mapping|get:key` (None when absent)."""
    if isinstance(mapping, dict):
        return mapping.get(key)
    try:
        return mapping.get(key)
    except AttributeError:
        return None


@register.filter
def pct(x: Any) -> str:
    return "" if x in (None, "") else f"{100 * float(x):.0f}%"


@register.filter
def signed(x: Any, digits: int = 1) -> str:
    return "" if x in (None, "") else f"{float(x):+.{int(digits)}f}"


@register.filter
def money(x: Any) -> str:
    if x in (None, ""):
        return ""
    v = float(x)
    for unit, d in (("bn", 1e9), ("m", 1e6), ("k", 1e3)):
        if abs(v) >= d:
            return f"{v / d:,.1f}{unit}"
    return f"{v:,.0f}"
