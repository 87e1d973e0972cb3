"""Synthetic universe v2: volatility regimes fitted on the hourly volatility history, AR(1) IV
dynamics per regime and a regime-switching path generator.

Features per hour (scikit-learn `StandardScaler` + `KMeans`): 30-day IV, 30-day RV, VRP (IV - RV)
and the IV trend (change over 7 days), in vol points. The shared history carries `rv_30d` only for
its last 16 days (384 of 4321 hours); a missing RV is imputed as IV times the median RV/IV ratio
of the hours that have both, so before then VRP is proportional to IV and adds no information.
Regimes are numbered by their centroid IV (0 = calmest), which makes labels comparable across
seeds. Per regime, the AR(1) ``x[t+1] = c + phi x[t] + e`` is fitted by least squares on the hours
whose regime is that of ``t`` (IV decimal), with standard errors; the regime reverts to its mean
IV (``c / (1 - phi)`` is unstable with phi near one) and phi is capped at 0.999.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
import pandas as pd

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]
FEATURES: tuple[str, ...] = ("iv_30d", "rv_30d", "vrp_30d", "iv_trend_7d")
TREND_HOURS = 168
#: Persistence cap: a regime must mean-revert (a unit root would wander off).
MAX_PHI = 0.999


@dataclass(frozen=True, slots=True)
class RegimeAR1:
    """IV dynamics of one regime (decimal IV, hourly) with the standard errors of the fit."""

    regime: int
    mu: float
    phi: float
    sigma: float
    phi_se: float
    intercept_se: float
    n: int
    share: float


@dataclass(frozen=True)
class RegimeModel:
    """Fitted regimes: centroids (feature units), AR(1) per regime, hourly transitions, labels."""

    features: tuple[str, ...]
    centroids: FloatArray
    dynamics: tuple[RegimeAR1, ...]
    transition: FloatArray
    labels: IntArray
    times: pd.DatetimeIndex
    iv: FloatArray

    @property
    def n_regimes(self) -> int:
        """Number of regimes."""
        return len(self.dynamics)


def regime_features(history: pd.DataFrame) -> pd.DataFrame:
    """Hourly feature table from a `volatility_history` frame (percent units in, vol pts out)."""
    frame = history.sort_values("timestamp").reset_index(drop=True)
    iv = frame["iv_30d"].astype(float)
    rv = frame["rv_30d"].astype(float)
    both = iv.notna() & rv.notna()
    ratio = float(np.median(rv[both] / iv[both])) if both.any() else 1.0
    rv_filled = rv.where(rv.notna(), iv * ratio)
    out = pd.DataFrame(
        {
            "timestamp": pd.to_datetime(frame["timestamp"], utc=True),
            "iv_30d": iv,
            "rv_30d": rv_filled,
            "vrp_30d": iv - rv_filled,
            "iv_trend_7d": iv - iv.shift(TREND_HOURS),
        }
    )
    return out.dropna().reset_index(drop=True)


def ar1_fit(x: FloatArray, y: FloatArray) -> tuple[float, float, float, float, float]:
    """Least squares y = c + phi x + e: (c, phi, sigma, se(c), se(phi))."""
    design = np.column_stack([np.ones_like(x), x])
    coef, *_ = np.linalg.lstsq(design, y, rcond=None)
    residual = y - design @ coef
    dof = max(len(x) - 2, 1)
    sigma2 = float(residual @ residual) / dof
    cov = sigma2 * np.linalg.inv(design.T @ design)
    return (
        float(coef[0]),
        float(coef[1]),
        float(np.sqrt(sigma2)),
        float(np.sqrt(cov[0, 0])),
        float(np.sqrt(cov[1, 1])),
    )


def regimes_fit(history: pd.DataFrame, *, n_regimes: int = 3, seed: int = 0) -> RegimeModel:
    """KMeans regimes on the volatility history, ordered by centroid IV, with AR(1) per regime."""
    from sklearn.cluster import KMeans
    from sklearn.preprocessing import StandardScaler

    table = regime_features(history)
    values = table[list(FEATURES)].to_numpy(dtype=np.float64)
    scaler = StandardScaler().fit(values)
    kmeans = KMeans(n_clusters=n_regimes, n_init=10, random_state=seed).fit(
        scaler.transform(values)
    )
    centroids = scaler.inverse_transform(kmeans.cluster_centers_)
    order = np.argsort(centroids[:, 0])
    relabel = np.empty(n_regimes, dtype=np.int64)
    relabel[order] = np.arange(n_regimes)
    labels = relabel[kmeans.labels_].astype(np.int64)
    iv = table["iv_30d"].to_numpy(dtype=np.float64) / 100.0
    dynamics = []
    for regime in range(n_regimes):
        at = np.flatnonzero(labels[:-1] == regime)
        _, phi, sigma, c_se, phi_se = ar1_fit(iv[at], iv[at + 1])
        dynamics.append(
            RegimeAR1(
                regime=regime,
                # The regime's mean IV: c / (1 - phi) is unstable when phi is near one.
                mu=float(np.mean(iv[at])),
                phi=min(phi, MAX_PHI),
                sigma=sigma,
                phi_se=phi_se,
                intercept_se=c_se,
                n=len(at),
                share=float(np.mean(labels == regime)),
            )
        )
    counts = np.zeros((n_regimes, n_regimes))
    np.add.at(counts, (labels[:-1], labels[1:]), 1.0)
    transition = counts / np.maximum(counts.sum(axis=1, keepdims=True), 1.0)
    return RegimeModel(
        features=FEATURES,
        centroids=centroids[order],
        dynamics=tuple(dynamics),
        transition=transition,
        labels=labels,
        times=pd.DatetimeIndex(table["timestamp"]),
        iv=iv,
    )


def regime_path(
    dynamics: tuple[RegimeAR1, ...],
    transition: FloatArray,
    *,
    hours: int,
    seed: int,
    start_regime: int = 0,
    start_iv: float | None = None,
    iv_floor: float = 0.05,
) -> tuple[IntArray, FloatArray]:
    """A regime-switching hourly IV path (decimal): Markov regimes, AR(1) IV within each."""
    rng = np.random.default_rng(seed)
    regime = int(start_regime)
    x = float(dynamics[regime].mu if start_iv is None else start_iv)
    cumulative = np.cumsum(np.asarray(transition, dtype=np.float64), axis=1)
    regimes = np.empty(hours, dtype=np.int64)
    ivs = np.empty(hours, dtype=np.float64)
    shocks = rng.standard_normal(hours)
    draws = rng.random(hours)
    for t in range(hours):
        regimes[t] = regime
        ivs[t] = x
        p = dynamics[regime]
        x = max(p.mu + p.phi * (x - p.mu) + p.sigma * shocks[t], iv_floor)
        regime = next_regime(cumulative[regime], float(draws[t]))
    return regimes, ivs


def next_regime(cumulative_row: FloatArray, uniform: float) -> int:
    """The next regime from a cumulative transition row and a uniform draw in [0, 1)."""
    index = int(np.searchsorted(cumulative_row, uniform * cumulative_row[-1], side="right"))
    return min(index, len(cumulative_row) - 1)


def daily_timeline(model: RegimeModel) -> list[tuple[str, int]]:
    """The most frequent regime of each day, for the tab's timeline."""
    frame = pd.DataFrame({"regime": model.labels}, index=model.times)
    daily = frame["regime"].resample("1D").agg(lambda s: int(s.mode().iloc[0]) if len(s) else -1)
    return [(t.isoformat(), int(r)) for t, r in daily.items() if r >= 0]
