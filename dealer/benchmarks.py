"""Benchmarks of the platform, measured from the outside where a user would stand."""
from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
import time
from typing import Any, Iterator

import numpy as np
from django.conf import settings
from django.core.management import call_command
from django.db import transaction

Figure = tuple[str, Any, str]
WARMUP = 20


def _prepare(*, history: bool = False) -> None:
    import logging

    logging.getLogger("httpx").setLevel(logging.WARNING)
    call_command("migrate", interactive=False, verbosity=0)
    from crm.models import Client

    if not Client.objects.filter(code="CLT0010").exists():
        from dealer.seeding import seed_demo

        seed_demo(n_clients=300, n_trades=20_000 if history else 0)
    from django.db import connection

    if connection.vendor == "postgresql":
        # Planner statistics and visibility maps as autovacuum keeps them on a desk that has been
        # running (this machine's PostgreSQL runs without it), and the seeding's writes flushed,
        # so that the first run measures the desk and not its database catching up.
        with connection.cursor() as cursor:
            cursor.execute("VACUUM ANALYZE")
            cursor.execute("CHECKPOINT")


def bench_seed(*, trades: int = 1_000_000, **_: Any) -> Iterator[Figure]:
    """Write `trades` trades of history (with their RFQs, quotes and markouts)."""
    _prepare()
    import numpy as np

    from crm.models import Client
    from dealer.desk.models import Trade
    from dealer.seeding import _history

    clients = list(Client.objects.select_related("tier").order_by("id"))
    keep = not Trade.objects.filter(rfq__channel="history").exists()
    started = time.perf_counter()
    with transaction.atomic():
        n_trades, n_rfqs = _history(11, trades, clients, np.random.default_rng(11))
        if not keep:
            transaction.set_rollback(True)
    elapsed = time.perf_counter() - started
    yield ("seed_1000000_trades" if trades == 1_000_000 else f"seed_{trades}_trades", f"{elapsed:.1f}", "s")
    yield ("seed_rows_per_s", f"{(n_trades * 6 + n_rfqs * 2) / elapsed:.0f}", "rows/s")
    yield ("seed_kept", "yes" if keep else "no (rolled back: history was already there)", "")
    yield ("database", settings.DATABASES["default"]["ENGINE"].rsplit(".", 1)[-1], "")


class _Desk:
    """Starts the platform (embedded or services mode) as a child process for a bench."""

    def __init__(self, port: int):
        self.port = port
        self.proc: subprocess.Popen[bytes] | None = None

    def __enter__(self) -> "_Desk":
        cmd = [sys.executable, "manage.py", "rundesk", "--port", str(self.port)]
        env = dict(os.environ)
        if settings.SERVICES_MODE:
            cmd += ["--services"]
            env.setdefault("HTTPS", "0")
            env.setdefault("SECRET_KEY", settings.SECRET_KEY)
        self.proc = subprocess.Popen(cmd, cwd=settings.BASE_DIR, env=env, start_new_session=True,
                                     stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        import httpx

        deadline = time.time() + 60
        while time.time() < deadline:
            try:
                if httpx.get(f"http://127.0.0.1:{self.port}/healthz", timeout=1).status_code == 200:
                    return self
            except httpx.HTTPError:
                pass
            time.sleep(0.3)
        self.__exit__()
        raise RuntimeError("the desk did not become healthy within 60 s")

    def __exit__(self, *exc: Any) -> None:
        if self.proc and self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(15)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)


