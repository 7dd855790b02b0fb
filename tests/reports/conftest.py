from __future__ import annotations

from typing import Any

import pytest
from django.core.management import call_command


@pytest.fixture
def seeded(db: Any) -> Any:
    """A seeded book with history (30 clients, 600 trades) and its rollups rebuilt by seeding."""
    from tests.conftest import Personas

    call_command("seed_demo", "--clients", "30", "--trades", "600")
    return Personas()
