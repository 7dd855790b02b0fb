"""Writes of the relationship side: tiers, agreements, interests, credit lines, scores and settings.

Every write is a service (`<entity>_<action>`, keyword-only) that checks who may make it and
validates its bounds itself, whatever the form did; models are audited by simple_history
(who, when, before, after).  Errors are `DeskError` naming the field at fault.
"""
from __future__ import annotations

import csv
import re
import io
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta, timezone as dt_timezone
from decimal import Decimal, InvalidOperation
from typing import Any, Callable

import numpy as np
from django.core.exceptions import ValidationError
from django.db import connection, transaction
from django.utils import timezone
from django.utils.dateparse import parse_date

from crm.models import (
    Agreement, Client, CreditLineRequest, Interest, RelationshipScore, ScoreRun, ScoringSettings, Tier, TierLimit,
)
from dealer.bulk import bulk_insert, next_id, reset_sequence
from dealer.errors import DeskError, Forbidden
from dealer.market.models import AssetClass, Instrument
from dealer.roles import MANAGEMENT, RM, has_role
from pricing.markouts import toxicity_scores
from pricing.scoring import aggregate_trades, relationship_scores, suggest_tier

TRAILING_DAYS = 365
FLOW_HORIZON_S = 300  # flow quality: the 5-minute markout
PNL_HORIZON_S = 86400  # realized profitability: the 1-day markout P&L


# --------------------------------------------------------------------------- permissions, parsing


def _require_editor(user: Any, client: Client) -> None:
    if has_role(user, MANAGEMENT):
        return
    if has_role(user, RM) and client.rm_id == user.id:
        return
    raise Forbidden("Only the client's relationship manager or management may change this client.")


def _require_management(user: Any) -> None:
    if not has_role(user, MANAGEMENT):
        raise Forbidden("Only management may do this.")


def _date(value: Any, field: str) -> date:
    if isinstance(value, date) and not isinstance(value, datetime):
        return value
    d = parse_date(value.strip()) if isinstance(value, str) else None
    if d is None:
        raise DeskError("Must be an ISO date (YYYY-MM-DD).", field=field)
    return d


def _float(value: Any, field: str, what: str = "a number of basis points") -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float, str, Decimal)):
        raise DeskError(f"Must be {what}.", field=field)
    try:
        out = float(value)
    except ValueError:
        raise DeskError(f"Must be {what}.", field=field) from None
    if not np.isfinite(out):
        raise DeskError(f"Must be {what}.", field=field)
    return out


#: A face amount as people type it: plain digits or thousands grouped by commas, optional decimals.
_AMOUNT_RE = re.compile(r"^[+-]?(?:\d{1,3}(?:,\d{3})+|\d+)(?:\.\d+)?$")
AMOUNT_HINT = "an amount in face, such as 5000000 or 5,000,000"


def _money(value: Any, field: str, *, allow_none: bool = False) -> Decimal | None:
    """A face amount: a number, or a string of digits with optional comma thousands separators.

    "5,000,000" and "5000000" are the same amount; "5,00,000", "5.000.000", "1e6" or "5m" are refused.
    """
    if value in (None, "") and allow_none:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, float, str, Decimal)):
        raise DeskError(f"Must be {AMOUNT_HINT}.", field=field)
    if isinstance(value, str):
        text = value.strip()
        if not _AMOUNT_RE.match(text):
            raise DeskError(f"Must be {AMOUNT_HINT}.", field=field)
        value = text.replace(",", "")
    try:
        d = Decimal(str(value))
    except InvalidOperation:
        raise DeskError(f"Must be {AMOUNT_HINT}.", field=field) from None
    if not d.is_finite():
        raise DeskError(f"Must be {AMOUNT_HINT}.", field=field)
    if d < 0:
        raise DeskError("Must not be negative.", field=field)
    if d != d.quantize(Decimal("0.01")):
        raise DeskError("At most 2 decimals.", field=field)
    if d >= Decimal("1e16"):
        raise DeskError("Too large.", field=field)
    return d


#: How many valid values an error message lists before it says "and N more".
_LIST_IN_ERROR = 25


def _one_of(kind: str, value: str, valid: list[str]) -> DeskError:
    shown = ", ".join(valid[:_LIST_IN_ERROR])
    more = f" and {len(valid) - _LIST_IN_ERROR} more" if len(valid) > _LIST_IN_ERROR else ""
    return DeskError(f"Unknown {kind} {value!r}. Known {kind}s: {shown}{more}.", field="value")


def agreement_value_choices() -> dict[str, list[str]]:
    """The values an agreement or interest may name, per scope (listed by the errors)."""
    from crm.selectors import agreement_value_options

    return {scope: [v for v, _ in options] for scope, options in agreement_value_options().items()}


def _canonical(scope: str, f: str, value: str) -> str:
    """The stored spelling of an ISIN, issuer or sector matched case-insensitively, or a DeskError listing them."""
    hit = (Instrument.objects.filter(**{f"{f}__iexact": value}).order_by(f).values_list(f, flat=True).first())
    if hit is not None:
        return hit
    if scope == "instrument":  # thousands of ISINs: the form suggests them, the message does not list them
        raise DeskError(f"Unknown ISIN {value}.", field="value")
    raise _one_of(scope, value, agreement_value_choices()[scope])


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
    if scope in ("instrument", "issuer", "sector"):
        # Matched whatever the case ("Energy" or "energy"), stored as the instruments spell it:
        # pricing compares the stored value exactly.
        value = _canonical(scope, {"instrument": "isin"}.get(scope, scope), value)
    if scope == "side":
        if value.lower() not in ("buy", "sell"):
            raise DeskError('Must be "buy" or "sell" for a side agreement.', field="value")
        value = value.lower()
    return scope, value


