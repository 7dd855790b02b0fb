"""Celery tasks of the desk: thin, idempotent, safe to run twice (acks late)."""
from __future__ import annotations

from celery import shared_task
from django.conf import settings

from dealer.desk import pricing_service, services
from dealer.runflag import serve

EXPIRE_LIMIT = 200
EXPIRE_EVERY_SECONDS = 0.025


@shared_task(ignore_result=True, acks_late=True, reject_on_worker_lost=True)
def price_rfqs() -> int:
    """Price every RFQ waiting, batch after batch while they keep coming (`dealer.runflag.serve`:
    every stored RFQ rings the bell after its commit).

    Quiet moments bring the kept pricing context up to date (a market tick is then read outside
    any RFQ's time), and every 25 ms the run expires the quotes that fell due: at 200 RFQs a
    second nearly every quote ends so, and five at a time hold the next RFQ up for well under a
    millisecond, where a hundred every half second held the flow up for 10-20 ms (measured with
    `bench rfq`, whose evenly spaced RFQs leave the run no quiet moment). The beat sweep stays,
    for reviews and for the quotes due while no run is going.
    """
    outbox = pricing_service.outbox if settings.SERVICES_MODE else None
    expiry = services.QuoteExpiry()
    return serve(services.pricing_flag, pricing_service.price_waiting_rfqs, batch_limit=pricing_service.CLAIM_LIMIT,
                 successor=price_rfqs.delay, idle=pricing_service.refresh_context,
                 chores=lambda: expiry.expire(limit=EXPIRE_LIMIT, outbox=outbox), chores_every=EXPIRE_EVERY_SECONDS,
                 outbox=outbox)


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


@shared_task(ignore_result=True)
def keep_statistics() -> int:
    """Keep the planner's statistics current where autovacuum is off (`dealer.db.analyze_stale_tables`)."""
    from dealer.db import analyze_stale_tables

    return len(analyze_stale_tables())
