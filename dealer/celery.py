"""The Celery application: `celery -A dealer worker` / `celery -A dealer beat`."""
from __future__ import annotations

import os

from celery import Celery

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "dealer.settings")

app = Celery("dealer")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()
