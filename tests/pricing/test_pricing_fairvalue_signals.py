"""Composite fair value filter and short-term signals."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pricing.fairvalue import (FairValueState, filter_observations, kalman_update,
                               observation_variance, standard_error)
from pricing.signals import (client_flow_imbalance, ewma_volatility, microprice,
                             microprice_signal_bp, order_book_imbalance)


def scalar_kalman(m: float, p: float, t0: float, obs: list[tuple[float, float, float]],
                  q: float) -> tuple[float, float]:
    for t, y, r in obs:
        p = p + q * (t - t0)
        k = p / (p + r)
        m = m + k * (y - m)
        p = (1 - k) * p
        t0 = t
    return m, p


def test_kalman_update_matches_scalar_reference() -> None:
    s = kalman_update([100.0, 50.0, 80.0], [0.04, 0.01, 0.02], [0.0, 0.0, 0.0],
                      [101.0, np.nan, 79.0], [0.02, 1.0, 0.5], 10.0, [1e-3, 1e-3, 0.0])
    m0, p0 = scalar_kalman(100.0, 0.04, 0.0, [(10.0, 101.0, 0.02)], 1e-3)
    m2, p2 = scalar_kalman(80.0, 0.02, 0.0, [(10.0, 79.0, 0.5)], 0.0)
    np.testing.assert_allclose(s.mid, [m0, 50.0, m2], rtol=1e-14)
    np.testing.assert_allclose(s.var, [p0, 0.01 + 1e-2, p2], rtol=1e-14)


def test_error_grows_with_time_and_shrinks_after_an_observation() -> None:
    st0 = FairValueState(np.array([100.0]), np.array([0.01]), np.array([0.0]))
    se = [float(standard_error(st0, t, 1e-4)[0]) for t in (0.0, 60.0, 600.0)]
    assert se[0] < se[1] < se[2]
    after = kalman_update(st0.mid, st0.var, st0.t_last, [100.2], [0.01], 600.0, 1e-4)
    assert float(np.sqrt(after.var[0])) < se[2]


def test_stressed_gappy_data_widen_the_error() -> None:
    calm = FairValueState(np.full(1, np.nan), np.full(1, np.inf), np.zeros(1))
    times = np.arange(0.0, 3600.0, 60.0)
    prices = 100 + np.zeros(times.size)
    dense = filter_observations(calm, np.zeros(times.size, int), times, prices,
                                np.full(times.size, 0.01), 1e-5)
    sparse = filter_observations(calm, np.zeros(6, int), times[::10], prices[::10],
                                 np.full(6, 0.01), 1e-4)
    assert standard_error(sparse, 3600.0, 1e-4)[0] > standard_error(dense, 3600.0, 1e-5)[0]


@settings(max_examples=30, deadline=None)
@given(st.lists(st.tuples(st.integers(0, 2), st.floats(0, 1000), st.floats(90, 110),
                          st.floats(1e-3, 1.0)), min_size=1, max_size=30))
def test_filter_observations_equals_sequential_updates(obs: list[tuple[int, float, float, float]]
                                                       ) -> None:
    init = FairValueState(np.array([100.0, 100.0, 100.0]), np.array([1.0, 1.0, 1.0]),
                          np.zeros(3))
    i, t, y, r = (np.array(v) for v in zip(*obs))
    out = filter_observations(init, i, t, y, r, 1e-3)
    for k in range(3):
        sel = sorted([(tt, yy, rr) for ii, tt, yy, rr in obs if ii == k], key=lambda z: z[0])
        m, p = scalar_kalman(100.0, 1.0, 0.0, sel, 1e-3)
        assert out.mid[k] == pytest.approx(m, rel=1e-10)
        assert out.var[k] == pytest.approx(p, rel=1e-10)


def test_fairvalue_rejects_bad_input() -> None:
    ok = dict(mid=[100.0], var=[0.1], t_last=[0.0], obs_price=[100.0], obs_var=[0.1],
              t_obs=1.0, q_per_s=0.0)
    for name, bad in (("var", [-1.0]), ("obs_var", [0.0]), ("t_obs", -1.0), ("q_per_s", -1.0),
                      ("obs_price", [1.0, 2.0]), ("t_last", [np.nan])):
        with pytest.raises(ValueError, match=name):
            kalman_update(**(ok | {name: bad}))  # type: ignore[arg-type]
    st0 = FairValueState(np.zeros(1), np.ones(1), np.zeros(1))
    with pytest.raises(ValueError, match="instrument"):
        filter_observations(st0, [3], [1.0], [1.0], [1.0], 0.0)
    with pytest.raises(ValueError, match="obs_var"):
        filter_observations(st0, [0], [1.0], [1.0], [-1.0], 0.0)
    with pytest.raises(ValueError, match="t"):
        standard_error(st0, -5.0, 0.0)
    with pytest.raises(ValueError, match="quality"):
        observation_variance(1, 0.0, 0.1, 0.01, 1e6, 2.0)
    with pytest.raises(ValueError, match="size"):
        observation_variance(0, 0.0, 0.1, 0.01, 1e6)


def test_ewma_matches_loop() -> None:
    rng = np.random.default_rng(0)
    r = rng.normal(0, 0.01, (50, 3))
    out = ewma_volatility(r, 0.94)
    v = r[0] ** 2
    ref = []
    for t in range(50):
        v = 0.94 * v + 0.06 * r[t] ** 2
        ref.append(np.sqrt(v))
    np.testing.assert_allclose(out, np.array(ref), rtol=1e-12)
    with pytest.raises(ValueError, match="lam"):
        ewma_volatility(r, 1.0)
    with pytest.raises(ValueError, match="returns"):
        ewma_volatility([np.nan])
    with pytest.raises(ValueError, match="initial_var"):
        ewma_volatility(r, 0.9, [1.0, 2.0])


def test_microprice_and_imbalance() -> None:
    assert float(microprice(99.0, 101.0, 1.0, 1.0)) == 100.0
    assert float(microprice(99.0, 101.0, 9.0, 1.0)) == pytest.approx(100.8)
    np.testing.assert_allclose(order_book_imbalance([9.0, 1.0], [1.0, 9.0]), [0.8, -0.8])
    assert float(microprice_signal_bp(99.0, 101.0, 9.0, 1.0, weight=0.5)) == pytest.approx(40.0)
    with pytest.raises(ValueError, match="ask"):
        microprice(101.0, 99.0, 1.0, 1.0)
    with pytest.raises(ValueError, match="bid_size"):
        microprice(99.0, 101.0, -1.0, 1.0)
    with pytest.raises(ValueError, match="bid_size"):
        order_book_imbalance(0.0, 0.0)


def test_client_flow_imbalance_decays() -> None:
    f = client_flow_imbalance([0, 0], [1, -1], [1.0, 1.0], [0.0, 60.0], 60.0, 60.0, 1)
    assert float(f[0]) == pytest.approx((0.5 - 1.0) / 1.5)
    with pytest.raises(ValueError, match="side"):
        client_flow_imbalance([0], [0], [1.0], [0.0], 0.0, 1.0, 1)
    with pytest.raises(ValueError, match="t"):
        client_flow_imbalance([0], [1], [1.0], [5.0], 0.0, 1.0, 1)
    with pytest.raises(ValueError, match="instrument"):
        client_flow_imbalance([2], [1], [1.0], [0.0], 0.0, 1.0, 1)
