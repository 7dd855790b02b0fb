"""Run the FIX 4.4 acceptor alone: `python manage.py runfix [--host H] [--port P]`.

Services mode starts it as one of `rundesk`'s children: its own asyncio loop, with the Redis
channel layer carrying the quotes priced by the Celery workers. Stops on Ctrl-C or SIGTERM.
A taken port is reported and the command exits with status 3 (`rundesk` keeps the rest running).
"""
from __future__ import annotations

import asyncio
import contextlib
import signal
import sys
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand

PORT_TAKEN_EXIT = 3


class Command(BaseCommand):
    help = "Run the FIX 4.4 acceptor (QuoteRequest -> Quote, NewOrderSingle -> ExecutionReport)."

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument("--host", default="127.0.0.1")
        parser.add_argument("--port", type=int, default=None, help="Default: settings.FIX_PORT.")

    def handle(self, *args: Any, **opts: Any) -> None:
        port = opts["port"] if opts["port"] is not None else settings.FIX_PORT
        try:
            asyncio.run(self._main(opts["host"], port))
        except OSError as exc:
            self.stderr.write(f"FIX acceptor: cannot listen on {opts['host']}:{port}: {exc}")
            sys.exit(PORT_TAKEN_EXIT)
        except KeyboardInterrupt:
            pass

    async def _main(self, host: str, port: int) -> None:
        from dealer.desk.fix import start_fix

        acceptor = await start_fix(host, port)
        self.stdout.write(f"FIX 4.4 acceptor on {host}:{acceptor.port} (TargetCompID DEALER)")
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            with contextlib.suppress(NotImplementedError, RuntimeError):
                loop.add_signal_handler(sig, stop.set)
        try:
            await stop.wait()
        finally:
            await acceptor.close()
