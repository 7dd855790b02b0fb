"""Hedging tasks: thin, idempotent (acks late; a redelivered task changes nothing twice)."""
from __future__ import annotations

from celery import shared_task

from dealer.hedging import services


@shared_task(ignore_result=True, acks_late=True, reject_on_worker_lost=True)
def decide_hedge(trade_id: int) -> str:
    decision = services.hedge_decide(trade_id=trade_id)
    if decision.orders.filter(status="pending").exists():
        work_orders.delay()
    return decision.decision


@shared_task(ignore_result=True, acks_late=True, reject_on_worker_lost=True)
def work_orders() -> int:
    return services.orders_work()
