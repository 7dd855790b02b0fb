"""Run the whole desk in the foreground: `python manage.py rundesk [--init] [--services]`.

Embedded default: one process holding uvicorn and the FIX 4.4 acceptor on one event loop (the
in-memory channel layer delivers on the loop the consumers and FIX sessions wait on), a Celery
worker thread, the beat thread (which ticks the market simulator). Services mode: uvicorn with
several workers, a `celery worker`, a `celery beat` and `runfix` as child processes, all stopped
together on Ctrl-C or SIGTERM. The FIX acceptor listens on 127.0.0.1:`settings.FIX_PORT`; when
that port is taken the error is reported and the rest of the desk keeps running.
"""
from __future__ import annotations

import asyncio
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
        parser.add_argument("--fix-port", type=int, default=None, help="Default: settings.FIX_PORT.")

    def handle(self, *args: Any, **opts: Any) -> None:
        if opts["services"] and not (settings.DATABASE_URL and settings.REDIS_URL):
            raise CommandError("--services needs DATABASE_URL and REDIS_URL in the environment.")
        if opts["init"]:
            call_command("migrate", interactive=False, verbosity=0)
            call_command("seed_demo")
        if not settings.DEBUG:
            # Production static files are served from the hashed manifest: bring it up to date.
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
        # One worker thread for both queues: two in-memory consumers in one process starve each other.
        embedded.start_worker(app, queues=("pricing", "hedging", "celery"))
        embedded.start_beat(app)
        self.stdout.write(f"Dealer desk on http://{opts['host']}:{opts['port']}/ (embedded mode)")
        config = uvicorn.Config(
            "dealer.asgi:application", host=opts["host"], port=opts["port"],
            log_level="warning", timeout_graceful_shutdown=3, lifespan="off",
            ws_per_message_deflate=False,  # desk messages are small: compressing them costs more CPU than it saves
        )
        server = uvicorn.Server(config)
        captured: list[int] = []
        # uvicorn captures SIGINT/SIGTERM while serving and re-raises them to these handlers once
        # it has shut down: record them, close the FIX sessions, then die of the signal as before.
        for sig in (signal.SIGINT, signal.SIGTERM):
            signal.signal(sig, lambda signum, frame: captured.append(signum))
        with asyncio.Runner(loop_factory=config.get_loop_factory()) as runner:
            runner.run(self._serve_embedded(server, self._fix_port(opts)))
        for signum in captured[:1]:
            signal.signal(signum, signal.SIG_DFL)
            signal.raise_signal(signum)

    def _fix_port(self, opts: dict[str, Any]) -> int:
        return int(opts["fix_port"] if opts.get("fix_port") is not None else settings.FIX_PORT)

    async def _serve_embedded(self, server: Any, fix_port: int) -> None:
        """uvicorn and the FIX acceptor on this one loop; a taken FIX port leaves the web desk up."""
        from dealer.desk.fix import start_fix

        acceptor = None
        try:
            acceptor = await start_fix("127.0.0.1", fix_port)
            self.stdout.write(f"FIX 4.4 acceptor on 127.0.0.1:{fix_port} (TargetCompID DEALER)")
        except OSError as exc:
            self.stderr.write(f"FIX acceptor NOT started: cannot listen on 127.0.0.1:{fix_port}: {exc}. "
                              "The rest of the desk keeps running.")
        try:
            await server.serve()
        finally:
            if acceptor is not None:
                await acceptor.close()

    def _run_services(self, opts: dict[str, Any]) -> None:
        py = sys.executable
        children = [
            [py, "-m", "uvicorn", "dealer.asgi:application", "--host", opts["host"], "--port", str(opts["port"]),
             "--workers", str(opts["web_workers"]), "--log-level", "warning", "--lifespan", "off",
             "--ws-per-message-deflate", "false"],
            [py, "-m", "celery", "-A", "dealer", "worker", "-l", "WARNING", "-Q", "pricing", "-P", "solo",
             "-n", "pricing@%h"],
            [py, "-m", "celery", "-A", "dealer", "worker", "-l", "WARNING", "-Q", "hedging", "-P", "solo",
             "-n", "hedging@%h"],
            # Threads, not prefork: under prefork Celery's Django fixup closes the connection pool
            # around every task, so each sweep and tick opened two new PostgreSQL connections.
            [py, "-m", "celery", "-A", "dealer", "worker", "-l", "WARNING", "-Q", "celery", "-P", "threads", "-c", "2",
             "-n", "worker@%h"],
            [py, "-m", "celery", "-A", "dealer", "beat", "-l", "WARNING"],
            [py, "manage.py", "runfix", "--port", str(self._fix_port(opts))],
        ]
        # The general worker (market ticks, sweeps, the simulated venues' fills, nightly jobs) and
        # beat yield the CPU to the processes on a client's critical path (web, pricing, hedge
        # decisions, FIX) whenever those want it (nice 19: measured with bench hedge, a burst's
        # fill attempts at nice 5 took the cores from the decisions, p99 64 ms against 48 ms);
        # on an idle machine they run as before.
        background = {3, 4}
        # The hedging and general workers run the hedge decisions' and fills' ORM statements, a
        # few fixed shapes over and over: bound by the server and prepared there (bench hedge p99
        # 64 -> 50 ms); the web and pricing processes keep Django's client-side binding.
        prepared = {2, 3}
        env = dict(os.environ)
        # The pricing worker commits asynchronously (see settings: nothing it writes is lost for
        # good by a crash), saving a WAL flush per claim and per write on the RFQ's path.
        extra = {1: {"DB_SYNCHRONOUS_COMMIT": "off"}, **{k: {"DB_SERVER_SIDE_BINDING": "1"} for k in prepared}}
        procs = [subprocess.Popen(cmd, cwd=settings.BASE_DIR, env={**env, **extra.get(k, {})},
                                  preexec_fn=(lambda: os.nice(19)) if k in background else None)
                 for k, cmd in enumerate(children)]
        fix_proc: subprocess.Popen[bytes] | None = procs[-1]  # optional: the desk runs on without it (e.g. its port is taken)
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
                    if p is fix_proc and p.poll() is not None:
                        self.stderr.write(f"the FIX acceptor exited with {p.returncode}; the rest of the desk "
                                          "keeps running")
                        procs.remove(p)
                        fix_proc = None
                        break
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
