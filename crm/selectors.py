"""Reads of clients, with the access rule: an RM sees their own clients, management and the desk all."""
from __future__ import annotations

from datetime import date
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


def search_filter(qs: QuerySet[Client], text: str | None) -> QuerySet[Client]:
    if not text:
        return qs
    return qs.filter(Q(code__icontains=text) | Q(name__icontains=text))