def _history_user(obj: Any, user: Any) -> Any:
    """Name the person on the history row even outside a request (tasks, shells, tests)."""
    obj._history_user = user
    return obj


# --------------------------------------------------------------------------- agreements


@dataclass(frozen=True)
class AgreementFields:
    scope: str
    value: str | None
    spread_adjustment_bp: float
    start: date
    end: date
    max_size: Decimal | None


def _agreement_validate(*, client: Client, scope: Any, value: Any, spread_adjustment_bp: Any, start: Any, end: Any,
                        max_size: Any = None, exclude_id: int | None = None,
                        pending: list[tuple[int, AgreementFields]] | None = None) -> AgreementFields:
    """Every rule of an agreement: scope, the tier's band, dates, size, no overlap on the same scope."""
    scope, value = _scope_value(scope, value, ("all", "instrument", "issuer", "sector", "side"))
    adj = _float(spread_adjustment_bp, "spread_adjustment_bp")
    tier = client.tier
    if not (tier.agreement_min_bp <= adj <= tier.agreement_max_bp):
        raise DeskError(
            f"Tier {tier.number} allows adjustments from {tier.agreement_min_bp:g} to {tier.agreement_max_bp:g} bp.",
            field="spread_adjustment_bp")
    s, e = _date(start, "start"), _date(end, "end")
    if e < s:
        raise DeskError("The end date is before the start date.", field="end")
    today = timezone.now().date()  # the pricer's day: it applies agreements with start <= today <= end
    if e < today:
        raise DeskError(f"The end date {e} is in the past: an agreement must end today ({today}) or later "
                        "(dates are inclusive).", field="end")
    size = _money(max_size, "max_size", allow_none=True)
    if size is not None and size <= 0:
        raise DeskError("A size limit must be positive.", field="max_size")
    clash = (Agreement.objects.filter(client=client, scope=scope, value=value, start__lte=e, end__gte=s)
             .exclude(id=exclude_id).order_by("start").first())
    if clash is not None:
        raise DeskError(f"Overlaps agreement #{clash.id} on the same scope ({clash.start} to {clash.end}).",
                        field="start")
    for cid, other in pending or []:
        if cid == client.id and other.scope == scope and other.value == value and other.start <= e and other.end >= s:
            raise DeskError(f"Overlaps another row of the file on the same scope ({other.start} to {other.end}).",
                            field="start")
    return AgreementFields(scope, value, adj, s, e, size)


def agreement_create(*, user: Any, client: Client, scope: Any, value: Any, spread_adjustment_bp: Any,
                     start: Any, end: Any, max_size: Any = None) -> Agreement:
    _require_editor(user, client)
    f = _agreement_validate(client=client, scope=scope, value=value, spread_adjustment_bp=spread_adjustment_bp,
                            start=start, end=end, max_size=max_size)
    with transaction.atomic():
        a = Agreement(client=client, scope=f.scope, value=f.value, spread_adjustment_bp=f.spread_adjustment_bp,
                      max_size=f.max_size, start=f.start, end=f.end, created_by=user)
        _history_user(a, user).save()
        return a


def agreement_update(*, user: Any, agreement: Agreement, scope: Any, value: Any, spread_adjustment_bp: Any,
                     start: Any, end: Any, max_size: Any = None) -> Agreement:
    client = agreement.client
    _require_editor(user, client)
    f = _agreement_validate(client=client, scope=scope, value=value, spread_adjustment_bp=spread_adjustment_bp,
                            start=start, end=end, max_size=max_size, exclude_id=agreement.id)
    with transaction.atomic():
        a = Agreement.objects.select_for_update().get(id=agreement.id)
        a.scope, a.value, a.spread_adjustment_bp = f.scope, f.value, f.spread_adjustment_bp
        a.start, a.end, a.max_size = f.start, f.end, f.max_size
        _history_user(a, user).save()
        return a


@dataclass(frozen=True)
class AgreementEnd:
    """What `agreement_end` did: `ended` (kept, `agreement.end` set) or `removed` (it never applied)."""

    agreement: Agreement
    outcome: str  # "ended" | "removed"

    @property
    def message(self) -> str:
        a = self.agreement
        if self.outcome == "removed":
            return f"Agreement #{a.id} removed: it had not applied to any quote."
        if a.end >= timezone.now().date():
            return (f"Agreement #{a.id} ends today ({a.end}): it has already priced today's quotes, so it is kept "
                    "as history and applies until the end of the day (end dates are inclusive).")
        return f"Agreement #{a.id} ended: its last day was {a.end}; it no longer applies."


def agreement_end_plan(agreement: Agreement, *, on: date, used: bool) -> str:
    """What ending would do, for the page's confirmation: "remove", "end_yesterday" or "end_today"."""
    if agreement.start > on or (agreement.start == on and not used):
        return "remove"
    return "end_yesterday" if agreement.start < on else "end_today"


def agreement_end(*, user: Any, agreement: Agreement, on: date | None = None) -> AgreementEnd:
    """End an agreement, keeping it as history wherever it may have priced something.

    Dates are inclusive and the pricer applies an agreement on day d when start <= d <= end
    (`dealer.desk.pricing_context`), and each quote it shaped points at it (`Quote.agreement`).

    - started before `on` (today): its end becomes the day before, so it stops applying today;
    - started today and already shaped a quote: kept, its end becomes today (an end before
      the start is impossible, and deleting it would unlink the quote it explains);
    - not started yet, or started today and used by no quote: removed (still in its history).

    The row is locked (FOR UPDATE) while deciding, so a quote written concurrently either is
    seen or waits for the outcome.
    """
    from dealer.desk.models import Quote

    _require_editor(user, agreement.client)
    on = on or timezone.now().date()
    with transaction.atomic():
        a = Agreement.objects.select_for_update().get(id=agreement.id)
        if a.end < on:
            raise DeskError(f"This agreement has already ended (its last day was {a.end}).", field="end")
        used = a.start <= on and Quote.objects.filter(agreement_id=a.id).exists()
        plan = agreement_end_plan(a, on=on, used=used)
        if plan == "remove":
            _history_user(a, user).delete()
            a.id = agreement.id  # Django clears it on delete; the message names it
            return AgreementEnd(a, "removed")
        a.end = on - timedelta(days=1) if plan == "end_yesterday" else on
        _history_user(a, user).save()
        return AgreementEnd(a, "ended")


