"""The simulator's static universe for a seed, built once per process."""
from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import numpy as np

from dealer.market.simulator import FactorModel, SpecArrays, build_factor_model, spec_arrays
from dealer.market.universe import InstrumentSpec, generate_universe


@dataclass(frozen=True)
class Universe:
    specs: list[InstrumentSpec]
    model: FactorModel
    arrays: SpecArrays
    cov_normal: np.ndarray
    cov_stressed: np.ndarray


@lru_cache(maxsize=4)
def universe(seed: int) -> Universe:
    specs = generate_universe(seed)
    model = build_factor_model(specs)
    return Universe(specs=specs, model=model, arrays=spec_arrays(specs), cov_normal=model.covariance(False),
                    cov_stressed=model.covariance(True))
