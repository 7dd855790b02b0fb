"""Versions of the data the pricer keeps in memory between batches.

Reading the whole pricing context (instruments, tiers and limits, switches, agreements, the
market snapshot, positions and axes) costs a dozen queries, more than pricing a batch; it changes
far less often than RFQs arrive. So the pricer keeps it and reloads a part only when its version
moved. A write that changes a part bumps its version twice: at once (a read in the same
transaction, as tests do, sees it) and after commit (a pricer that reloaded between the two
bumps read the old rows and must read again). Versions live in Redis in services mode (every
process sees every bump) and in the process in the embedded mode (one process does it all).

Parts: `reference` (instruments, tiers, limits, switches, agreements, clients), `book`
(positions, axes), `market` (the simulator: a new snapshot, the stress switch).
"""
from __future__ import annotations

import os
import threading
from typing import Any

from django.db import transaction

PARTS = ("reference", "book", "market")
KEY = "desk:pricing_context:{}"


class _Versions:
    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.local = dict.fromkeys(PARTS, 0)
        self.client: Any = None
        self.pid = 0

    def _redis(self) -> Any:
        from django.conf import settings

        if not settings.REDIS_URL:
            return None
        if self.client is None or self.pid != os.getpid():
            import redis

            self.client = redis.Redis.from_url(settings.REDIS_URL)
            self.pid = os.getpid()
        return self.client

    def bump(self, *parts: str) -> None:
        r = self._redis()
        if r is not None:
            pipe = r.pipeline(transaction=False)
            for p in parts:
                pipe.incr(KEY.format(p))
            pipe.execute()
            return
        with self.lock:
            for p in parts:
                self.local[p] += 1

    def read(self) -> tuple[int, ...]:
        r = self._redis()
        if r is not None:
            return tuple(int(v or 0) for v in r.mget([KEY.format(p) for p in PARTS]))
        with self.lock:
            return tuple(self.local[p] for p in PARTS)


versions = _Versions()


def changed(*parts: str) -> None:
    """Call where a part's rows change: bumps now and again after commit."""
    versions.bump(*parts)
    transaction.on_commit(lambda: versions.bump(*parts))


def invalidate_all() -> None:
    changed(*PARTS)


def connect_signals() -> None:
    """Every save or delete through the ORM of a model the pricer reads bumps its part."""
    from django.db.models.signals import post_delete, post_save

    from crm.models import Agreement, Client, Tier, TierLimit
    from dealer.desk.models import Axe, Position, Switch
    from dealer.market.models import AssetClass, Instrument, MarketSnapshot, SimulatorState

    parts = {Agreement: "reference", Client: "reference", Tier: "reference", TierLimit: "reference",
             Switch: "reference", AssetClass: "reference", Instrument: "reference", Axe: "book", Position: "book",
             SimulatorState: "market", MarketSnapshot: "market"}
    for model, part in parts.items():
        def receiver(sender: Any, part: str = part, **_: Any) -> None:
            changed(part)

        post_save.connect(receiver, sender=model, weak=False, dispatch_uid=f"pricing-context-{model.__name__}-save")
        if model is not MarketSnapshot:  # pruning old snapshots must stay a fast delete (no rows loaded)
            post_delete.connect(receiver, sender=model, weak=False,
                                dispatch_uid=f"pricing-context-{model.__name__}-delete")