def _cpu_seconds(session: int, database: str) -> dict[str, float]:
    """CPU seconds so far of the desk's processes (its session), its database's backends and
    Redis, by role; empty where /proc is not there."""
    out: dict[str, float] = {}
    if not os.path.isdir("/proc"):
        return out
    tick = os.sysconf("SC_CLK_TCK")
    roles = [("-Q pricing", "pricing_worker"), ("-Q hedging", "hedging_worker"), ("-Q celery", "general_worker"),
             (" beat", "beat"), ("spawn_main", "web"), ("runfix", "fix"), ("rundesk", "supervisor")]
    for pid in os.listdir("/proc"):
        if not pid.isdigit():
            continue
        try:
            with open(f"/proc/{pid}/stat") as f:
                fields = f.read().rsplit(")", 1)[1].split()
            with open(f"/proc/{pid}/cmdline", "rb") as f:
                cmd = f.read().replace(b"\0", b" ").decode(errors="replace")
        except OSError:
            continue
        cpu = (int(fields[11]) + int(fields[12])) / tick
        if int(fields[3]) == session:
            role = next((name for key, name in roles if key in cmd), "other")
        elif cmd.startswith("postgres:") and f" {database} " in cmd:
            role = "postgres"
        elif cmd.startswith("redis-server"):
            role = "redis"
        elif int(pid) == os.getpid():
            role = "load_generator"
        else:
            continue
        out[role] = out.get(role, 0.0) + cpu
    return out


def _percentiles(ms: list[float]) -> tuple[float, float]:
    if not ms:
        return float("nan"), float("nan")
    a = np.array(ms)
    return float(np.percentile(a, 50)), float(np.percentile(a, 99))


def _run_loop(coro: Any) -> Any:
    """Run the load generator on uvloop when it is there (it is uvicorn's loop too): less CPU
    taken from the desk being measured."""
    try:
        import uvloop
    except ImportError:
        return asyncio.run(coro)
    return uvloop.run(coro)


def _token(code: str) -> str:
    from io import StringIO

    out = StringIO()
    call_command("create_api_token", code, stdout=out)
    return out.getvalue().strip()


def bench_rfq(*, rate: float = 200.0, duration: float = 60.0, port: int = 8765, dump: str | None = None,
              **_: Any) -> Iterator[Figure]:
    """Tier 2 and 3 RFQs over REST at a steady rate; intake to quote received on the client's websocket."""
    _prepare()
    from dealer.market.models import Instrument

    codes = ["CLT0004", "CLT0005", "CLT0006", "CLT0007", "CLT0008", "CLT0009", "CLT0010"]
    tokens = {c: _token(c) for c in codes}
    isins = list(Instrument.objects.filter(rfq_enabled=True, liquidity_bucket__lte=3).values_list("isin", flat=True)[:100])
    run_id = f"b{int(time.time())}"
    with _Desk(port) as desk:
        assert desk.proc is not None
        database = str(settings.DATABASES["default"]["NAME"])
        window: list[dict[str, float]] = []
        sent, got, lost, statuses = _run_loop(_rfq_load(
            desk.port, tokens, isins, rate, duration, run_id, lambda: _cpu_seconds(desk.proc.pid, database), window))
    lat = np.array([got[k] - sent[k] for k in got if k in sent]) * 1000
    p50, p99 = _percentiles(list(lat))
    if dump:
        t0 = min(sent.values(), default=0.0)
        epoch = time.time() - time.perf_counter()  # sent_epoch lines the dump up with the database's stamps
        with open(dump, "w") as f:
            f.write("client_rfq_id,sent_s,latency_ms,sent_epoch\n")
            for k in sorted(sent, key=sent.__getitem__):
                f.write(f"{k},{sent[k] - t0:.4f},{(got[k] - sent[k]) * 1000 if k in got else float('nan'):.2f},"
                        f"{sent[k] + epoch:.6f}\n")
    yield ("rfq_to_quote_p50", f"{p50:.1f}", "ms")
    yield ("rfq_to_quote_p90", f"{np.percentile(lat, 90):.1f}" if lat.size else "nan", "ms")
    yield ("rfq_to_quote_p99", f"{p99:.1f}", "ms")
    yield ("rfq_to_quote_max", f"{lat.max():.1f}" if lat.size else "nan", "ms")
    yield ("rfq_lost", lost, "")
    yield ("rfq_sent", len(sent), "")
    yield ("rfq_rate", f"{rate:g}", "RFQ/s")
    yield ("rfq_mode", "services" if settings.SERVICES_MODE else "embedded", "")
    for status, n in sorted(statuses.items()):
        yield (f"rfq_{status}", n, "")
    if len(window) == 2 and sent:
        before, after = window
        per_rfq = {role: (after[role] - before.get(role, 0.0)) * 1000 / len(sent) for role in after}
        for role, ms in sorted(per_rfq.items(), key=lambda kv: -kv[1]):
            yield (f"cpu_per_rfq_{role}", f"{ms:.2f}", "ms")
        yield ("cpu_per_rfq_total", f"{sum(per_rfq.values()):.2f}", "ms (of 2 cores: 10 ms at 200/s is both full)")


