"""Writes of the relationship side: agreements and interests (audited by simple_history)."""
from __future__ import annotations

from datetime import date
from typing import Any

from django.db import transaction
from django.utils.dateparse import parse_date

from crm.models import Agreement, Client, Interest
from dealer.errors import DeskError, Forbidden
from dealer.market.models import Instrument
from dealer.roles import MANAGEMENT, RM, has_role


def _require_editor(user: Any, client: Client) -> None:
    if has_role(user, MANAGEMENT):
        return
    if has_role(user, RM) and client.rm_id == user.id:
        return
    raise Forbidden("Only the client's relationship manager or management may change this client.")


def _date(value: Any, field: str) -> date:
    d = parse_date(value) if isinstance(value, str) else None
    if d is None:
        raise DeskError("Must be an ISO date (YYYY-MM-DD).", field=field)
    return d


def _scope_value(scope: Any, value: Any, allowed: tuple[str, ...]) -> tuple[str, str | None]:
    if scope not in allowed:
        raise DeskError(f"Must be one of {', '.join(allowed)}.", field="scope")
    if scope == "all":
        if value not in (None, ""):
            raise DeskError('Must be null when the scope is "all".', field="value")
        return scope, None
    if not isinstance(value, str) or not value.strip():
        raise DeskError(f"Give the {scope} this applies to.", field="value")
    value = value.strip()
    if scope == "instrument" and not Instrument.objects.filter(isin=value).exists():
        raise DeskError(f"Unknown ISIN {value}.", field="value")
    if scope == "issuer" and not Instrument.objects.filter(issuer=value).exists():
        raise DeskError(f"Unknown issuer {value!r}.", field="value")
    if scope == "sector" and not Instrument.objects.filter(sector=value).exists():
        raise DeskError(f"Unknown sector {value!r}.", field="value")
    if scope == "side" and value not in ("buy", "sell"):
        raise DeskError('Must be "buy" or "sell" for a side agreement.', field="value")
    return scope, value


def agreement_create(*, user: Any, client: Client, scope: Any, value: Any, spread_adjustment_bp: Any,
                     start: Any, end: Any, max_size: Any = None) -> Agreement:
    _require_editor(user, client)
    scope, value = _scope_value(scope, value, ("all", "instrument", "issuer", "sector", "side"))
    if isinstance(spread_adjustment_bp, bool) or not isinstance(spread_adjustment_bp, (int, float, str)):
        raise DeskError("Must be a number of basis points.", field="spread_adjustment_bp")
    try:
        adj = float(spread_adjustment_bp)
    except ValueError:
        raise DeskError("Must be a number of basis points.", field="spread_adjustment_bp") from None
    tier = client.tier
    if not (tier.agreement_min_bp <= adj <= tier.agreement_max_bp):
        raise DeskError(
            f"Tier {tier.number} allows adjustments from {tier.agreement_min_bp:g} to {tier.agreement_max_bp:g} bp.",
            field="spread_adjustment_bp")
    s, e = _date(start, "start"), _date(end, "end")
    if e < s:
        raise DeskError("The end date is before the start date.", field="end")
    with transaction.atomic():
        return Agreement.objects.create(client=client, scope=scope, value=value, spread_adjustment_bp=adj,
                                        start=s, end=e, created_by=user)


def interest_create(*, user: Any, client: Client, scope: Any, value: Any, side: Any) -> Interest:
    _require_editor(user, client)
    scope, value = _scope_value(scope, value, ("instrument", "issuer", "sector"))
    if side not in ("buy", "sell"):
        raise DeskError('Must be "buy" or "sell".', field="side")
    with transaction.atomic():
        interest, created = Interest.objects.get_or_create(client=client, scope=scope, value=value, side=side,
                                                           defaults={"created_by": user})
    return interest
