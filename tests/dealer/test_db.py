"""Planner statistics are kept current where autovacuum is off (PostgreSQL)."""
from __future__ import annotations

from decimal import Decimal

import pytest
from django.db import connection

from dealer.db import analyze_stale_tables
from dealer.desk.models import Axe
from dealer.market.models import Instrument

pytestmark = [
    pytest.mark.django_db(transaction=True),
    pytest.mark.skipif(connection.vendor != "postgresql", reason="planner statistics are PostgreSQL's"),
]


def _changed_since_analyze(table: str) -> int:
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_stat_force_next_flush()")  # this session's counts, now
        cursor.execute("SELECT n_mod_since_analyze FROM pg_stat_user_tables WHERE relname = %s", [table])
        return int(cursor.fetchone()[0])


def test_a_table_changed_past_autovacuums_threshold_is_analyzed_and_a_quiet_one_is_not(book) -> None:
    analyze_stale_tables(only_without_autovacuum=False)  # whatever the fixtures wrote
    instrument = Instrument.objects.get(isin=book.isin())
    user = book.user("trader1")
    Axe.objects.bulk_create([Axe(instrument=instrument, side="buy", quantity=Decimal("1000000"), active=False,
                                 created_by=user) for _ in range(120)])
    assert _changed_since_analyze("desk_axe") >= 120
    analyzed = analyze_stale_tables(only_without_autovacuum=False)
    assert any(name.endswith('."desk_axe"') for name in analyzed)
    assert _changed_since_analyze("desk_axe") == 0
    assert not any(name.endswith('."desk_axe"') for name in analyze_stale_tables(only_without_autovacuum=False))
    with connection.cursor() as cursor:
        cursor.execute("SELECT reltuples FROM pg_class WHERE relname = 'desk_axe'")
        assert cursor.fetchone()[0] >= 120  # the planner now knows the rows are there
