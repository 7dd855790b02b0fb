"""Reads of the market: the latest snapshot (cached per tick), mids, instruments."""
from __future__ import annotations

import threading
from dataclasses import dataclass
from typing import Any

import numpy as np
from django.db.models import QuerySet

from dealer.market.models import Instrument, MarketSnapshot


def latest_snapshot_row() -> MarketSnapshot | None:
    return MarketSnapshot.objects.order_by("-tick").first()


@dataclass(frozen=True)
class Snapshot:
    key: tuple[Any, ...]
    tick: int
    stressed: bool
    arrays: dict[str, np.ndarray]


_cache: dict[str, Snapshot] = {}
_lock = threading.Lock()


def latest_snapshot() -> Snapshot | None:
    """The newest snapshot's arrays; decoded once per tick per process."""
    head = MarketSnapshot.objects.order_by("-tick").values_list("id", "tick", "taken_at", "stressed").first()
    if head is None:
        return None
    with _lock:
        cached = _cache.get("latest")
        if cached is not None and cached.key == head:
            return cached
    row = MarketSnapshot.objects.filter(id=head[0]).first()
    if row is None:
        return None
    snap = Snapshot(key=(row.id, row.tick, row.taken_at, row.stressed), tick=row.tick, stressed=row.stressed, arrays=row.unpack())
    with _lock:
        _cache["latest"] = snap
    return snap


def sim_index_by_id() -> dict[int, int]:
    return dict(Instrument.objects.values_list("id", "sim_index"))


def current_mids() -> dict[int, float]:
    snap = latest_snapshot()
    if snap is None:
        return {}
    mid = snap.arrays["mid"]
    return {iid: float(mid[idx]) for iid, idx in sim_index_by_id().items() if idx < mid.size}


def instruments(*, asset_class: str | None = None, rfq_enabled: bool | None = None) -> QuerySet[Instrument]:
    qs = Instrument.objects.select_related("asset_class").order_by("sim_index")
    if asset_class:
        qs = qs.filter(asset_class__code=asset_class)
    if rfq_enabled is not None:
        qs = qs.filter(rfq_enabled=rfq_enabled)
    return qs
