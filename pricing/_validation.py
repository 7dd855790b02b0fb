"""Private input checks shared by the public functions of :mod:`pricing`.

Every helper raises :class:`ValueError` whose message starts with the name of
the offending argument, so that callers (and the platform's API layer) can
report it.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from numpy.typing import ArrayLike, NDArray

__all__: list[str] = []

FloatArray = NDArray[np.float64]
IntArray = NDArray[np.intp]
BoolArray = NDArray[np.bool_]


def as_float(
    x: ArrayLike,
    name: str,
    *,
    ndim: int | None = None,
    allow_nan: bool = False,
    allow_inf: bool = False,
    nonneg: bool = False,
    positive: bool = False,
) -> FloatArray:
    """Convert ``x`` to a float64 array and check it."""
    try:
        a = np.asarray(x, dtype=np.float64)
    except (TypeError, ValueError) as exc:
        raise ValueError(f"{name}: not convertible to float ({exc})") from None
    if ndim is not None and a.ndim != ndim:
        raise ValueError(f"{name}: expected {ndim}-D, got shape {a.shape}")
    if not allow_nan and np.isnan(a).any():
        raise ValueError(f"{name}: contains NaN")
    if not allow_inf and np.isinf(a).any():
        raise ValueError(f"{name}: contains infinity")
    if positive and not (a > 0).all():
        raise ValueError(f"{name}: must be > 0")
    if nonneg and (a < 0).any():
        raise ValueError(f"{name}: must be >= 0")
    return a


def as_int(x: ArrayLike, name: str, *, ndim: int | None = None, low: int | None = None,
           high: int | None = None) -> IntArray:
    """Convert ``x`` to an intp array, refusing non-integral values, bounds ``[low, high)``."""
    a0 = np.asarray(x)
    if a0.dtype.kind == "b":
        raise ValueError(f"{name}: expected integers, got booleans")
    if a0.dtype.kind not in "iu":
        try:
            af = a0.astype(np.float64)
        except (TypeError, ValueError):
            raise ValueError(f"{name}: expected integers") from None
        if not np.isfinite(af).all() or (af != np.round(af)).any():
            raise ValueError(f"{name}: expected integers")
        a0 = af
    a: IntArray = a0.astype(np.intp, copy=False)
    if ndim is not None and a.ndim != ndim:
        raise ValueError(f"{name}: expected {ndim}-D, got shape {a.shape}")
    if a.size:
        if low is not None and a.min() < low:
            raise ValueError(f"{name}: values must be >= {low}")
        if high is not None and a.max() >= high:
            raise ValueError(f"{name}: values must be < {high}")
    return a


def as_bool(x: ArrayLike, name: str) -> BoolArray:
    """Convert ``x`` to a boolean array (only bools or 0/1 accepted)."""
    a0 = np.asarray(x)
    if a0.dtype.kind == "b":
        return a0.astype(np.bool_, copy=False)
    try:
        af = a0.astype(np.float64)
    except (TypeError, ValueError):
        raise ValueError(f"{name}: expected booleans") from None
    if not np.isin(af, (0.0, 1.0)).all():
        raise ValueError(f"{name}: expected booleans (0/1)")
    return af.astype(np.bool_)


def check_len(a: NDArray[Any], name: str, n: int) -> None:
    """Check a 1-D array has length ``n``."""
    if a.shape != (n,):
        raise ValueError(f"{name}: expected shape ({n},), got {a.shape}")


def scalar(x: float, name: str, *, nonneg: bool = False, positive: bool = False,
           allow_inf: bool = False) -> float:
    """Check a real scalar."""
    try:
        v = float(x)
    except (TypeError, ValueError):
        raise ValueError(f"{name}: expected a real number") from None
    if v != v:
        raise ValueError(f"{name}: is NaN")
    if not allow_inf and v in (float("inf"), float("-inf")):
        raise ValueError(f"{name}: is infinite")
    if positive and not v > 0:
        raise ValueError(f"{name}: must be > 0")
    if nonneg and v < 0:
        raise ValueError(f"{name}: must be >= 0")
    return v


def check_pd(cov: FloatArray, name: str) -> None:
    """Check a symmetric positive-definite matrix via Cholesky."""
    if cov.ndim != 2 or cov.shape[0] != cov.shape[1]:
        raise ValueError(f"{name}: expected a square matrix, got shape {cov.shape}")
    if not np.allclose(cov, cov.T, rtol=1e-10, atol=1e-14 * float(np.abs(cov).max(initial=1.0))):
        raise ValueError(f"{name}: not symmetric")
    try:
        np.linalg.cholesky(cov)
    except np.linalg.LinAlgError:
        raise ValueError(f"{name}: not positive definite") from None
