"""The periodic tasks reach beat with a staleness limit, whichever scheduler the mode uses."""
from __future__ import annotations

import pytest
from celery.utils.imports import symbol_by_name

from dealer.celery import app

FREQUENT = ("market-tick", "desk-sweep", "hedge-orders", "hedge-stragglers", "rollups-hits", "planner-statistics")


@pytest.mark.django_db(transaction=True)
def test_frequent_periodic_tasks_expire_instead_of_piling_up() -> None:
    """A sweep or tick that waited in the queue longer than a couple of its periods is dropped:
    a backlog left by a stopped worker would otherwise run hundreds of stale sweeps in front of
    the live ones (seen as seconds of latency on every RFQ after a restart)."""
    scheduler = symbol_by_name(app.conf.beat_scheduler)(app=app, lazy=False)
    entries = scheduler.schedule
    for name in FREQUENT:
        entry = entries[name]
        expires = entry.options.get("expires")
        period = entry.schedule.run_every.total_seconds()
        assert expires is not None, f"{name} has no expiry"
        assert period <= float(expires) <= 3 * period, (name, expires, period)
