"""Shared personas, the demo reference book, a real Celery worker and a live ASGI server.

Tests that need the worker or the live server use the `transactional_db` fixture, because the
worker thread and the server reach the database over their own connections.
"""
from __future__ import annotations

import socket
import threading
import time
from typing import Any, Iterator

import pytest
from django.conf import settings


@pytest.fixture(autouse=True, scope="session")
def _test_settings() -> None:
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
    # Tests run from the source tree: no collectstatic manifest, assets found by the finders.
    settings.STORAGES = {**settings.STORAGES,
                         "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"}}
    # Tests check the hit ratios right after the outcomes (one test covers the settling window).
    settings.HITS_SETTLED_SECONDS = 0.0


@pytest.fixture
def book(db: Any) -> Any:
    """The demo reference book without history: instruments, tiers, people, 12 clients, a market."""
    from dealer.seeding import seed_demo

    seed_demo(seed=7, n_clients=12, n_trades=0)
    return Personas()


class Personas:
    """Fixed people of the demo book, looked up lazily."""

    def user(self, name: str) -> Any:
        from django.contrib.auth.models import User

        return User.objects.get(username=name)

    def client(self, code: str) -> Any:
        from crm.models import Client

        return Client.objects.select_related("tier", "user").get(code=code)

    def token(self, code_or_user: str) -> str:
        from rest_framework.authtoken.models import Token

        from crm.models import Client

        client = Client.objects.filter(code=code_or_user).first()
        if client is not None:
            from django.core.management import call_command
            from io import StringIO

            out = StringIO()
            call_command("create_api_token", code_or_user, stdout=out)
            return out.getvalue().strip()
        return Token.objects.get_or_create(user=self.user(code_or_user))[0].key

    def isin(self, asset_class: str = "ig_corp", n: int = 0, rfq_enabled: bool = True) -> str:
        from dealer.market.models import Instrument

        return Instrument.objects.filter(asset_class__code=asset_class, rfq_enabled=rfq_enabled).order_by(
            "sim_index")[n].isin


class WorkerHandle:
    """The embedded Celery worker thread, which a test may stop and start again."""

    def __init__(self) -> None:
        self.worker: Any = None
        self.thread: Any = None

    def start(self) -> None:
        from dealer import embedded
        from dealer.celery import app

        self.worker, self.thread = embedded.start_worker(app)
        deadline = time.time() + 20
        while not getattr(self.worker, "consumer", None) or not self.worker.consumer.connection:
            if time.time() > deadline:
                raise RuntimeError("the Celery worker did not start")
            time.sleep(0.05)

    def stop(self) -> None:
        if self.worker is not None:
            from dealer import embedded
            from dealer.celery import app

            embedded.stop_worker(app, self.worker, self.thread)
            self.worker = None

    def restart(self) -> None:
        self.stop()
        self.start()

    def drain(self, timeout: float = 15.0) -> None:
        """Drop the tasks still queued and wait for the running one, so that the test database
        is flushed only once no task of this test is left working on it."""
        from celery.worker import state

        from dealer.celery import app

        from dealer.desk.services import pricing_flag

        app.control.purge()
        pricing_flag.clear()  # the purge dropped any queued pricing run the flag stands for
        from dealer.hedging.tasks import decide_flag, work_flag

        decide_flag.clear()
        work_flag.clear()
        from dealer.hedging.services import _seen_through

        _seen_through.clear()  # the next test's trades may be booked at any time
        from dealer.desk.context_versions import invalidate_all

        invalidate_all()  # the flush that follows sends no signals: the pricer must read anew
        deadline = time.time() + timeout
        while state.active_requests and time.time() < deadline:
            time.sleep(0.05)


@pytest.fixture(scope="session")
def celery_worker_thread(django_db_setup: Any, django_db_blocker: Any) -> Iterator[WorkerHandle]:
    """The embedded Celery worker (real worker path) consuming the configured broker."""
    handle = WorkerHandle()
    with django_db_blocker.unblock():
        handle.start()
        yield handle
        handle.stop()


@pytest.fixture
def worker(celery_worker_thread: WorkerHandle, transactional_db: Any) -> Iterator[WorkerHandle]:
    if celery_worker_thread.worker is None:
        celery_worker_thread.start()
    yield celery_worker_thread
    celery_worker_thread.drain()


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class LiveServer:
    def __init__(self, port: int):
        self.port = port
        self.url = f"http://127.0.0.1:{port}"
        self.ws_url = f"ws://127.0.0.1:{port}"


@pytest.fixture(scope="session")
def asgi_server(django_db_setup: Any, django_db_blocker: Any) -> Iterator[LiveServer]:
    """uvicorn serving dealer.asgi in a thread, on a free port."""
    import uvicorn

    from dealer.asgi import application

    port = _free_port()
    config = uvicorn.Config(application, host="127.0.0.1", port=port, lifespan="off", log_level="warning",
                            ws="websockets-sansio")
    server = uvicorn.Server(config)
    with django_db_blocker.unblock():
        thread = threading.Thread(target=server.run, daemon=True, name="uvicorn-test")
        thread.start()
        deadline = time.time() + 20
        while not server.started:
            if time.time() > deadline:
                raise RuntimeError("uvicorn did not start")
            time.sleep(0.05)
        yield LiveServer(port)
        application.application_mapping["http"].close_pool()  # its connections would keep the test database open
        server.should_exit = True
        thread.join(5)


@pytest.fixture
def live(asgi_server: LiveServer, worker: Any) -> LiveServer:
    return asgi_server
