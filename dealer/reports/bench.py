"""`python manage.py bench reports`: server time of every report page and a full rollup rebuild.

Seeds history up to `trades` trades (1,000,000 by default) when fewer exist, then measures each
report page 20 times with varied filters through Django's test client in-process (server time:
URL resolution, view, queries, template), as management, and reports the p95 over all pages.
"""
from __future__ import annotations

import time
from datetime import timedelta
from typing import Any, Iterator

import numpy as np
from django.conf import settings
from django.db import transaction

Figure = tuple[str, Any, str]
PAGES = ["/reports/", "/reports/flow/", "/reports/hits/", "/reports/judgment/", "/reports/inventory/"]


def _variants(today: Any, n: int = 20) -> list[dict[str, str]]:
    rng = np.random.default_rng(5)
    out = []
    for k in range(n):
        days = int(rng.choice([7, 30, 90, 365, 731]))
        end = today - timedelta(days=int(rng.integers(0, 60)))
        q = {"start": (end - timedelta(days=days - 1)).isoformat(), "end": end.isoformat(),
             "group_by": ["tier", "client", "rm", "asset_class", "sector", "period"][k % 6],
             "period": ["month", "week", "quarter", "day"][k % 4]}
        if k % 3 == 1:
            q["tier"] = str(1 + k % 3)
        if k % 5 == 2:
            q["asset_class"] = ["govt", "ig_corp", "hy_corp"][k % 3]
        out.append(q)
    return out


def bench_reports(*, trades: int = 1_000_000, **_: Any) -> Iterator[Figure]:
    from django.contrib.auth.models import User
    from django.test import Client as HttpClient
    from django.utils import timezone

    from crm.models import Client
    from dealer.benchmarks import _prepare
    from dealer.desk.models import Trade
    from dealer.reports.services import rollups_rebuild
    from dealer.seeding import _history

    _prepare()
    have = Trade.objects.count()
    if have < trades:
        clients = list(Client.objects.select_related("tier").order_by("id"))
        with transaction.atomic():
            _history(11, trades - have, clients, np.random.default_rng(11))
    started = time.perf_counter()
    rollups_rebuild()
    rebuild = time.perf_counter() - started

    settings.ALLOWED_HOSTS = [*settings.ALLOWED_HOSTS, "testserver"]
    http = HttpClient()
    http.force_login(User.objects.get(username="mgmt1"))
    today = timezone.now().date()
    times: list[float] = []
    per_page: dict[str, list[float]] = {}
    for path in PAGES:
        http.get(path)  # warm caches (templates, the win-probability model)
        for q in _variants(today):
            if path != "/reports/":
                q = {k: v for k, v in q.items() if k not in ("group_by", "period")}
            t0 = time.perf_counter()
            r = http.get(path, q)
            dt = (time.perf_counter() - t0) * 1000
            if r.status_code != 200:
                raise RuntimeError(f"{path} {q} -> {r.status_code}")
            times.append(dt)
            per_page.setdefault(path, []).append(dt)
    yield ("report_page_p95", f"{np.percentile(times, 95):.1f}", "ms")
    yield ("rollup_rebuild", f"{rebuild:.1f}", "s")
    for path, ts in per_page.items():
        name = path.strip("/").replace("/", "_") or "reports"
        yield (f"{name}_p95", f"{np.percentile(ts, 95):.1f}", "ms")
    yield ("trades", str(Trade.objects.count()), "")
    yield ("database", settings.DATABASES["default"]["ENGINE"].rsplit(".", 1)[-1], "")
