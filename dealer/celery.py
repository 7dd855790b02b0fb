"""The Celery application: `celery -A dealer worker` / `celery -A dealer beat`."""
from __future__ import annotations

import gc
import os

from celery import Celery
from celery.signals import beat_init, worker_ready

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "dealer.settings")

app = Celery("dealer")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()


@worker_ready.connect
@beat_init.connect
def _freeze_startup_heap(**_: object) -> None:
    """A worker's startup objects live as long as it does: out of the collector's sight (see
    `dealer.asgi`)."""
    gc.freeze()
