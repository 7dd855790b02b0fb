"""`python manage.py bench scores`: every relationship score from the database, and the RM list's server time.

Prints `scores_postgres: N s` (scores_recompute end to end: the set-based reads, numpy scoring, the
bulk insert of history rows and the client update) and `rm_client_list_p95: N ms` (the "my
clients" page rendered through the Django test client for the RM with the most clients).
Seeds the demo book at the requested size when the database has no trades.
"""
from __future__ import annotations

import time

import numpy as np


def bench_scores(*, clients: int = 10_000, trades: int = 2_000_000, repeat: int = 3, list_requests: int = 40) -> None:
    from django.contrib.auth.models import User
    from django.core.management import call_command
    from django.db import connection
    from django.db.models import Count
    from django.test import Client as WebClient

    from crm.models import Client
    from crm.services import scores_recompute
    from dealer.desk.models import Trade

    call_command("migrate", verbosity=0)
    if not Trade.objects.exists():
        from dealer.seeding import seed_demo

        seed_demo(n_clients=clients, n_trades=trades)
    n_trades = Trade.objects.count()
    n_clients = Client.objects.count()
    best = float("inf")
    parts: dict[str, float] = {}
    for _ in range(repeat):
        t0 = time.perf_counter()
        result = scores_recompute()
        elapsed = time.perf_counter() - t0
        if elapsed < best:
            best, parts = elapsed, result.seconds
    label = "scores_postgres" if connection.vendor == "postgresql" else f"scores_{connection.vendor}"
    print(f"{label}: {best:.3f} s")
    print(f"scores_read: {parts.get('read', 0):.3f} s")
    print(f"scores_write: {parts.get('write', 0):.3f} s")
    print(f"scores_clients: {n_clients} clients")
    print(f"scores_trades: {n_trades} trades")

    rm_id = (Client.objects.exclude(rm=None).values("rm").annotate(n=Count("id")).order_by("-n")
             .values_list("rm", flat=True).first())
    rm = User.objects.get(id=rm_id)
    web = WebClient()
    web.force_login(rm)
    times = []
    for k in range(list_requests):
        url = "/crm/" if k % 2 == 0 else "/crm/?sort=score&dir=desc&tier=2"
        t0 = time.perf_counter()
        r = web.get(url)
        times.append((time.perf_counter() - t0) * 1000.0)
        assert r.status_code == 200
    print(f"rm_client_list_p95: {float(np.percentile(times[2:], 95)):.1f} ms")