# --------------------------------------------------------------------------- interests


def interest_create(*, user: Any, client: Client, scope: Any, value: Any, side: Any) -> Interest:
    _require_editor(user, client)
    scope, value = _scope_value(scope, value, ("instrument", "issuer", "sector"))
    if side not in ("buy", "sell"):
        raise DeskError('Must be "buy" or "sell".', field="side")
    with transaction.atomic():
        interest = Interest.objects.filter(client=client, scope=scope, value=value, side=side).first()
        if interest is None:
            interest = Interest(client=client, scope=scope, value=value, side=side, created_by=user)
            _history_user(interest, user).save()
    return interest


def interest_delete(*, user: Any, interest: Interest) -> None:
    _require_editor(user, interest.client)
    with transaction.atomic():
        _history_user(interest, user).delete()


# --------------------------------------------------------------------------- tier and credit line


def client_tier_change(*, user: Any, client: Client, tier: Any, reason: Any = "") -> Client:
    """Set the client's tier. A tier other than the suggested one needs a reason; the suggestion stays."""
    _require_editor(user, client)
    try:
        number = int(tier)
    except (TypeError, ValueError):
        raise DeskError("Must be 1, 2 or 3.", field="tier") from None
    if number not in (1, 2, 3) or str(tier).strip() not in ("1", "2", "3"):
        raise DeskError("Must be 1, 2 or 3.", field="tier")
    reason = (reason or "").strip() if isinstance(reason, str) else ""
    if len(reason) > 200:
        raise DeskError("At most 200 characters.", field="reason")
    if number != client.suggested_tier and not reason:
        suggested = f"the suggested tier {client.suggested_tier}" if client.suggested_tier else "no suggestion yet"
        raise DeskError(f"Give a reason for tier {number}: it departs from {suggested}.", field="reason")
    new_tier = Tier.objects.get(number=number)
    with transaction.atomic():
        c = Client.objects.select_for_update().get(id=client.id)
        c.tier = new_tier
        c.tier_reason = reason if number != c.suggested_tier else (reason or "")
        _history_user(c, user).save(update_fields=["tier", "tier_reason"])
        return c


@dataclass(frozen=True)
class CreditChange:
    client: Client
    applied: bool
    request: CreditLineRequest | None = None


def credit_line_change(*, user: Any, client: Client, credit_line: Any, reason: Any = "") -> CreditChange:
    """Lower at once; raise at once for management, as a pending request for an RM."""
    _require_editor(user, client)
    new = _money(credit_line, "credit_line")
    assert new is not None
    reason = reason.strip() if isinstance(reason, str) else ""
    with transaction.atomic():
        c = Client.objects.select_for_update().get(id=client.id)
        if new == c.credit_line:
            raise DeskError("That is the current credit line.", field="credit_line")
        if new < c.credit_line and new < c.credit_used:
            raise DeskError(f"Below the credit already used ({c.credit_used:,.2f}).", field="credit_line")
        if new < c.credit_line or has_role(user, MANAGEMENT):
            c.credit_line = new
            _history_user(c, user).save(update_fields=["credit_line"])
            return CreditChange(c, True)
        if CreditLineRequest.objects.filter(client=c, status="pending").exists():
            raise DeskError("A request for this client is already pending.", field="credit_line")
        req = CreditLineRequest(client=c, current=c.credit_line, requested=new, reason=reason[:200],
                                requested_by=user)
        _history_user(req, user).save()
        return CreditChange(c, False, req)


def credit_request_decide(*, user: Any, request_id: int, approve: bool) -> CreditLineRequest:
    _require_management(user)
    with transaction.atomic():
        req = CreditLineRequest.objects.select_for_update().filter(id=request_id).first()
        if req is None:
            raise DeskError("No such request.", status=404)
        if req.status != "pending":
            raise DeskError(f"This request is already {req.status}.", status=409)
        req.status = "approved" if approve else "rejected"
        req.decided_by, req.decided_at = user, timezone.now()
        _history_user(req, user).save()
        if approve:
            c = Client.objects.select_for_update().get(id=req.client_id)
            c.credit_line = req.requested
            _history_user(c, user).save(update_fields=["credit_line"])
        return req


# --------------------------------------------------------------------------- relationship scores


@dataclass(frozen=True)
class ScoreResult:
    n_clients: int
    n_changed: int
    computed_at: datetime
    seconds: dict[str, float] = field(default_factory=dict)


def _float_sql() -> str:
    return "double precision" if connection.vendor == "postgresql" else "REAL"


