"""Vol-surface fit benchmark: our batched SVI fit against plain per-expiry scipy SVI fits.

Run: ``.venv/bin/python bench/calibration.py`` (``make bench``). Fits the whole surface (all
expiries) of one full BTC snapshot from ../shared/data/deribit both ways on the same points and
weights: `calibration.domain.surface.surface_fit` (batched Levenberg-Marquardt, analytic
Jacobian, linear-least-squares start) and a plain loop of `scipy.optimize.least_squares` per
expiry (raw SVI, bounds, numeric Jacobian, a textbook start). Each side is timed several times,
interleaved, best kept. Last line JSON: ``{"fit_ms", "ratio_vs_plain", "vw_mae_volpts"}``.
"""

from __future__ import annotations

import json
import os
import sys
import time
from pathlib import Path

import numpy as np
from scipy.optimize import least_squares

REPO_ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO_ROOT))

from calibration.domain.snapshots import snapshot_load  # noqa: E402
from calibration.domain.surface import (  # noqa: E402
    _padded,
    chain_points,
    error_breakdown,
    surface_fit,
    surface_warm_up,
)
from calibration.domain.svi import svi_total_variance  # noqa: E402

SHARED = Path(os.environ.get("OPTIONSDESK_SHARED_DIR", REPO_ROOT.parent / "shared"))
SNAPSHOT = SHARED / "data/deribit/snapshots/BTC/2025-12-12/BTC_2025-12-12_1802.parquet"
REPEATS = 7


def plain_fit(chain):  # type: ignore[no-untyped-def]
    """Per-expiry scipy least_squares raw-SVI fits on the same points and residual weights."""
    points = chain_points(chain)
    names, k, w, scale, _, _ = _padded(points)
    params = []
    for i in range(len(names)):
        used = scale[i] > 0
        ki, wi, si = k[i, used], w[i, used], scale[i, used]

        def residual(p, ki=ki, wi=wi, si=si):  # type: ignore[no-untyped-def]
            return si * (svi_total_variance(p[None], ki[None])[0] - wi)

        x0 = [float(np.min(wi)), 0.1, -0.5, 0.0, 0.1]
        bounds = ([-1.0, 1e-6, -0.999, -1.0, 1e-4], [1.0, 5.0, 0.999, 1.0, 2.0])
        params.append(least_squares(residual, x0, bounds=bounds).x)
    index_of = {name: i for i, name in enumerate(names)}
    rows = points["expiry"].map(index_of)
    has = rows.notna().to_numpy()
    table = np.array(params)[rows[has].to_numpy(dtype=np.int64)]
    kk = points.loc[has, "k"].to_numpy()
    fitted = np.full(len(points), np.nan)
    wk = svi_total_variance(table, kk[:, None])[:, 0]
    fitted[has] = np.sqrt(np.maximum(wk, 0.0) / points.loc[has, "t_years"].to_numpy())
    return error_breakdown(points.assign(fit_iv=fitted), "fit_iv")[0]


def main() -> None:
    """Time both fits and print the comparison."""
    chain = snapshot_load(SNAPSHOT).chain
    surface_warm_up()
    plain_fit(chain)
    ours_ms: list[float] = []
    plain_ms: list[float] = []
    for _ in range(REPEATS):
        started = time.perf_counter()
        fit = surface_fit(chain)
        ours_ms.append((time.perf_counter() - started) * 1000)
        started = time.perf_counter()
        plain = plain_fit(chain)
        plain_ms.append((time.perf_counter() - started) * 1000)
    best_ours, best_plain = min(ours_ms), min(plain_ms)
    print(f"snapshot: {SNAPSHOT.name}, {len(chain)} options, {len(fit.expiries)} expiries")
    print(f"batched SVI fit: best {best_ours:.1f} ms, vw MAE {fit.surface.vw_mae_volpts:.4f}")
    print(f"plain scipy per expiry: best {best_plain:.1f} ms, vw MAE {plain.vw_mae_volpts:.4f}")
    ratio = best_plain / best_ours
    print(
        f"targets: fit <= 100 ms {'met' if best_ours <= 100 else 'MISSED'}, ratio >= 3 "
        f"{'met' if ratio >= 3 else 'MISSED'} ({ratio:.2f}), error no worse "
        f"{'met' if fit.surface.vw_mae_volpts <= plain.vw_mae_volpts + 1e-3 else 'MISSED'}"
    )
    print(
        json.dumps(
            {
                "fit_ms": round(best_ours, 2),
                "ratio_vs_plain": round(ratio, 2),
                "vw_mae_volpts": round(fit.surface.vw_mae_volpts, 4),
                "plain_ms": round(best_plain, 2),
                "plain_vw_mae_volpts": round(plain.vw_mae_volpts, 4),
            }
        )
    )


if __name__ == "__main__":
    main()
