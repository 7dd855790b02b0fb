"""Reads of clients, with the access rule: an RM sees their own clients, management and the desk all."""
from __future__ import annotations

from datetime import date, timedelta
from typing import Any

from django.db.models import Q, QuerySet

from crm.models import Agreement, Client
from dealer.errors import NotFound
from dealer.roles import MANAGEMENT, RM, SENIOR_TRADER, TRADER, has_role


def clients_for_user(user: Any) -> QuerySet[Client]:
    qs = Client.objects.select_related("tier", "rm")
    if has_role(user, MANAGEMENT, TRADER, SENIOR_TRADER):
        return qs
    if has_role(user, RM):
        return qs.filter(rm=user)
    return qs.none()


def client_get_for_user(*, user: Any, code: str) -> Client:
    """The same NotFound for a missing client and another RM's client, so nothing leaks."""
    client = clients_for_user(user).filter(code=code).first()
    if client is None:
        raise NotFound("No such client.")
    return client


def current_agreements(*, client_ids: list[int], on: date) -> dict[int, list[Agreement]]:
    out: dict[int, list[Agreement]] = {}
    for a in Agreement.objects.filter(client_id__in=client_ids, start__lte=on, end__gte=on).order_by("id"):
        out.setdefault(a.client_id, []).append(a)
    return out


def agreement_applies(a: Agreement, *, isin: str, issuer: str, sector: str, side: str) -> bool:
    if a.scope == "all":
        return True
    target = {"instrument": isin, "issuer": issuer, "sector": sector, "side": side}[a.scope]
    return (a.value or "") == target


def client_payload(client: Client) -> dict[str, Any]:
    latest = client.scores.order_by("-computed_at").first()
    return {
        "code": client.code,
        "name": client.name,
        "tier": client.tier.number,
        "suggested_tier": client.suggested_tier or client.tier.number,
        "score": float(client.score) if client.score is not None else 0.0,
        "components": {
            "volume": latest.volume if latest else 0.0,
            "profitability": latest.profitability if latest else 0.0,
            "flow_quality": latest.flow_quality if latest else 0.0,
            "diversification": latest.diversification if latest else 0.0,
        },
        "rm": client.rm.username if client.rm else None,
        "credit_line": str(client.credit_line),
        "credit_used": str(client.credit_used),
        "agreements": [agreement_payload(a) for a in client.agreements.all().order_by("start", "id")],
        "interests": [
            {"id": i.id, "scope": i.scope, "value": i.value, "side": i.side} for i in client.interests.all().order_by("id")
        ],
    }


def agreement_payload(a: Agreement) -> dict[str, Any]:
    return {
        "id": a.id, "scope": a.scope, "value": a.value, "spread_adjustment_bp": a.spread_adjustment_bp,
        "max_size": str(a.max_size) if a.max_size is not None else None,
        "start": a.start.isoformat(), "end": a.end.isoformat(),
    }


def agreement_value_options() -> dict[str, list[tuple[str, str]]]:
    """Per agreement or interest scope, the known values and a label: ISINs, issuers, sectors, sides."""
    from dealer.market.models import Instrument

    isins = list(Instrument.objects.order_by("isin").values_list("isin", "description"))
    issuers = sorted({v for v in Instrument.objects.values_list("issuer", flat=True) if v})
    sectors = sorted({v for v in Instrument.objects.values_list("sector", flat=True) if v})
    return {"instrument": isins, "issuer": [(v, v) for v in issuers], "sector": [(v, v) for v in sectors],
            "side": [("buy", "the client buys"), ("sell", "the client sells")]}


def agreements_for_page(*, client: Client, on: date | None = None) -> list[Agreement]:
    """The client's agreements, newest start first, each with `state` (ended, current, future),
    `used` (a quote was shaped by it) and `end_plan` (what "End" would do, see
    `crm.services.agreement_end_plan`; None once ended).  Two queries."""
    from django.utils import timezone

    from crm.services import agreement_end_plan
    from dealer.desk.models import Quote

    on = on or timezone.now().date()
    rows = list(client.agreements.select_related("created_by").order_by("-start", "id"))
    used = set(Quote.objects.filter(agreement_id__in=[a.id for a in rows]).values_list("agreement_id", flat=True)
               .distinct()) if rows else set()
    for a in rows:
        a.used = a.id in used  # type: ignore[attr-defined]
        a.state = "ended" if a.end < on else ("future" if a.start > on else "current")  # type: ignore[attr-defined]
        a.end_plan = None if a.end < on else agreement_end_plan(a, on=on, used=a.used)  # type: ignore[attr-defined]
        a.end_after = {"end_yesterday": on - timedelta(days=1), "end_today": on}.get(a.end_plan)  # type: ignore[attr-defined]
    return rows


def search_filter(qs: QuerySet[Client], text: str | None) -> QuerySet[Client]:
    if not text:
        return qs
    return qs.filter(Q(code__icontains=text) | Q(name__icontains=text))