def _trade_aggregates_sql() -> str:
    f = _float_sql()
    qty, px, mid = f"CAST(t.quantity AS {f})", f"CAST(t.price AS {f})", f"CAST(t.mid_at_booking AS {f})"
    notional = f"({qty} * {px} / 100.0)"
    edge = f"(CASE WHEN t.side = 'buy' THEN {px} - {mid} ELSE {mid} - {px} END)"  # the dealer's, per 100 face
    capture = f"{edge} * {qty} / 100.0"
    # The stored markout is measured from the trade price, so it holds the half-spread the client
    # paid; flow quality is about the mid moving against the dealer after the trade (adverse
    # selection), so that half-spread is taken out: markout_bp - edge / price * 1e4.
    adverse = f"(q.markout_bp - {edge} / {px} * 10000.0)"
    return f"""
        SELECT t.client_id, i.asset_class_id, COUNT(*),
               SUM({notional}),
               SUM(COALESCE(d.pnl, {capture})),
               SUM(CASE WHEN q.markout_bp IS NULL THEN 0.0 ELSE {notional} END),
               SUM(CASE WHEN q.markout_bp IS NULL THEN 0.0 ELSE {notional} * {adverse} END)
        FROM desk_trade t
        JOIN market_instrument i ON i.id = t.instrument_id
        LEFT JOIN desk_markout d ON d.trade_id = t.id AND d.horizon_seconds = {PNL_HORIZON_S}
        LEFT JOIN desk_markout q ON q.trade_id = t.id AND q.horizon_seconds = {FLOW_HORIZON_S}
        WHERE t.booked_at >= %s AND t.booked_at <= %s
        GROUP BY t.client_id, i.asset_class_id
    """


_RFQ_SQL = """
    SELECT client_id, COUNT(*), SUM(CASE WHEN status = 'booked' THEN 1 ELSE 0 END)
    FROM desk_rfq WHERE received_at >= %s AND received_at <= %s AND quote_id IS NOT NULL
    GROUP BY client_id
"""


def _settings_weights(s: ScoringSettings) -> tuple[tuple[float, float, float, float], tuple[float, float]]:
    w = (s.weight_volume, s.weight_profitability, s.weight_flow_quality, s.weight_diversification)
    return tuple(x / 100.0 for x in w), (s.tier1_threshold, s.tier2_threshold)  # type: ignore[return-value]


def scoring_settings_get() -> ScoringSettings:
    s = ScoringSettings.objects.order_by("id").first()
    if s is None:
        s = ScoringSettings.objects.create()
    return s


def scores_recompute(*, now: datetime | None = None, progress: Callable[[float], None] | None = None
                     ) -> ScoreResult:
    """Score every client over the trailing 12 months of trades and markouts.

    Reads: one GROUP BY (client, asset class) over trades joined to their 5-minute and
    1-day markouts, one GROUP BY client over RFQs (hit ratio).  Scores in numpy with
    `pricing.scoring`.  Writes: one bulk insert of history rows and one bulk update of clients.

    Definitions (per trade j, trailing 365 days to `now`):
    notional ``N_j = face * price / 100``; realized P&L ``pi_j`` = the dealer's 1-day markout
    P&L, which is measured from the trade price and so already holds the spread captured
    (``(price - mid) * face / 100`` for a client buy); before the 1-day markout exists the
    spread capture alone.  Flow toxicity = notional-weighted mean of ``-a_j`` at 5 min
    (`pricing.markouts.toxicity_scores`, trades without it skipped), ``a_j`` the markout from
    the mid at booking rather than from the trade price: ``markout_bp - edge_j / price * 1e4``,
    ``edge_j`` the half-spread the dealer captured.  The spread is profitability's (it is in
    ``pi_j``); left in the markout it made flow quality rank clients by the spread they pay,
    Tier 1 (the tightest quotes) last, whatever their flow did after the trade.  Diversification = the
    number of asset classes traded.  Hit ratio = booked / quoted RFQs.
    """
    import time

    tick = time.perf_counter()
    timings: dict[str, float] = {}
    report = progress or (lambda p: None)
    now = now or timezone.now()
    since = now - timedelta(days=TRAILING_DAYS)
    settings_row = scoring_settings_get()
    weights, thresholds = _settings_weights(settings_row)

    clients = np.array(Client.objects.order_by("id").values_list("id", "suggested_tier", "score"), dtype=object
                       ).reshape(-1, 3)
    ids = clients[:, 0].astype(np.int64)
    nc = ids.size
    old_suggested = np.array([x if x is not None else 0 for x in clients[:, 1]], dtype=np.int64)
    old_score = np.array([x if x is not None else np.nan for x in clients[:, 2]], dtype=np.float64)
    ac_ids = np.array(sorted(AssetClass.objects.values_list("id", flat=True)), dtype=np.int64)
    report(0.05)

    with connection.cursor() as cur:
        cur.execute(_trade_aggregates_sql(), [since, now])
        rows = cur.fetchall()
        report(0.5)
        cur.execute(_RFQ_SQL, [since, now])
        rfq_rows = cur.fetchall()
    timings["read"] = time.perf_counter() - tick
    report(0.6)

    g = np.array(rows, dtype=np.float64).reshape(-1, 7)
    g_client = np.searchsorted(ids, g[:, 0].astype(np.int64))
    g_ac = np.searchsorted(ac_ids, g[:, 1].astype(np.int64))
    ok = (g_client < nc) & (ids[np.minimum(g_client, max(nc - 1, 0))] == g[:, 0]) if nc else np.zeros(0, bool)
    g, g_client, g_ac = g[ok], g_client[ok], g_ac[ok]
    n_trades = np.bincount(g_client, weights=g[:, 2], minlength=nc).astype(np.int64)
    agg = aggregate_trades(g_client, g[:, 3], g[:, 4], np.zeros(len(g)), g_ac, nc, max(len(ac_ids), 1))
    tox_w = g[:, 5]
    tox_mean = np.divide(g[:, 6], tox_w, out=np.full(len(g), np.nan), where=tox_w > 0)
    # Rounded to 1e-6 bp: the half-spread taken out in SQL leaves float noise, which would break
    # ties the percentile ranks average (equal flow would rank apart by 1e-13 bp).
    tox = np.round(toxicity_scores(g_client, tox_mean, tox_w, nc), 6)
    r = np.array(rfq_rows, dtype=np.float64).reshape(-1, 3)
    r_idx = np.searchsorted(ids, r[:, 0].astype(np.int64))
    r_ok = (r_idx < nc) & (ids[np.minimum(r_idx, max(nc - 1, 0))] == r[:, 0]) if nc else np.zeros(0, bool)
    n_rfq = np.bincount(r_idx[r_ok], weights=r[r_ok, 1], minlength=nc).astype(np.int64)
    n_booked = np.bincount(r_idx[r_ok], weights=r[r_ok, 2], minlength=nc)
    hit = np.divide(n_booked, n_rfq, out=np.full(nc, np.nan), where=n_rfq > 0)
    scores = relationship_scores(agg.volume, agg.pnl, tox, agg.n_asset_classes, weights)
    suggested = suggest_tier(scores.score, thresholds).astype(np.int64) if nc else np.zeros(0, np.int64)
    timings["score"] = time.perf_counter() - tick - timings["read"]
    report(0.7)

    metrics = _Metrics(agg.volume, agg.pnl, tox, agg.n_asset_classes.astype(np.int64), n_trades, n_rfq, hit)
    n_changed = _write_scores(ids=ids, computed_at=now, comps=scores, suggested=suggested, old_score=old_score,
                              old_suggested=old_suggested, metrics=metrics)
    timings["write"] = time.perf_counter() - tick - timings["read"] - timings["score"]
    report(1.0)
    return ScoreResult(n_clients=nc, n_changed=n_changed, computed_at=now, seconds=timings)


