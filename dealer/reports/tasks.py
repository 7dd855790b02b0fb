"""Celery tasks of the reports: thin, id in, service call, safe to run twice."""
from __future__ import annotations

from celery import shared_task

from dealer.reports import services


@shared_task(name="dealer.reports.tasks.update_rollups")
def update_rollups(trade_id: int) -> None:
    services.rollups_apply_trade(int(trade_id))


@shared_task(name="dealer.reports.tasks.refresh_rollups")
def refresh_rollups() -> int:
    """Nightly: recompute the last days so that markouts recorded since booking reach the P&L."""
    return services.rollups_refresh()


@shared_task(name="dealer.reports.tasks.rebuild_rollups")
def rebuild_rollups() -> float:
    return services.rollups_rebuild()


@shared_task(name="dealer.reports.tasks.catch_up_hits")
def catch_up_hits() -> int:
    """Every few seconds: fold RFQs that reached an outcome (expired, rejected, booked) into the hit
    ratios, and hedge fills into the hedge rollups (the same beat entry carries both)."""
    services.hedges_catch_up()
    return services.hits_catch_up()
