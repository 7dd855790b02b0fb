"""The FIX acceptor on its own event loop thread, on a free port.

In embedded mode the in-memory channel layer delivers on the loop the publisher is attached to;
`start_fix` attaches it to this loop (as `rundesk` does on uvicorn's), so quotes priced by the
worker reach the FIX sessions.
"""
from __future__ import annotations

import asyncio
import threading
from collections.abc import Iterator
from typing import Any

import pytest


@pytest.fixture(scope="session")
def fix_port(django_db_setup: Any, django_db_blocker: Any) -> Iterator[int]:
    from dealer.desk.fix import start_fix

    loop = asyncio.new_event_loop()
    thread = threading.Thread(target=loop.run_forever, name="fix-test", daemon=True)
    with django_db_blocker.unblock():
        thread.start()
        acceptor = asyncio.run_coroutine_threadsafe(start_fix("127.0.0.1", 0), loop).result(10)
        yield acceptor.port
        asyncio.run_coroutine_threadsafe(acceptor.close(), loop).result(10)
        loop.call_soon_threadsafe(loop.stop)
        thread.join(5)


@pytest.fixture
def fix_server(fix_port: int, worker: Any) -> int:
    """The acceptor's port, with the real Celery worker running (a transactional database)."""
    from dealer.events import attach_to_running_loop  # noqa: F401 - start_fix attached the publisher

    return fix_port