@dataclass(frozen=True)
class _Metrics:
    notional: np.ndarray
    pnl: np.ndarray
    toxicity_bp: np.ndarray
    n_asset_classes: np.ndarray
    n_trades: np.ndarray
    n_rfqs: np.ndarray
    hit_ratio: np.ndarray


def _write_scores(*, ids: np.ndarray, computed_at: datetime, comps: Any, suggested: np.ndarray,
                  old_score: np.ndarray, old_suggested: np.ndarray, metrics: _Metrics) -> int:
    """Insert one history row per client and point each client at it. Returns suggested-tier changes."""
    n = ids.size
    if n == 0:
        return 0
    stamp = computed_at.isoformat() if connection.vendor == "postgresql" else computed_at.astimezone(
        dt_timezone.utc).replace(tzinfo=None).isoformat(sep=" ")
    change = np.where(np.isnan(old_score), np.nan, comps.score - old_score)
    with transaction.atomic():
        # One run writes at a time (ids below are allocated by the writer): lock the settings row.
        list(ScoringSettings.objects.select_for_update().order_by("id")[:1])
        first = next_id(RelationshipScore)
        new_ids = first + np.arange(n, dtype=np.int64)
        cols = ["id", "client_id", "computed_at", "volume", "profitability", "flow_quality", "diversification",
                "score", "suggested_tier", "notional", "pnl", "toxicity_bp", "n_asset_classes", "n_trades",
                "n_rfqs", "hit_ratio"]
        hit = [None if np.isnan(h) else float(h) for h in metrics.hit_ratio]
        data = zip(new_ids.tolist(), ids.tolist(), [stamp] * n, comps.volume.tolist(), comps.profitability.tolist(),
                   comps.flow_quality.tolist(), comps.diversification.tolist(), comps.score.tolist(),
                   suggested.tolist(), metrics.notional.tolist(), metrics.pnl.tolist(), metrics.toxicity_bp.tolist(),
                   metrics.n_asset_classes.tolist(), metrics.n_trades.tolist(), metrics.n_rfqs.tolist(), hit)
        bulk_insert(RelationshipScore, cols, data)
        reset_sequence(RelationshipScore)
        chg = [None if np.isnan(x) else float(x) for x in change]
        if connection.vendor == "postgresql":
            with connection.cursor() as cur:
                cur.execute(
                    """UPDATE crm_client c SET score = u.score, suggested_tier = u.suggested,
                              score_change = u.change, latest_score_id = u.sid
                       FROM unnest(%s::bigint[], %s::float8[], %s::int[], %s::float8[], %s::bigint[])
                            AS u(id, score, suggested, change, sid)
                       WHERE c.id = u.id""",
                    [ids.tolist(), comps.score.tolist(), suggested.tolist(), chg, new_ids.tolist()])
        else:
            objs = [Client(id=i, score=s, suggested_tier=t, score_change=c, latest_score_id=k)
                    for i, s, t, c, k in zip(ids.tolist(), comps.score.tolist(), suggested.tolist(), chg,
                                             new_ids.tolist())]
            Client.objects.bulk_update(objs, ["score", "suggested_tier", "score_change", "latest_score"],
                                       batch_size=500)
    return int(np.count_nonzero(suggested != old_suggested))


def score_run_start(*, user: Any) -> ScoreRun:
    """Queue an on-demand recomputation (one at a time), enqueued after commit."""
    from crm.tasks import recompute_scores

    if not has_role(user, MANAGEMENT, RM):
        raise Forbidden("Only relationship managers and management may recompute scores.")
    with transaction.atomic():
        stale = timezone.now() - timedelta(minutes=10)
        busy = ScoreRun.objects.filter(status__in=["queued", "running"], created_at__gte=stale).first()
        if busy is not None:
            return busy
        run = ScoreRun.objects.create(requested_by=user)
        transaction.on_commit(lambda: recompute_scores.delay(run.id))
    return run


