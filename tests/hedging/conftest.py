from __future__ import annotations

from typing import Iterator

import pytest


@pytest.fixture(autouse=True)
def _fresh_proxy_estimates() -> Iterator[None]:
    """Each test estimates its proxy hedges from its own database's closes, and its decision runs
    look back over their whole window."""
    from dealer.hedging import selectors, services

    selectors._proxy_cache.clear()
    selectors._settled_fills.clear()
    services._seen_through.clear()
    selectors._live_bound.clear()
    yield
    selectors._proxy_cache.clear()
    selectors._settled_fills.clear()
    services._seen_through.clear()
    selectors._live_bound.clear()


@pytest.fixture
def desk(book):
    """The demo book with closing prices (for the proxy estimates) and one market tick."""
    from dealer.market.services import market_tick
    from dealer.seeding import seed_closes

    seed_closes(seed=7)
    market_tick()
    return book