class _KeepAliveHttp:
    """A minimal HTTP/1.1 keep-alive client for the load generator.

    httpx costs about 1 ms of CPU per request; on a two-core machine the load generator shares
    the cores with the desk it measures, so its own cost would show up as the desk's latency.
    This one writes the request and reads the status line, headers and body on a pool of
    connections, nothing else.
    """

    def __init__(self, port: int, size: int = 32):
        self.port = port
        self.size = size
        self.pool: asyncio.Queue[tuple[asyncio.StreamReader, asyncio.StreamWriter]] = asyncio.Queue()

    async def __aenter__(self) -> "_KeepAliveHttp":
        for _ in range(self.size):
            self.pool.put_nowait(await asyncio.open_connection("127.0.0.1", self.port))
        return self

    async def __aexit__(self, *exc: Any) -> None:
        while not self.pool.empty():
            _, w = self.pool.get_nowait()
            w.close()

    async def post_json(self, path: str, body: dict[str, Any], token: str) -> int:
        data = json.dumps(body).encode()
        head = (f"POST {path} HTTP/1.1\r\nHost: 127.0.0.1:{self.port}\r\nAuthorization: Token {token}\r\n"
                f"Content-Type: application/json\r\nContent-Length: {len(data)}\r\n\r\n").encode()
        for attempt in (0, 1):
            r, w = await self.pool.get()
            try:
                w.write(head + data)
                line = (await r.readline()).split()
                if len(line) < 2:
                    raise ConnectionResetError("the server closed the connection")
                status = int(line[1])
                length = 0
                while (line := await r.readline()) not in (b"\r\n", b""):
                    name, _, value = line.partition(b":")
                    if name.strip().lower() == b"content-length":
                        length = int(value)
                await r.readexactly(length)
                self.pool.put_nowait((r, w))
                return status
            except (OSError, ValueError, asyncio.IncompleteReadError):
                w.close()
                self.pool.put_nowait(await asyncio.open_connection("127.0.0.1", self.port))
                if attempt:
                    raise
        raise AssertionError("unreachable")