def score_run_execute(*, run_id: int | None) -> ScoreResult | None:
    """The task's body: claim the run (queued -> running), recompute, record the outcome.

    Safe to run twice: a run no longer queued is left alone.  `run_id` None (beat) makes a run.
    """
    if run_id is None:
        run_id = ScoreRun.objects.create().id
    claimed = ScoreRun.objects.filter(id=run_id, status="queued").update(status="running", started_at=timezone.now(),
                                                                           progress=0.01)
    if claimed != 1:
        return None

    def progress(p: float) -> None:
        ScoreRun.objects.filter(id=run_id).update(progress=p)

    try:
        result = scores_recompute(progress=progress)
    except Exception as exc:
        ScoreRun.objects.filter(id=run_id).update(status="failed", finished_at=timezone.now(), error=str(exc)[:300])
        raise
    ScoreRun.objects.filter(id=run_id).update(status="done", progress=1.0, finished_at=timezone.now(),
                                              n_clients=result.n_clients, n_changed=result.n_changed)
    return result


# --------------------------------------------------------------------------- management settings


@dataclass(frozen=True)
class SettingsInput:
    weights: tuple[float, float, float, float]  # percent
    thresholds: tuple[float, float]
    tiers: dict[int, dict[str, float]]  # number -> field -> value
    limits: dict[tuple[int, str], dict[str, Any]]  # (tier, asset class code) -> field -> value


TIER_FIELDS = ("quote_ttl_seconds", "review_deadline_seconds", "decision_band_bp", "agreement_min_bp",
               "agreement_max_bp")
LIMIT_FIELDS = ("base_spread_bp", "auto_size", "max_size")


def settings_parse(data: Any) -> SettingsInput:
    """Validate management's settings (a flat mapping, as the page posts it) with a message per field."""
    def get(name: str) -> Any:
        if name not in data or data.get(name) in (None, ""):
            raise DeskError("This field is required.", field=name)
        return data.get(name)

    names = ("weight_volume", "weight_profitability", "weight_flow_quality", "weight_diversification")
    w = tuple(_float(get(n), n, "a percentage") for n in names)
    for n, x in zip(names, w):
        if not 0 <= x <= 100:
            raise DeskError("Must be between 0 and 100%.", field=n)
    total = sum(w)
    if abs(total - 100.0) > 1e-6:
        raise DeskError(f"The weights must sum to 100%, not {total:g}%.", field="weight_volume")
    t1 = _float(get("tier1_threshold"), "tier1_threshold", "a score")
    t2 = _float(get("tier2_threshold"), "tier2_threshold", "a score")
    if not 0 <= t2 < t1 <= 100:
        raise DeskError("Need 0 <= tier 2 threshold < tier 1 threshold <= 100.", field="tier1_threshold")
    tiers: dict[int, dict[str, float]] = {}
    for tier in Tier.objects.order_by("number"):
        vals: dict[str, float] = {}
        for f in TIER_FIELDS:
            key = f"tier{tier.number}_{f}"
            x = _float(get(key), key, "a number")
            if f.endswith("_seconds"):
                if x != int(x):
                    raise DeskError("Must be a whole number of seconds.", field=key)
                x = int(x)
            vals[f] = x
        candidate = Tier(number=tier.number, name=tier.name, **vals)
        try:
            candidate.full_clean(exclude=["number", "name"])
        except ValidationError as exc:
            f, msgs = next(iter(exc.message_dict.items()))
            raise DeskError(" ".join(msgs), field=f"tier{tier.number}_{f}") from None
        tiers[tier.number] = vals
    limits: dict[tuple[int, str], dict[str, Any]] = {}
    for lim in TierLimit.objects.select_related("tier", "asset_class"):
        prefix = f"limit{lim.tier.number}_{lim.asset_class.code}"
        spread = _float(get(f"{prefix}_base_spread_bp"), f"{prefix}_base_spread_bp")
        if spread < 0:
            raise DeskError("Must not be negative.", field=f"{prefix}_base_spread_bp")
        auto = _money(get(f"{prefix}_auto_size"), f"{prefix}_auto_size")
        mx = _money(get(f"{prefix}_max_size"), f"{prefix}_max_size")
        assert auto is not None and mx is not None
        if auto > mx:
            raise DeskError("The automatic size cannot exceed the maximum size.", field=f"{prefix}_auto_size")
        limits[(lim.tier.number, lim.asset_class.code)] = {"base_spread_bp": spread, "auto_size": auto,
                                                           "max_size": mx}
    return SettingsInput(w, (t1, t2), tiers, limits)  # type: ignore[arg-type]


@dataclass(frozen=True)
class Retier:
    ids: np.ndarray
    score: np.ndarray
    suggested: np.ndarray
    old_suggested: np.ndarray
    tier: np.ndarray
    rows: list[tuple[Any, ...]]

    @property
    def n_changed(self) -> int:
        return int(np.count_nonzero(self.suggested != self.old_suggested))

    @property
    def n_departing(self) -> int:
        """Clients whose tier would then differ from their suggested tier."""
        return int(np.count_nonzero(self.suggested != self.tier))

    def changes(self, limit: int = 50) -> list[dict[str, Any]]:
        """The clients whose suggested tier would change, by new suggestion then score (highest first).

        Each: id, code, name, tier (held), current (suggested now, None if never scored), suggested, score
        (as it would be) and old_score.  At most `limit` (see `n_changed` for the count).
        """
        moved = np.flatnonzero(self.suggested != self.old_suggested)
        order = moved[np.lexsort((-self.score[moved], self.suggested[moved]))][:max(limit, 0)]
        names = {i: (c, n) for i, c, n in Client.objects.filter(id__in=self.ids[order].tolist())
                 .values_list("id", "code", "name")}
        out = []
        for k in order.tolist():
            cid = int(self.ids[k])
            code, name = names.get(cid, ("?", ""))
            old = self.rows[k][14]
            out.append({"id": cid, "code": code, "name": name, "tier": int(self.tier[k]),
                        "current": int(self.old_suggested[k]) or None, "suggested": int(self.suggested[k]),
                        "score": float(self.score[k]), "old_score": None if old is None else float(old)})
        return out

    def moves(self) -> dict[str, int]:
        out: dict[str, int] = {}
        for a, b in zip(self.old_suggested.tolist(), self.suggested.tolist()):
            if a != b:
                key = f"{a or '-'} -> {b}"
                out[key] = out.get(key, 0) + 1
        return dict(sorted(out.items()))


