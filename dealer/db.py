"""Database helpers for the few statements on the RFQ path that run hundreds of times a second."""
from __future__ import annotations

from typing import Any

from django.db import connection


def prepared_cursor() -> Any:
    """A cursor whose parameters PostgreSQL binds itself, so that psycopg prepares a statement
    the fifth time its text runs and the server stops planning it again.

    Django binds parameters on the client by default (any statement text then costs a fresh plan:
    ~0.15 ms for the pricing claim against 0.04 ms to run it). The cursor is Django's own
    (`ServerBindingCursor`), wrapped as Django wraps its cursors, so query logging and the tests'
    query capture see these statements too. Elsewhere (SQLite) it is Django's usual cursor.
    """
    if connection.vendor != "postgresql":
        return connection.cursor()
    from django.db.backends.postgresql.base import ServerBindingCursor

    connection.ensure_connection()
    return connection._prepare_cursor(ServerBindingCursor(connection.connection))