async def _rfq_load(port: int, tokens: dict[str, str], isins: list[str], rate: float, duration: float,
                    run_id: str, cpu_probe: Any, cpu_window: list[dict[str, float]],
                    warmup: float = 3.0) -> tuple[dict[str, float], dict[str, float], int, dict[str, int]]:
    """Send at `rate` for `warmup` seconds (not measured: first batches build the pricing universe
    and warm each process), then for `duration` seconds measured."""
    import websockets

    sent: dict[str, float] = {}
    got: dict[str, float] = {}
    statuses: dict[str, int] = {}
    measured: set[str] = set()

    async def listen(code: str, ws: Any) -> None:
        async for raw in ws:
            msg = json.loads(raw)
            rfq = msg.get("rfq") or {}
            rid = rfq.get("client_rfq_id")
            if msg.get("type") in ("quote", "rfq.declined") or rfq.get("status") == "pending_review":
                if rid in sent and rid not in got:
                    got[rid] = time.perf_counter()
                    if rid in measured:
                        statuses[rfq.get("status", "?")] = statuses.get(rfq.get("status", "?"), 0) + 1

    sockets = {c: await websockets.connect(f"ws://127.0.0.1:{port}/ws/client/?token={t}", max_queue=None)
               for c, t in tokens.items()}
    listeners = [asyncio.create_task(listen(c, ws)) for c, ws in sockets.items()]
    codes = list(tokens)
    async with _KeepAliveHttp(port) as http:
        async def post(i: int, rid: str) -> None:
            code = codes[i % len(codes)]
            body = {"client_rfq_id": rid, "isin": isins[i % len(isins)], "side": "buy" if i % 2 else "sell",
                    "quantity": "250000"}
            sent[rid] = time.perf_counter()
            try:
                status = await http.post_json("/api/rfqs/", body, tokens[code])
                if status != 202:
                    statuses[f"http_{status}"] = statuses.get(f"http_{status}", 0) + 1
            except (OSError, ValueError, asyncio.IncompleteReadError):
                statuses["http_error"] = statuses.get("http_error", 0) + 1

        # The desk is up when its web server answers, but its workers may still be starting: wait
        # for one RFQ per client to come back quoted before the clock starts.
        ready = time.perf_counter() + 90
        firsts = [f"{run_id}-ready{k}" for k in range(len(codes))]
        await asyncio.gather(*(post(k, rid) for k, rid in enumerate(firsts)))
        while any(rid not in got for rid in firsts) and time.perf_counter() < ready:
            await asyncio.sleep(0.05)
        n_warm = int(rate * warmup)
        n = n_warm + int(rate * duration)
        start = time.perf_counter()
        tasks = []
        for i in range(n):
            delay = start + i / rate - time.perf_counter()
            if delay > 0:
                await asyncio.sleep(delay)
            rid = f"{run_id}-{'w' if i < n_warm else ''}{i}"
            if i == n_warm:
                cpu_window.append(cpu_probe())
            if i >= n_warm:
                measured.add(rid)
            tasks.append(asyncio.create_task(post(i, rid)))
        await asyncio.gather(*tasks)
        cpu_window.append(cpu_probe())
    deadline = time.perf_counter() + 10
    while len(got) < len(sent) and time.perf_counter() < deadline:
        await asyncio.sleep(0.1)
    for t in listeners:
        t.cancel()
    for ws in sockets.values():
        await ws.close()
    sent = {k: v for k, v in sent.items() if k in measured}
    got = {k: v for k, v in got.items() if k in measured}
    return sent, got, len(sent) - len(got), statuses


def bench_review(*, count: int = 500, rate: float = 20.0, port: int = 8765, **_: Any) -> Iterator[Figure]:
    """Tier 1 RFQ POST to its review request on a senior trader's desk websocket."""
    _prepare()
    from dealer.market.models import Instrument

    tokens = {c: _token(c) for c in ("CLT0001", "CLT0002", "CLT0003")}
    isins = list(Instrument.objects.filter(rfq_enabled=True).values_list("isin", flat=True)[:50])
    run_id = f"v{int(time.time())}"
    with _Desk(port) as desk:
        lat, missing = asyncio.run(_review_load(desk.port, tokens, isins, count, min(rate, 50.0), run_id))
    p50, p99 = _percentiles(lat)
    yield ("review_push_p50", f"{p50:.1f}", "ms")
    yield ("review_push_p99", f"{p99:.1f}", "ms")
    yield ("review_missing", missing, "")
    yield ("review_count", count, "")
    yield ("cockpit_first_view_p95", f"{_cockpit_p95(run_id):.1f}", "ms (server time, in-process)")
    yield ("review_mode", "services" if settings.SERVICES_MODE else "embedded", "")


def _cockpit_p95(run_id: str, requests: int = 20) -> float:
    """Server time of the review cockpit's first view for the bench's Tier 1 RFQs, as senior1."""
    from django.contrib.auth.models import User
    from django.test import Client as WebClient
    from django.test.utils import override_settings

    from dealer.desk.models import Rfq

    ids = list(Rfq.objects.filter(client_rfq_id__startswith=f"{run_id}-").exclude(
        client_rfq_id__contains="-w").order_by("-id").values_list("id", flat=True)[:requests])
    web = WebClient()
    web.force_login(User.objects.get(username="senior1"))
    times = []
    with override_settings(ALLOWED_HOSTS=["*"], SECURE_SSL_REDIRECT=False):
        for rfq_id in ids:
            t0 = time.perf_counter()
            r = web.get(f"/desk/review/{rfq_id}/", secure=True)
            times.append((time.perf_counter() - t0) * 1000)
            if r.status_code != 200:
                raise RuntimeError(f"the cockpit answered {r.status_code}")
    return float(np.percentile(times, 95)) if times else float("nan")


