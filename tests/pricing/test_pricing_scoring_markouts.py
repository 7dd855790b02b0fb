"""Relationship scores (hand-worked example) and markouts."""

from __future__ import annotations

import numpy as np
import pytest

from pricing.markouts import compute_markouts, mids_at_horizons, toxicity_scores
from pricing.scoring import (aggregate_trades, percentile_rank, relationship_scores,
                             suggest_tier)

# Five clients, trades written out:
#  c0: 100 notional, pnl 10, markout -1, class 0
#  c1: 100 + 100, pnl -2 -3, markouts -3 -3, classes 0 1
#  c2: 50 + 50 + 100, pnl 10 each, markouts -0.5, classes 0 1 2
#  c3: 400, pnl 20, markout -1, class 2
#  c4: 25 + 25, pnl 5 -5, markouts -1 -3, class 1 1
TRADES = dict(
    client_idx=[0, 1, 1, 2, 2, 2, 3, 4, 4],
    notional=[100.0, 100.0, 100.0, 50.0, 50.0, 100.0, 400.0, 25.0, -25.0],
    pnl=[10.0, -2.0, -3.0, 10.0, 10.0, 10.0, 20.0, 5.0, -5.0],
    markout_bp=[-1.0, -3.0, -3.0, -0.5, -0.5, -0.5, -1.0, -1.0, -3.0],
    asset_class_idx=[0, 0, 1, 0, 1, 2, 2, 1, 1],
)
# By hand: volume [100, 200, 200, 400, 50] -> pct [25, 62.5, 62.5, 100, 0]
#          pnl    [10, -5, 30, 20, 0]      -> pct [50, 0, 100, 75, 25]
#          tox    [1, 3, 0.5, 1, 2]        -> quality pct [62.5, 0, 100, 62.5, 25]
#          classes[1, 2, 3, 1, 1]          -> pct [25, 75, 100, 25, 25]
# score = .25 V + .35 P + .30 Q + .10 D
HAND_SCORES = [6.25 + 17.5 + 18.75 + 2.5, 15.625 + 0 + 0 + 7.5, 15.625 + 35 + 30 + 10,
               25 + 26.25 + 18.75 + 2.5, 0 + 8.75 + 7.5 + 2.5]


def test_five_client_example_by_hand() -> None:
    agg = aggregate_trades(**TRADES, n_clients=5, n_asset_classes=3)  # type: ignore[arg-type]
    np.testing.assert_allclose(agg.volume, [100, 200, 200, 400, 50])
    np.testing.assert_allclose(agg.pnl, [10, -5, 30, 20, 0])
    np.testing.assert_allclose(agg.toxicity_bp, [1, 3, 0.5, 1, 2])
    assert agg.n_asset_classes.tolist() == [1, 2, 3, 1, 1]
    assert agg.n_trades.tolist() == [1, 2, 3, 1, 2]
    s = relationship_scores(agg.volume, agg.pnl, agg.toxicity_bp, agg.n_asset_classes)
    np.testing.assert_allclose(s.volume, [25, 62.5, 62.5, 100, 0])
    np.testing.assert_allclose(s.flow_quality, [62.5, 0, 100, 62.5, 25])
    np.testing.assert_allclose(s.score, HAND_SCORES, rtol=1e-12)
    assert suggest_tier(s.score, (70, 40)).tolist() == [2, 3, 1, 1, 3]


def test_scores_reject_bad_input() -> None:
    with pytest.raises(ValueError, match="weights"):
        relationship_scores([1.0], [1.0], [1.0], [1], weights=(0.5, 0.5, 0.5, 0.0))
    with pytest.raises(ValueError, match="pnl"):
        relationship_scores([1.0, 2.0], [1.0], [1.0, 1.0], [1, 1])
    with pytest.raises(ValueError, match="volume"):
        relationship_scores([-1.0], [1.0], [1.0], [1])
    with pytest.raises(ValueError, match="client_idx"):
        aggregate_trades([5], [1.0], [1.0], [1.0], [0], 2, 1)
    with pytest.raises(ValueError, match="notional"):
        aggregate_trades([0], [np.nan], [1.0], [1.0], [0], 2, 1)
    with pytest.raises(ValueError, match="asset_class_idx"):
        aggregate_trades([0], [1.0], [1.0], [1.0], [3], 2, 1)
    with pytest.raises(ValueError, match="thresholds"):
        suggest_tier([50.0], (40.0, 70.0))
    assert percentile_rank([3.0]).tolist() == [50.0]


def test_markouts_signed_by_dealer_side() -> None:
    m = compute_markouts([100.0, 100.0], [1, -1], [1e6, 2e6], [[100.1, 99.8], [100.1, 99.8]],
                         [60, 300])
    np.testing.assert_allclose(m.bp, [[10.0, -20.0], [-10.0, 20.0]], rtol=1e-10)
    np.testing.assert_allclose(m.money, [[1000.0, -2000.0], [-2000.0, 4000.0]], rtol=1e-10)
    with pytest.raises(ValueError, match="dealer_side"):
        compute_markouts([100.0], [0], [1.0], [[1.0]], [60])
    with pytest.raises(ValueError, match="mid_after"):
        compute_markouts([100.0], [1], [1.0], [[1.0, 2.0]], [60])


def test_mids_at_horizons_and_toxicity() -> None:
    out = mids_at_horizons([10.0, 10.0], [0, 1], [0.0, 50.0, 400.0, 20.0], [0, 0, 0, 2],
                           [100.0, 101.0, 102.0, 5.0], [60.0, 300.0, 1000.0])
    assert out[0].tolist() == [101.0, 101.0, 102.0]
    assert np.isnan(out[1]).all()
    tox = toxicity_scores([0, 0, 1], [-4.0, np.nan, 2.0], [1.0, 1.0, 1.0], 3, prior_notional=1.0)
    np.testing.assert_allclose(tox, [2.0, -1.0, 0.0])
    with pytest.raises(ValueError, match="markout_bp"):
        toxicity_scores([0], [1.0, 2.0], [1.0], 1)
