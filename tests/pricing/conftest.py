"""The pricing library is pure numpy: its tests run without Django.

The project-wide ``tests/conftest.py`` has an autouse fixture that touches Django
settings; it is overridden here (same name) so that ``pytest tests/pricing -p no:django``
works before and without the Django settings.
"""

from __future__ import annotations

import pytest


@pytest.fixture(autouse=True, scope="session")
def _fast_passwords() -> None:
    """No Django here."""