# --------------------------------------------------------------------------- the RM workspace

SORTS = {
    "code": "code", "name": "name", "tier": "tier__number", "suggested": "suggested_tier", "score": "score",
    "trend": "score_change", "volume": "latest_score__notional", "pnl": "latest_score__pnl",
    "hit": "latest_score__hit_ratio", "toxicity": "latest_score__toxicity_bp", "rm": "rm__username",
}


def clients_table(*, user: Any, q: str | None = None, tier: str | None = None, sort: str | None = None,
                  desc: bool = False, mismatch: bool = False, rm: str | None = None) -> QuerySet[Client]:
    """The "my clients" list: one query, the trailing metrics read from each client's latest score row."""
    from django.db.models import F

    qs = search_filter(clients_for_user(user), q).select_related("latest_score")
    if tier in ("1", "2", "3"):
        qs = qs.filter(tier__number=int(tier))
    if mismatch:
        qs = qs.exclude(suggested_tier__isnull=True).exclude(suggested_tier=F("tier__number"))
    if rm:
        qs = qs.filter(rm__username=rm)
    key = SORTS.get(sort or "", "code")
    order = F(key).desc(nulls_last=True) if desc else F(key).asc(nulls_last=True)
    return qs.order_by(order, "code")


def score_history(*, client: Client, limit: int = 400) -> list[dict[str, Any]]:
    rows = client.scores.order_by("-computed_at").values(
        "computed_at", "score", "volume", "profitability", "flow_quality", "diversification", "suggested_tier")[:limit]
    out = [dict(r, computed_at=r["computed_at"].isoformat()) for r in rows]
    out.reverse()
    return out


def recent_rfqs(*, client: Client, limit: int = 20) -> list[Any]:
    from dealer.desk.models import Rfq

    return list(Rfq.objects.filter(client=client).select_related("instrument", "quote").order_by("-received_at")[:limit])


def recent_trades(*, client: Client, limit: int = 20) -> list[Any]:
    from dealer.desk.models import Trade

    return list(Trade.objects.filter(client=client).select_related("instrument").order_by("-booked_at")[:limit])


def _diff_rows(records: list[Any], label: Any, fields: list[str]) -> list[dict[str, Any]]:
    """Consecutive history rows of each object -> entries with (field, before, after)."""
    out = []
    prev_by_id: dict[int, Any] = {}
    for r in sorted(records, key=lambda h: (h.history_date, h.history_id)):
        prev = prev_by_id.get(r.id)
        if r.history_type == "+":
            changes = [(f, None, getattr(r, f)) for f in fields if getattr(r, f) not in (None, "")]
            action = "created"
        elif r.history_type == "-":
            changes = [(f, getattr(r, f), None) for f in fields if getattr(r, f) not in (None, "")]
            action = "deleted"
        else:
            changes = [(f, getattr(prev, f) if prev else None, getattr(r, f)) for f in fields
                       if (prev is None and getattr(r, f) not in (None, ""))
                       or (prev is not None and getattr(prev, f) != getattr(r, f))]
            action = "changed"
        prev_by_id[r.id] = r
        if action == "changed" and not changes:
            continue
        out.append({"when": r.history_date, "who": r.history_user.username if r.history_user else "system",
                    "what": label(r), "action": action, "reason": getattr(r, "history_change_reason", "") or "",
                    "changes": [{"field": f, "before": b, "after": a} for f, b, a in changes]})
    return out


def client_audit(*, client: Client, limit: int = 200) -> list[dict[str, Any]]:
    """Who changed what on this client, when, before and after: the client, agreements, interests, credit."""
    from crm.models import CreditLineRequest, Interest

    entries: list[dict[str, Any]] = []
    entries += _diff_rows(list(client.history.select_related("history_user", "tier")),
                          lambda r: "client", ["tier_id", "tier_reason", "credit_line", "rm_id", "name", "active"])
    entries += _diff_rows(list(Agreement.history.filter(client_id=client.id).select_related("history_user")),
                          lambda r: f"agreement #{r.id}",
                          ["scope", "value", "spread_adjustment_bp", "max_size", "start", "end"])
    entries += _diff_rows(list(Interest.history.filter(client_id=client.id).select_related("history_user")),
                          lambda r: f"interest #{r.id}", ["scope", "value", "side"])
    entries += _diff_rows(list(CreditLineRequest.history.filter(client_id=client.id).select_related("history_user")),
                          lambda r: f"credit request #{r.id}", ["current", "requested", "status", "reason"])
    for e in entries:
        for c in e["changes"]:
            if c["field"] == "tier_id":
                c["field"] = "tier"
                from crm.models import Tier

                numbers = dict(Tier.objects.values_list("id", "number"))
                c["before"] = numbers.get(c["before"], c["before"])
                c["after"] = numbers.get(c["after"], c["after"])
            if c["field"] == "rm_id":
                c["field"] = "rm"
    entries.sort(key=lambda e: e["when"], reverse=True)
    return entries[:limit]
