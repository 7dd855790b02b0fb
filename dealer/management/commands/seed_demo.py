from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError

from dealer.seeding import seed_demo


class Command(BaseCommand):
    help = "Seed the demo book (idempotent): instruments, venues, tiers, users, clients, two years of history."

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument("--seed", type=int, default=7)
        parser.add_argument("--clients", type=int, default=300)
        parser.add_argument("--trades", type=int, default=20_000)

    def handle(self, *args: Any, **opts: Any) -> None:
        if opts["clients"] < 10:
            raise CommandError("--clients must be at least 10 (the contract's demo clients CLT0001-CLT0010).")
        if opts["trades"] < 0:
            raise CommandError("--trades must not be negative.")
        report = seed_demo(seed=opts["seed"], n_clients=opts["clients"], n_trades=opts["trades"])
        state = "written" if report.history_written else "already present"
        self.stdout.write(
            f"Demo book ready: {report.clients} clients, {report.rfqs} RFQs, {report.trades} trades "
            f"(history {state}) in {report.seconds:.1f} s."
        )