async def _review_load(port: int, tokens: dict[str, str], isins: list[str], count: int, rate: float,
                       run_id: str) -> tuple[list[float], int]:
    import re

    import httpx
    import websockets

    base = f"http://127.0.0.1:{port}"
    async with httpx.AsyncClient(base_url=base, timeout=10) as http:
        page = await http.get("/accounts/login/")
        csrf = http.cookies.get("csrftoken") or re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page.text).group(1)
        r = await http.post("/accounts/login/", data={"username": "senior1", "password": "demo",
                                                       "csrfmiddlewaretoken": csrf}, headers={"Referer": base + "/accounts/login/"})
        session = http.cookies.get("sessionid")
        if not session:
            raise RuntimeError(f"could not log in as senior1 ({r.status_code})")
        sent: dict[str, float] = {}
        got: dict[str, float] = {}
        ws = await websockets.connect(f"ws://127.0.0.1:{port}/ws/desk/", max_queue=None,
                                      additional_headers={"Cookie": f"sessionid={session}", "Origin": base})

        async def listen() -> None:
            async for raw in ws:
                msg = json.loads(raw)
                if msg.get("type") == "review.request":
                    rid = msg["rfq"]["client_rfq_id"]
                    got.setdefault(rid, time.perf_counter())

        listener = asyncio.create_task(listen())
        codes = list(tokens)
        # Warm-up, not measured: the first RFQs of a fresh desk build the pricing universe and
        # load the win-probability model in each worker.
        for i in range(WARMUP):
            await http.post("/api/rfqs/", json={"client_rfq_id": f"{run_id}-w{i}", "isin": isins[i % len(isins)],
                                                "side": "buy", "quantity": "5000000"},
                            headers={"Authorization": f"Token {tokens[codes[i % len(codes)]]}"})
            await asyncio.sleep(0.1)
        await asyncio.sleep(1.0)
        start = time.perf_counter()
        for i in range(count):
            delay = start + i / rate - time.perf_counter()
            if delay > 0:
                await asyncio.sleep(delay)
            code = codes[i % len(codes)]
            rid = f"{run_id}-{i}"
            sent[rid] = time.perf_counter()
            await http.post("/api/rfqs/", json={"client_rfq_id": rid, "isin": isins[i % len(isins)], "side": "buy",
                                                "quantity": "5000000"}, headers={"Authorization": f"Token {tokens[code]}"})
        deadline = time.perf_counter() + 10
        while len(got) < len(sent) and time.perf_counter() < deadline:
            await asyncio.sleep(0.1)
        listener.cancel()
        await ws.close()
    lat = [(got[k] - sent[k]) * 1000 for k in sent if k in got]
    return lat, sum(1 for k in sent if k not in got)


