from __future__ import annotations

from celery import shared_task

from dealer.market import services


@shared_task(ignore_result=True)
def market_tick() -> int | None:
    snapshot = services.market_tick()
    return snapshot.tick if snapshot else None
