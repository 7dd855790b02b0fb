"""`python manage.py bench NAME`: benchmark figures, one `name: value unit` per line.

Each bench prepares what it needs on the configured database (migrating and seeding the
reference book when absent), so it runs on an empty one.
"""
from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError

BENCHES = {
    "seed": "dealer.benchmarks:bench_seed",
    "rfq": "dealer.benchmarks:bench_rfq",
    "review": "dealer.benchmarks:bench_review",
    "scores": "crm.bench:bench_scores",
    "reports": "dealer.reports.bench:bench_reports",
    "hedge": "dealer.benchmarks:bench_hedge",
}


class Command(BaseCommand):
    help = "Run a benchmark: " + ", ".join(BENCHES)

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument("name", choices=sorted(BENCHES))
        parser.add_argument("--rate", type=float, default=200.0, help="rfq: RFQs per second")
        parser.add_argument("--duration", type=float, default=60.0, help="rfq: seconds of load")
        parser.add_argument("--count", type=int, default=None, help="review: Tier 1 RFQs (500); hedge: trades (1000)")
        parser.add_argument("--trades", type=int, default=None, help="seed, scores: trades to write")
        parser.add_argument("--clients", type=int, default=None, help="scores: clients to seed")
        parser.add_argument("--port", type=int, default=8765, help="port of the desk the bench starts")
        parser.add_argument("--dump", default=None, help="rfq: write each RFQ's send time and latency to this CSV")

    def handle(self, *args: Any, **opts: Any) -> None:
        import importlib

        module, func = BENCHES[opts["name"]].split(":")
        try:
            fn = getattr(importlib.import_module(module), func)
        except (ImportError, AttributeError) as exc:
            raise CommandError(f"bench {opts['name']} is not available: {exc}") from exc
        import inspect

        params = inspect.signature(fn).parameters
        takes_all = any(p.kind is p.VAR_KEYWORD for p in params.values())
        kwargs = {k: v for k, v in opts.items() if v is not None and (k in params or takes_all)
                  and k not in ("verbosity", "settings", "pythonpath", "traceback", "no_color", "force_color",
                                "skip_checks", "name")}
        figures = fn(**kwargs)
        for name, value, unit in figures or ():
            self.stdout.write(f"{name}: {value} {unit}".rstrip())
            self.stdout.flush()