def _retier(weights_pct: tuple[float, ...], thresholds: tuple[float, float]) -> Retier:
    """Re-weight every client's latest components (percentiles do not depend on weights)."""
    rows = list(Client.objects.filter(latest_score__isnull=False).order_by("id").values_list(
        "id", "suggested_tier", "tier__number", "latest_score__volume", "latest_score__profitability",
        "latest_score__flow_quality", "latest_score__diversification", "latest_score__notional",
        "latest_score__pnl", "latest_score__toxicity_bp", "latest_score__n_asset_classes",
        "latest_score__n_trades", "latest_score__n_rfqs", "latest_score__hit_ratio", "score"))
    a = np.array([r[:7] for r in rows], dtype=np.float64).reshape(-1, 7)
    w = np.asarray(weights_pct, dtype=np.float64) / 100.0
    score = a[:, 3:7] @ w
    suggested = suggest_tier(score, thresholds).astype(np.int64) if len(a) else np.zeros(0, np.int64)
    return Retier(ids=a[:, 0].astype(np.int64), score=score, suggested=suggested,
                  old_suggested=np.nan_to_num(a[:, 1]).astype(np.int64), tier=a[:, 2].astype(np.int64), rows=rows)


def settings_preview(*, user: Any, data: Any) -> Retier:
    """How many clients' suggested tier the settings would change, without saving anything."""
    _require_management(user)
    s = settings_parse(data)
    return _retier(s.weights, s.thresholds)


def settings_update(*, user: Any, data: Any) -> Retier:
    """Save weights, thresholds and tier parameters (audited) and re-suggest every client's tier.

    The count of changed suggestions equals what `settings_preview` showed for the same input
    and data: both run `_retier`; here under the settings row's lock.
    """
    _require_management(user)
    s = settings_parse(data)
    with transaction.atomic():
        row = ScoringSettings.objects.select_for_update().order_by("id").first() or ScoringSettings()
        (row.weight_volume, row.weight_profitability, row.weight_flow_quality,
         row.weight_diversification) = s.weights
        row.tier1_threshold, row.tier2_threshold = s.thresholds
        _history_user(row, user).save()
        for tier in Tier.objects.select_for_update().order_by("number"):
            vals = s.tiers[tier.number]
            if any(getattr(tier, f) != v for f, v in vals.items()):
                for f, v in vals.items():
                    setattr(tier, f, v)
                _history_user(tier, user).save()
        for lim in TierLimit.objects.select_for_update(of=("self",)).select_related("tier", "asset_class"):
            vals = s.limits[(lim.tier.number, lim.asset_class.code)]
            if any(getattr(lim, f) != v for f, v in vals.items()):
                for f, v in vals.items():
                    setattr(lim, f, v)
                _history_user(lim, user).save()
        rt = _retier(s.weights, s.thresholds)
        if rt.ids.size:
            m = np.array([r[7:] for r in rt.rows], dtype=object)

            def col(k: int, dtype: Any) -> np.ndarray:
                return np.array([np.nan if v is None else v for v in m[:, k]], dtype=dtype)

            a = np.array([r[3:7] for r in rt.rows], dtype=np.float64)
            comps = type("C", (), {"volume": a[:, 0], "profitability": a[:, 1], "flow_quality": a[:, 2],
                                   "diversification": a[:, 3], "score": rt.score})
            metrics = _Metrics(col(0, float), col(1, float), col(2, float), col(3, float).astype(np.int64),
                               col(4, float).astype(np.int64), col(5, float).astype(np.int64), col(6, float))
            old = np.array([np.nan if r[14] is None else r[14] for r in rt.rows], dtype=np.float64)
            _write_scores(ids=rt.ids, computed_at=timezone.now(), comps=comps, suggested=rt.suggested,
                          old_score=old, old_suggested=rt.old_suggested, metrics=metrics)
    return rt


# --------------------------------------------------------------------------- CSV import


class CsvImportError(DeskError):
    """Every bad row of a CSV, by line and column; nothing was written."""

    def __init__(self, errors: list[tuple[int, str, str]]):
        super().__init__(f"{len(errors)} error(s) in the file; nothing was imported.", field="file")
        self.errors = errors

    def as_body(self) -> dict[str, object]:
        return {"errors": {"file": [f"line {ln}, {col}: {msg}" for ln, col, msg in self.errors]}}


AGREEMENT_CSV_COLUMNS = ("client", "scope", "value", "spread_adjustment_bp", "start", "end")


