"""The embedded default's Celery worker and beat, as threads of the server process.

They consume the in-memory broker that `.delay()` writes to in this same process: tasks go
through the real worker code path (serialization, acks, retries), never `task_always_eager`.
"""
from __future__ import annotations

import threading
import uuid
from typing import Any

from celery import Celery
from celery.beat import EmbeddedService


def start_worker(app: Celery, *, concurrency: int = 1, queues: tuple[str, ...] = ("celery", "pricing", "hedging"),
                 ) -> tuple[Any, threading.Thread]:
    worker = app.WorkController(
        queues=list(queues),
        pool_cls="solo",
        concurrency=concurrency,
        loglevel="WARNING",
        without_heartbeat=True,
        without_mingle=True,
        without_gossip=True,
        optimization="fair",
        hostname=f"embedded-{uuid.uuid4().hex[:8]}@desk",
    )
    thread = threading.Thread(target=worker.start, name="celery-worker", daemon=True)
    thread.start()
    return worker, thread


def stop_worker(app: Celery, worker: Any, thread: threading.Thread, timeout: float = 15.0) -> None:
    """Stop a worker thread from another thread: a remote-control shutdown the worker acts on in
    its own thread (a direct `stop()` from outside blocks on the Redis transport's BRPOP)."""
    app.control.shutdown(destination=[worker.hostname])
    thread.join(timeout)
    if thread.is_alive():
        worker.stop()


def start_beat(app: Celery) -> Any:
    beat = EmbeddedService(app, max_interval=1, thread=True, scheduler_cls="celery.beat:Scheduler")
    beat.start()
    return beat
