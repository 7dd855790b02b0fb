"""Celery tasks of the relationship side: thin, taking ids, safe to run twice."""
from __future__ import annotations

from celery import shared_task

from crm import services


@shared_task(acks_late=True, ignore_result=True)
def recompute_scores(run_id: int | None = None) -> None:
    """Recompute every client's relationship score (nightly by beat, or a run queued from the page)."""
    services.score_run_execute(run_id=run_id)
