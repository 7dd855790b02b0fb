"""Logging filters that keep the console readable on a busy desk."""
from __future__ import annotations

import logging


class ClientErrorsWithoutTraceback(logging.Filter):
    """A refused request (4xx: a 403 to a role without the right, a 404) is logged in one line.

    Django logs PermissionDenied and Http404 with the exception's traceback: 35 lines a refusal,
    most of a desk's log once people click where they don't belong. 5xx keep theirs.
    """

    def filter(self, record: logging.LogRecord) -> bool:
        if 400 <= getattr(record, "status_code", 500) < 500:
            record.exc_info = None
            record.exc_text = None
        return True
