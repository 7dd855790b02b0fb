"""Run the whole desk in the foreground: `python manage.py rundesk [--init] [--services]`.

Embedded default: one process holding uvicorn, a Celery worker thread, the beat thread (which
ticks the market simulator). Services mode: uvicorn with several workers, a
`celery worker` and a `celery beat` as child processes, all stopped together on Ctrl-C or SIGTERM.
"""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from typing import Any

from django.conf import settings
from django.core.management import call_command
from django.core.management.base import BaseCommand, CommandError


class Command(BaseCommand):
    help = "Run the dealer desk (server, Celery worker and beat, market simulator)."

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument("--init", action="store_true", help="Migrate and seed the demo book first.")
        parser.add_argument("--services", action="store_true", help="Services mode (needs DATABASE_URL and REDIS_URL).")
        parser.add_argument("--host", default="127.0.0.1")
        parser.add_argument("--port", type=int, default=8000)
        parser.add_argument("--web-workers", type=int, default=2)

    def handle(self, *args: Any, **opts: Any) -> None:
        if opts["services"] and not (settings.DATABASE_URL and settings.REDIS_URL):
            raise CommandError("--services needs DATABASE_URL and REDIS_URL in the environment.")
        if opts["init"]:
            call_command("migrate", interactive=False, verbosity=0)
            call_command("seed_demo")
            if not settings.DEBUG:
                call_command("collectstatic", interactive=False, verbosity=0)
        if opts["services"]:
            self._run_services(opts)
        else:
            self._run_embedded(opts)

    def _run_embedded(self, opts: dict[str, Any]) -> None:
        import uvicorn

        from dealer import embedded
        from dealer.celery import app

        if settings.SERVICES_MODE:
            raise CommandError("REDIS_URL is set: run with --services (or unset it for the embedded desk).")
        embedded.start_worker(app)
        embedded.start_beat(app)
        self.stdout.write(f"Dealer desk on http://{opts['host']}:{opts['port']}/ (embedded mode)")
        uvicorn.run(
            "dealer.asgi:application", host=opts["host"], port=opts["port"],
            log_level="warning", timeout_graceful_shutdown=3, lifespan="off",
        )

    def _run_services(self, opts: dict[str, Any]) -> None:
        py = sys.executable
        children = [
            [py, "-m", "uvicorn", "dealer.asgi:application", "--host", opts["host"], "--port", str(opts["port"]),
             "--workers", str(opts["web_workers"]), "--log-level", "warning", "--lifespan", "off"],
            [py, "-m", "celery", "-A", "dealer", "worker", "-l", "WARNING", "-c", "2", "-n", "worker@%h"],
            [py, "-m", "celery", "-A", "dealer", "beat", "-l", "WARNING"],
        ]
        procs = [subprocess.Popen(cmd, cwd=settings.BASE_DIR) for cmd in children]
        self.stdout.write(f"Dealer desk on http://{opts['host']}:{opts['port']}/ (services mode)")
        stopping = False

        def stop(signum: int, frame: Any) -> None:
            nonlocal stopping
            stopping = True

        signal.signal(signal.SIGTERM, stop)
        signal.signal(signal.SIGINT, stop)
        code = 0
        try:
            while not stopping:
                for p in procs:
                    if p.poll() is not None:
                        self.stderr.write(f"{p.args[2:5]} exited with {p.returncode}; stopping the desk")
                        code = p.returncode or 1
                        stopping = True
                time.sleep(0.3)
        finally:
            for p in procs:
                if p.poll() is None:
                    p.send_signal(signal.SIGTERM)
            deadline = time.time() + 10
            for p in procs:
                try:
                    p.wait(max(0.1, deadline - time.time()))
                except subprocess.TimeoutExpired:
                    p.kill()
        if code:
            os._exit(code)
