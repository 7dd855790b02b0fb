"""Celery tasks of the desk: thin, idempotent, safe to run twice (acks late)."""
from __future__ import annotations

import time

from celery import shared_task

from dealer.desk import pricing_service, services


RUN_SECONDS = 5.0
EMBEDDED_RUN_SECONDS = 0.2  # the embedded worker is one thread for every queue: let the others in
IDLE_SECONDS = 0.005
LINGER_SECONDS = 0.05
REFRESH_SECONDS = 0.1
KEEP_FLAG_SECONDS = 0.5
EXPIRE_SECONDS = 0.1
EXPIRE_LIMIT = 200


@shared_task(ignore_result=True, acks_late=True, reject_on_worker_lost=True)
def price_rfqs() -> int:
    """Price every RFQ waiting, batch after batch while they keep coming.

    Every stored RFQ rings a bell after its commit, so after a batch the run waits for the bell
    (it is already ringing if an RFQ came meanwhile) and claims again; with no bell for 50 ms it
    stops. Idle moments bring the kept pricing context up to date (a market tick is then read
    outside any RFQ's time), and every 100 ms the run expires the quotes that fell due: at 200
    RFQs a second nearly every quote ends so, and twenty at a time between batches cost the
    flow less than the beat sweep's two hundred at once (which also stays, for reviews and for
    the quotes due while no run is going). While it runs the queued flag stays up (refreshed every half
    second), so new RFQs enqueue no further runs. A run still busy at its time limit enqueues its
    successor before it returns, the flag left up: the next run is already in the queue when this
    one is acknowledged, so a steady flow never waits for an RFQ to notice that nobody is
    pricing. A run that stops for want of RFQs clears the flag and claims once more: an RFQ
    stored before the clear saw the flag up and enqueued nothing, but was committed before this
    last claim; one stored after it enqueues a new run.
    """
    from django.conf import settings

    flag = services.pricing_flag
    now = time.monotonic()
    until = now + (RUN_SECONDS if settings.SERVICES_MODE else EMBEDDED_RUN_SECONDS)
    keep_at = now + KEEP_FLAG_SECONDS
    expire_at = now
    refreshed_at = now
    handed_over = False
    try:
        n = priced = pricing_service.price_waiting_rfqs()
        while True:
            now = time.monotonic()
            if now >= until:
                flag.keep()
                price_rfqs.delay()
                handed_over = True
                break
            if now >= keep_at:
                flag.keep()
                keep_at = now + KEEP_FLAG_SECONDS
            if now >= expire_at:
                services.expire_due(limit=EXPIRE_LIMIT, reviews=False)
                expire_at = now + EXPIRE_SECONDS
            if n < pricing_service.CLAIM_LIMIT and not flag.wait(IDLE_SECONDS):
                if now - refreshed_at >= REFRESH_SECONDS:
                    pricing_service.refresh_context()
                    refreshed_at = time.monotonic()
                if not flag.wait(LINGER_SECONDS):
                    break
            n = pricing_service.price_waiting_rfqs()
            priced += n
    finally:
        if not handed_over:
            flag.clear()
    if handed_over:
        return priced
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
