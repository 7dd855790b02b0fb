"""Versions of the data the pricer keeps in memory between batches.

Reading the whole pricing context (instruments, tiers and limits, switches, agreements, the
market snapshot, positions and axes) costs a dozen queries, more than pricing a batch; it changes
far less often than RFQs arrive. So the pricer keeps it and reloads a part only when its version
moved. A write that changes a part bumps its version twice: at once (a read in the same
transaction, as tests do, sees it) and after commit (a pricer that reloaded between the two
bumps read the old rows and must read again).

With PostgreSQL a version is a sequence (`desk/0005`): a bump is `nextval`, which no transaction
holds back, and the pricing claim reads the versions in the statement that claims the RFQs (no
round trip of its own; a change committed before an RFQ was stored is bumped before that RFQ's
claim reads them). Otherwise (SQLite: the embedded desk is one process) they are counters in
the process.

Parts: `reference` (instruments, tiers, limits, switches, agreements, clients), `book`
(positions, axes), `market` (the simulator: a new snapshot, the stress switch).
"""
from __future__ import annotations

import threading

from django.db import connection, transaction

PARTS = ("reference", "book", "market")
SEQUENCES = tuple(f"desk_ctx_{p}" for p in PARTS)
# The versions as columns of a SELECT (a sequence not yet bumped reads 0).
VERSIONS_SQL = ", ".join(f"(SELECT CASE WHEN is_called THEN last_value ELSE 0 END FROM {s})" for s in SEQUENCES)


class _Versions:
    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.local = dict.fromkeys(PARTS, 0)

    def bump(self, *parts: str) -> None:
        if connection.vendor == "postgresql":
            with connection.cursor() as cursor:
                cursor.execute("SELECT " + ", ".join(f"nextval('desk_ctx_{p}')" for p in parts))
            return
        with self.lock:
            for p in parts:
                self.local[p] += 1

    def read(self) -> tuple[int, ...]:
        if connection.vendor == "postgresql":
            with connection.cursor() as cursor:
                cursor.execute("SELECT " + VERSIONS_SQL)
                return tuple(int(v) for v in cursor.fetchone())
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