def bench_hedge(*, count: int = 1000, port: int = 8765, **_: Any) -> Iterator[Figure]:
    """A burst of `count` booked trades; latency from each trade's commit to its hedge decision."""
    _prepare()
    from decimal import Decimal

    from crm.models import Client
    from dealer.desk import services
    from dealer.desk.models import Rfq
    from dealer.errors import Conflict
    from dealer.hedging.models import HedgeDecision
    from dealer.market.models import Instrument
    from dealer.seeding import seed_closes

    seed_closes(seed=7)
    clients = list(Client.objects.select_related("tier").filter(code__in=[f"CLT{k:04d}" for k in range(4, 11)]))
    isins = list(Instrument.objects.filter(rfq_enabled=True).values_list("isin", flat=True)[:200])
    run_id = f"hb{int(time.time())}"
    worker = None
    desk: _Desk | None = None
    cpu_before: dict[str, float] = {}
    cpu_after: dict[str, float] = {}
    if settings.SERVICES_MODE:
        desk = _Desk(port).__enter__()
    else:
        from dealer import embedded
        from dealer.celery import app
        from dealer.market.services import market_tick

        market_tick()
        worker, _thread = embedded.start_worker(app)
    by_id = {c.id: c for c in clients}

    def book(first: int, last: int, prefix: str) -> list[int]:
        """Book trades `first`..`last - 1`, 100 at a time (RFQs in, quotes back, accepts)."""
        booked: list[int] = []
        for start in range(first, last, 100):
            ids = []
            for i in range(start, min(start + 100, last)):
                c = clients[i % len(clients)]
                rfq, _ = services.rfq_create(client=c, data=services.RfqInput(
                    f"{prefix}-{i}", isins[i % len(isins)], "buy" if i % 2 else "sell", Decimal("100000")))
                ids.append(rfq.id)
            deadline = time.time() + 60
            while Rfq.objects.filter(id__in=ids, status__in=["received", "pricing"]).exists() and time.time() < deadline:
                if not settings.SERVICES_MODE:
                    from dealer.desk.pricing_service import price_waiting_rfqs

                    price_waiting_rfqs()
                time.sleep(0.05)
            for rfq_id, client_id, quote_id in Rfq.objects.filter(id__in=ids, status="quoted").values_list(
                    "id", "client_id", "quote_id"):
                try:
                    trade, _ = services.quote_accept(client=by_id[client_id], rfq_id=rfq_id, quote_id=quote_id)
                except Conflict:
                    continue  # the quote's time-to-live ran out while the machine was busy: not booked
                booked.append(trade.id)
        return booked

    def decided(ids: list[int], timeout: float) -> None:
        deadline = time.time() + timeout
        while HedgeDecision.objects.filter(trade_id__in=ids).count() < len(ids) and time.time() < deadline:
            time.sleep(0.2)

    try:
        # Not measured: one trade in each bond the burst trades, decided, so that the workers are
        # up and have read the day's proxy estimates, as on a desk that has traded these today.
        decided(book(0, len(isins), f"{run_id}w"), timeout=180)
        database = str(settings.DATABASES["default"]["NAME"])
        cpu_before = _cpu_seconds(desk.proc.pid, database) if desk is not None and desk.proc else {}
        started = time.perf_counter()
        trade_ids = book(0, count, run_id)
        burst = time.perf_counter() - started
        decided(trade_ids, timeout=120)
        cpu_after = _cpu_seconds(desk.proc.pid, database) if desk is not None and desk.proc else {}
        lat = list(HedgeDecision.objects.filter(trade_id__in=trade_ids).values_list("latency_ms", flat=True))
    finally:
        if worker is not None:
            worker.stop()
        if desk is not None:
            desk.__exit__()
    p50, p99 = _percentiles([x for x in lat if x is not None])
    yield ("hedge_decision_p50", f"{p50:.1f}", "ms")
    yield ("hedge_decision_p99", f"{p99:.1f}", "ms")
    yield ("hedge_trades", len(trade_ids), "")
    yield ("hedge_decided", len(lat), "")
    yield ("hedge_burst_seconds", f"{burst:.2f}", f"s (booking {count} trades, 100 at a time)")
    yield ("hedge_mode", "services" if settings.SERVICES_MODE else "embedded", "")
    if cpu_after and trade_ids:
        per_trade = {role: (cpu_after[role] - cpu_before.get(role, 0.0)) * 1000 / len(trade_ids) for role in cpu_after}
        for role, ms in sorted(per_trade.items(), key=lambda kv: -kv[1]):
            if ms >= 0.01:
                yield (f"cpu_per_trade_{role}", f"{ms:.2f}", "ms (the load generator books them)" if
                       role == "load_generator" else "ms")
