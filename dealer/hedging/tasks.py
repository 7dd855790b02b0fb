"""Hedging tasks: thin, idempotent (acks late; a redelivered task changes nothing twice)."""
from __future__ import annotations

from celery import shared_task

from dealer.hedging import services


@shared_task(ignore_result=True, acks_late=True, reject_on_worker_lost=True)
def decide_hedge(trade_id: int) -> int:
    """Decide this trade's hedge and every other trade's still waiting (one batch); a trade an
    earlier batch already decided costs one query."""
    decided = services.hedge_decide_pending(trade_id=trade_id)
    if decided.pending_orders:
        work_orders.delay()
    return len(decided.decisions)


@shared_task(ignore_result=True, acks_late=True, reject_on_worker_lost=True)
def work_orders() -> int:
    return services.orders_work()
