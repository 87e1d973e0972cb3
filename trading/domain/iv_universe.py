"""A reproducible synthetic universe of options for IV accuracy tests and speed benchmarks.

Forwards log-uniform in [100, 200 000] USD, expiries log-uniform from 1 day to 2 years, vols
uniform in 5%-300%, strikes spread by standardised moneyness z = ln(K/F)/(sigma·sqrt(T)) uniform
in [-z_max, z_max] (z_max = 8 reaches 1e-15 of the forward in price: deep OTM to deep ITM).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

FloatArray = npt.NDArray[np.float64]


@dataclass(frozen=True, slots=True)
class OptionUniverse:
    """Option parameters; ``otm_is_call`` picks the out-of-the-money side at each strike."""

    forward: FloatArray
    strike: FloatArray
    t_years: FloatArray
    sigma: FloatArray
    otm_is_call: npt.NDArray[np.bool_]

    def __len__(self) -> int:
        """Number of options."""
        return int(self.forward.shape[0])


def synthetic_universe(n: int, *, seed: int = 20251212, z_max: float = 8.0) -> OptionUniverse:
    """Draw ``n`` options (see the module docstring for the distributions)."""
    rng = np.random.default_rng(seed)
    forward = np.exp(rng.uniform(np.log(100.0), np.log(200_000.0), n))
    t_years = np.exp(rng.uniform(np.log(1.0 / 365.0), np.log(2.0), n))
    sigma = rng.uniform(0.05, 3.0, n)
    z = rng.uniform(-z_max, z_max, n)
    strike = forward * np.exp(z * sigma * np.sqrt(t_years))
    return OptionUniverse(forward, strike, t_years, sigma, strike >= forward)
