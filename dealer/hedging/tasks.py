"""Hedging tasks: thin, idempotent (acks late; a redelivered task changes nothing twice)."""
from __future__ import annotations

from datetime import timedelta

from celery import shared_task

from dealer.hedging import services
from dealer.runflag import RunFlag, serve

work_flag = RunFlag("hedging:work_orders")  # "a run is queued": nobody waits on its bell


WORK_PAUSE_SECONDS = 0.2


def enqueue_work_orders() -> None:
    """Enqueue one execution run unless one is already waiting: that run works every due order,
    so a burst of decisions queues one run, not one per batch, in front of the next decisions.
    The run starts a moment later (orders reach the venues within a fifth of a second): runs back
    to back, each trying every due order, took the cores from the decisions of a burst."""
    if work_flag.signal():
        work_orders.apply_async(countdown=WORK_PAUSE_SECONDS)


decide_flag = RunFlag("hedging:decide")
# A run claims the trades booked this recently; a trade older than that still without its decision
# (a run died with it) is the straggler sweep's.
RUN_WINDOW = timedelta(seconds=30)


def enqueue_decisions() -> None:
    """After a trade's commit: ring the running decision run, or enqueue one if none is queued."""
    if decide_flag.signal():
        decide_hedges.delay()


def _decide_step() -> int:
    decided = services.hedge_decide_pending(recent=RUN_WINDOW)
    if decided.pending_orders:
        enqueue_work_orders()
    return len(decided.decisions)


@shared_task(ignore_result=True, acks_late=True, reject_on_worker_lost=True)
def decide_hedges() -> int:
    """Decide every trade waiting for its hedge, batch after batch while trades keep coming
    (`dealer.runflag.serve`: every booked trade rings the bell after its commit)."""
    return serve(decide_flag, _decide_step, batch_limit=services.CLAIM_LIMIT,
                 successor=decide_hedges.delay)


@shared_task(ignore_result=True, acks_late=True, reject_on_worker_lost=True)
def decide_hedge(trade_id: int) -> int:
    """Decide this trade's hedge and those of the trades waiting behind it (one batch); a trade
    an earlier batch already decided costs one query."""
    decided = services.hedge_decide_pending(trade_id=trade_id)
    if decided.pending_orders:
        enqueue_work_orders()
    return len(decided.decisions)


@shared_task(ignore_result=True, acks_late=True, reject_on_worker_lost=True)
def work_orders() -> int:
    """Work every due order once. The flag is cleared first, so that an order created while this
    run works enqueues the next run."""
    work_flag.clear()
    return services.orders_work()


@shared_task(ignore_result=True)
def decide_stragglers() -> int:
    """Beat, every few seconds: decide the recent trades still without a decision a while after
    booking (their task was lost: a process died between the commit and the enqueue)."""
    decided = services.hedge_decide_stragglers()
    if decided.pending_orders:
        enqueue_work_orders()
    return len(decided.decisions)
