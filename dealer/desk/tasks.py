"""Celery tasks of the desk: thin, idempotent, safe to run twice (acks late)."""
from __future__ import annotations

import time

from celery import shared_task

from dealer.desk import pricing_service, services


RUN_SECONDS = 1.0
LINGER_SECONDS = 0.05
EMBEDDED_RUN_SECONDS = 0.2  # the embedded worker is one thread for every queue: let the others in


@shared_task(ignore_result=True, acks_late=True, reject_on_worker_lost=True)
def price_rfqs() -> int:
    """Price every RFQ waiting, batch after batch while they keep coming (up to a second).

    After a batch the run claims again at once (RFQs stored meanwhile); after an empty claim it
    waits up to 50 ms for the bell that every new RFQ rings. While it runs the queued flag stays
    up, so new RFQs enqueue no further runs. When it stops, it clears the flag and claims once
    more: an RFQ stored before the clear saw the flag up and enqueued nothing, but was committed
    before this last claim; one stored after it enqueues a new run.
    """
    from django.conf import settings

    priced = 0
    until = time.monotonic() + (RUN_SECONDS if settings.SERVICES_MODE else EMBEDDED_RUN_SECONDS)
    try:
        while time.monotonic() < until:
            n = pricing_service.price_waiting_rfqs()
            priced += n
            if not n:
                pricing_service.refresh_context()  # a new market tick is read now, not in the next RFQ's time
                if not services.pricing_flag.wait(LINGER_SECONDS):
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
