from __future__ import annotations

from typing import Iterator

import pytest


@pytest.fixture(autouse=True)
def _fresh_proxy_estimates() -> Iterator[None]:
    """Each test estimates its proxy hedges from its own database's closes."""
    from dealer.hedging import selectors

    selectors._proxy_cache.clear()
    yield
    selectors._proxy_cache.clear()
