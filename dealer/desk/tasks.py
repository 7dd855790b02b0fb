"""Celery tasks of the desk: thin, idempotent, safe to run twice (acks late)."""
from __future__ import annotations

import time

from celery import shared_task

from dealer.desk import pricing_service, services


RUN_SECONDS = 1.0


@shared_task(ignore_result=True, acks_late=True, reject_on_worker_lost=True)
def price_rfqs() -> int:
    """Price every RFQ waiting, batch after batch while they keep coming (up to a second).

    While the run goes on, the queued flag stays up, so new RFQs enqueue no further runs: the
    next batch claims them. Once a claim comes back empty (or the second is up) the flag is
    cleared and one last claim takes the RFQs stored while it still stood; later ones enqueue a
    new run.
    """
    priced = 0
    until = time.monotonic() + RUN_SECONDS
    try:
        while True:
            n = pricing_service.price_waiting_rfqs()
            priced += n
            if not n or time.monotonic() > until:
                break
    finally:
        services.pricing_flag.clear()
    return priced + pricing_service.price_waiting_rfqs()


@shared_task(ignore_result=True)
def sweep() -> dict[str, int]:
    """Expire quotes and reviews on time, re-queue stuck RFQs, record due markouts."""
    return {
        "expired": services.expire_due(),
        "requeued": services.requeue_stuck(),
        "markouts": services.record_markouts(),
    }


@shared_task(ignore_result=True)
def refit_winprob() -> int:
    """Nightly: refit the win-probability model to the latest RFQ outcomes."""
    from dealer.desk.recommend import winprob_fit

    model = winprob_fit()
    return model.n_obs if model else 0