def agreements_import_csv(*, user: Any, text: str) -> list[Agreement]:
    """Import agreements from CSV (header: client,scope,value,spread_adjustment_bp,start,end[,max_size]).

    The whole file is validated first (each row by the same rules as `agreement_create`, the
    user's right on each client, and overlaps between rows); any error -> `CsvImportError`
    listing every bad row by line and column, and nothing is written.
    """
    from crm.selectors import clients_for_user

    if not has_role(user, RM, MANAGEMENT):
        raise Forbidden("Only relationship managers and management may import agreements.")
    reader = csv.DictReader(io.StringIO(text.lstrip("\ufeff")))
    header = [h.strip() for h in (reader.fieldnames or [])]
    missing = [c for c in AGREEMENT_CSV_COLUMNS if c not in header]
    if missing:
        raise CsvImportError([(1, c, "missing column") for c in missing])
    unknown = [c for c in header if c not in AGREEMENT_CSV_COLUMNS + ("max_size",)]
    if unknown:
        raise CsvImportError([(1, c, "unknown column") for c in unknown])
    visible = {c.code: c for c in clients_for_user(user)}
    errors: list[tuple[int, str, str]] = []
    ok: list[tuple[int, AgreementFields]] = []
    clients: dict[int, Client] = {}
    n_rows = 0
    for row in reader:
        n_rows += 1
        line = reader.line_num
        row = {(k or "").strip(): (v or "").strip() for k, v in row.items() if k is not None}
        client = visible.get(row.get("client", ""))
        if client is None:
            errors.append((line, "client", f"unknown client {row.get('client', '')!r}"))
            continue
        try:
            _require_editor(user, client)
            f = _agreement_validate(client=client, scope=row.get("scope"), value=row.get("value") or None,
                                    spread_adjustment_bp=row.get("spread_adjustment_bp"), start=row.get("start"),
                                    end=row.get("end"), max_size=row.get("max_size") or None, pending=ok)
        except DeskError as exc:
            errors.append((line, exc.field or "row", exc.message))
            continue
        ok.append((client.id, f))
        clients[client.id] = client
    if n_rows == 0:
        errors.append((2, "row", "the file has no rows"))
    if errors:
        raise CsvImportError(errors)
    created = []
    with transaction.atomic():
        for cid, f in ok:
            a = Agreement(client=clients[cid], scope=f.scope, value=f.value, spread_adjustment_bp=f.spread_adjustment_bp,
                          max_size=f.max_size, start=f.start, end=f.end, created_by=user)
            _history_user(a, user).save()
            created.append(a)
    return created


CLIENT_CSV_COLUMNS = ("code", "name", "tier", "credit_line")
_CODE_RE = re.compile(r"^[A-Z0-9]{3,16}$")
#: The largest credit line an RM may give a new client of each tier; above it, management imports.
RM_ONBOARDING_CREDIT = {1: Decimal("2000000000"), 2: Decimal("500000000"), 3: Decimal("100000000")}


def clients_import_csv(*, user: Any, text: str) -> list[Client]:
    """Onboard a book of clients from CSV (header: code,name,tier,credit_line[,rm]).

    Validated whole before anything is written: a code not taken (nor twice in the file), a
    name, a tier 1-3, a credit line >= 0 (an RM up to RM_ONBOARDING_CREDIT of the tier), and the
    relationship manager (an RM imports for themselves; management names any RM). Any error ->
    `CsvImportError` with every bad row by line and column, and nothing is written.
    """
    from django.contrib.auth.models import User

    from dealer.roles import RM as RM_ROLE

    if not has_role(user, RM, MANAGEMENT):
        raise Forbidden("Only relationship managers and management may import clients.")
    is_mgmt = has_role(user, MANAGEMENT)
    reader = csv.DictReader(io.StringIO(text.lstrip("\ufeff")))
    header = [h.strip() for h in (reader.fieldnames or [])]
    missing = [c for c in CLIENT_CSV_COLUMNS if c not in header]
    if missing:
        raise CsvImportError([(1, c, "missing column") for c in missing])
    unknown = [c for c in header if c not in CLIENT_CSV_COLUMNS + ("rm",)]
    if unknown:
        raise CsvImportError([(1, c, "unknown column") for c in unknown])
    taken = set(Client.objects.values_list("code", flat=True))
    tiers = {t.number: t for t in Tier.objects.all()}
    rms = {u.username: u for u in User.objects.filter(groups__name=RM_ROLE)}
    errors: list[tuple[int, str, str]] = []
    rows: list[Client] = []
    seen: set[str] = set()
    for row in reader:
        line = reader.line_num
        row = {(k or "").strip(): (v or "").strip() for k, v in row.items() if k is not None}
        code = row.get("code", "")
        if not _CODE_RE.match(code):
            errors.append((line, "code", "must be 3-16 capital letters or digits"))
        elif code in taken or code in seen:
            errors.append((line, "code", f"{code} already exists"))
        seen.add(code)
        if not row.get("name"):
            errors.append((line, "name", "a name is required"))
        tier = tiers.get(int(row["tier"])) if row.get("tier", "").isdigit() else None
        if tier is None:
            errors.append((line, "tier", "must be 1, 2 or 3"))
        try:
            credit = _money(row.get("credit_line", ""), "credit_line")
        except DeskError as exc:
            errors.append((line, "credit_line", exc.message))
            credit = None
        if credit is not None and tier is not None and not is_mgmt and credit > RM_ONBOARDING_CREDIT[tier.number]:
            errors.append((line, "credit_line", f"above {RM_ONBOARDING_CREDIT[tier.number]:,.0f} for Tier "
                                                f"{tier.number} needs management"))
        rm_name = row.get("rm") or ("" if is_mgmt else user.username)
        rm = rms.get(rm_name) if rm_name else None
        if rm_name and rm is None:
            errors.append((line, "rm", f"{rm_name!r} is not a relationship manager"))
        elif not is_mgmt and rm is not None and rm.id != user.id:
            errors.append((line, "rm", "an RM imports clients for themselves"))
        if tier is not None and credit is not None:
            rows.append(Client(code=code, name=row.get("name", ""), tier=tier, rm=rm, credit_line=credit,
                               suggested_tier=tier.number))
    if not rows and not errors:
        errors.append((2, "row", "the file has no rows"))
    if errors:
        raise CsvImportError(errors)
    with transaction.atomic():
        for c in rows:
            _history_user(c, user).save()
    return rows


__all__ = [
    "clients_import_csv", "agreement_create", "agreement_update", "agreement_end", "AgreementEnd",
    "agreement_end_plan", "agreement_value_choices", "interest_create", "interest_delete",
    "client_tier_change", "credit_line_change", "credit_request_decide", "scores_recompute", "score_run_start",
    "score_run_execute", "settings_parse", "settings_preview", "settings_update", "agreements_import_csv",
    "CsvImportError",
]
