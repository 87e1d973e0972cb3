"""Array aliases and time units shared by the market model's modules."""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]
BoolArray = npt.NDArray[np.bool_]

MS_PER_YEAR = 365.0 * 86_400_000
SECONDS_PER_YEAR = 365.0 * 86_400
EXPIRY_HOUR_UTC = 8
PERPETUAL_EXPIRY_MS = 32_503_708_800_000
