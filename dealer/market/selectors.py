"""Reads of the market: the latest snapshot (cached per tick), mids, instruments."""
from __future__ import annotations

import threading
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
from django.db import connection
from django.db.models import QuerySet

from dealer.market.models import Instrument, MarketSnapshot, PackedArrays


def latest_snapshot_row() -> MarketSnapshot | None:
    return MarketSnapshot.objects.order_by("-tick").first()


@dataclass(frozen=True)
class Snapshot:
    key: tuple[Any, ...]
    tick: int
    stressed: bool
    arrays: Mapping[str, np.ndarray]


_cache: dict[str, Snapshot] = {}
_lock = threading.Lock()


def latest_snapshot() -> Snapshot | None:
    """The newest snapshot's arrays; decoded once per tick per process (and each array on first
    use). Plain SQL: the pricer reads it at every tick, and the ORM cost more than the reads."""
    table = MarketSnapshot._meta.db_table
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT id, tick, taken_at, stressed FROM {table} ORDER BY tick DESC LIMIT 1")
        head = cursor.fetchone()
        if head is None:
            return None
        head = tuple(head)
        with _lock:
            cached = _cache.get("latest")
            if cached is not None and cached.key == head:
                return cached
        cursor.execute(f"SELECT arrays FROM {table} WHERE id = %s", [head[0]])
        row = cursor.fetchone()
    if row is None:
        return None
    snap = Snapshot(key=head, tick=head[1], stressed=bool(head[3]), arrays=PackedArrays(bytes(row[0])))
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
