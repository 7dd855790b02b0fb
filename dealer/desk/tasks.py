"""Celery tasks of the desk: thin, idempotent, safe to run twice (acks late)."""
from __future__ import annotations

from celery import shared_task

from dealer.desk import pricing_service, services


@shared_task(ignore_result=True, acks_late=True, reject_on_worker_lost=True)
def price_rfqs() -> int:
    """Price every RFQ waiting (one call prices the whole backlog)."""
    services.pricing_flag.clear()
    return pricing_service.price_waiting_rfqs()


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
