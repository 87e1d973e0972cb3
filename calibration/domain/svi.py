"""Raw-SVI smiles in total variance, fitted for every expiry of a chain at once.

Raw SVI (Gatheral 2004): total variance ``w(k) = a + b (rho (k - m) + sqrt((k - m)**2 + s**2))``
with ``k = ln(K/F)`` and ``w = iv**2 * T``. Why batched: a chain has 10-20 expiries of a few
dozen strikes; one Levenberg-Marquardt iteration over a padded (expiries x strikes) array with the
analytic Jacobian costs about as much as one expiry's, so the whole surface converges in the time
a per-expiry `scipy.optimize.least_squares` loop spends on two expiries.

Parameters are fitted through transforms that keep them admissible: ``b = exp(beta)``,
``rho = tanh(r)``, ``s = exp(g)``; ``a`` and ``m`` are free. Residuals are IV errors to first
order, ``(w_fit - w_mark) / (2 iv T)``, weighted by the square root of vega, so least squares
minimises a vega-weighted IV error, the metric we report.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

FloatArray = npt.NDArray[np.float64]
BoolArray = npt.NDArray[np.bool_]

#: Parameter order in arrays: a, b, rho, m, sigma.
PARAM_NAMES: tuple[str, ...] = ("a", "b", "rho", "m", "sigma")


@dataclass(frozen=True, slots=True)
class SviParams:
    """One expiry's raw-SVI parameters (total variance in years x vol**2)."""

    a: float
    b: float
    rho: float
    m: float
    sigma: float

    def as_array(self) -> FloatArray:
        """The five parameters in `PARAM_NAMES` order."""
        return np.array([self.a, self.b, self.rho, self.m, self.sigma], dtype=np.float64)

    @classmethod
    def from_array(cls, values: npt.ArrayLike) -> SviParams:
        """Parameters from an array in `PARAM_NAMES` order."""
        a, b, rho, m, sigma = (float(v) for v in np.asarray(values, dtype=np.float64))
        return cls(a=a, b=b, rho=rho, m=m, sigma=sigma)


def svi_total_variance(params: FloatArray, k: FloatArray) -> FloatArray:
    """Total variance of raw SVI; `params` (..., 5) broadcasts against `k` (..., n)."""
    p = np.asarray(params, dtype=np.float64)
    a, b, rho, m, sigma = (p[..., i, None] for i in range(5))
    d = np.asarray(k, dtype=np.float64) - m
    return np.asarray(a + b * (rho * d + np.sqrt(d * d + sigma * sigma)))


def svi_derivatives(params: FloatArray, k: FloatArray) -> tuple[FloatArray, FloatArray]:
    """First and second derivatives of total variance in k (same broadcasting)."""
    p = np.asarray(params, dtype=np.float64)
    b, rho, m, sigma = (p[..., i, None] for i in range(1, 5))
    d = np.asarray(k, dtype=np.float64) - m
    root = np.sqrt(d * d + sigma * sigma)
    return np.asarray(b * (rho + d / root)), np.asarray(b * sigma * sigma / root**3)


@dataclass(frozen=True, slots=True)
class BatchFit:
    """Fitted parameters per expiry (rows of `params`), with the final weighted RMS residual."""

    params: FloatArray
    rms_residual: FloatArray
    iterations: int


def _to_theta(params: FloatArray) -> FloatArray:
    theta = params.copy()
    theta[:, 1] = np.log(np.maximum(params[:, 1], 1e-8))
    theta[:, 2] = np.arctanh(np.clip(params[:, 2], -0.999, 0.999))
    theta[:, 4] = np.log(np.maximum(params[:, 4], 1e-6))
    return theta


def _from_theta(theta: FloatArray) -> FloatArray:
    params = theta.copy()
    params[:, 1] = np.exp(np.clip(theta[:, 1], -30.0, 5.0))
    params[:, 2] = np.tanh(np.clip(theta[:, 2], -4.0, 4.0))
    params[:, 4] = np.exp(np.clip(theta[:, 4], -12.0, 2.0))
    return params


def _residuals_and_jacobian(
    theta: FloatArray, k: FloatArray, w_target: FloatArray, scale: FloatArray
) -> tuple[FloatArray, FloatArray]:
    """Scaled residuals (e, n) and their Jacobian (e, n, 5) in the transformed parameters."""
    p = _from_theta(theta)
    a, b, rho, m, sigma = (p[:, i, None] for i in range(5))
    d = k - m
    root = np.sqrt(d * d + sigma * sigma)
    w = a + b * (rho * d + root)
    residual = scale * (w - w_target)
    jac = np.empty((*k.shape, 5), dtype=np.float64)
    jac[..., 0] = scale
    jac[..., 1] = scale * b * (rho * d + root)  # d/d beta, b = exp(beta)
    jac[..., 2] = scale * b * d * (1.0 - rho * rho)  # d/d r, rho = tanh(r)
    jac[..., 3] = scale * (-b) * (rho + d / root)
    jac[..., 4] = scale * b * sigma * sigma / root  # d/d g, sigma = exp(g)
    return residual, jac


def initial_guess(
    k: FloatArray, w: FloatArray, weight: FloatArray, t_years: FloatArray
) -> FloatArray:
    """Starting parameters per expiry: linear least squares with m = 0 over a few sigmas.

    With m and sigma fixed, SVI is linear in (a, b*rho, b); solve it for three sigmas scaled to
    the expiry's width in k and keep the best. Padded entries carry zero weight.
    """
    n_exp = k.shape[0]
    best = np.zeros((n_exp, 5))
    best_err = np.full(n_exp, np.inf)
    sq = np.sqrt(weight)
    width = np.sqrt(np.maximum(t_years, 1e-4))[:, None]
    for factor in (0.05, 0.15, 0.4):
        sigma = factor * width
        design = np.stack([np.ones_like(k), k, np.sqrt(k * k + sigma * sigma)], axis=-1)
        dw = design * sq[..., None]
        lhs = np.einsum("eni,enj->eij", dw, dw) + 1e-12 * np.eye(3)
        rhs = np.einsum("eni,en->ei", dw, w * sq)
        coef = np.linalg.solve(lhs, rhs[..., None])[..., 0]
        fitted = np.einsum("eni,ei->en", design, coef)
        err = np.sum(weight * (fitted - w) ** 2, axis=1)
        b = np.maximum(coef[:, 2], 1e-6)
        rho = np.clip(coef[:, 1] / b, -0.95, 0.95)
        better = err < best_err
        best_err = np.where(better, err, best_err)
        candidate = np.stack([coef[:, 0], b, rho, np.zeros(n_exp), sigma[:, 0]], axis=1)
        best[better] = candidate[better]
    return best


def fit_svi_batch(
    k: FloatArray,
    w_target: FloatArray,
    scale: FloatArray,
    t_years: FloatArray,
    *,
    max_iterations: int = 60,
    tolerance: float = 1e-10,
) -> BatchFit:
    """Fit raw SVI to every row of padded arrays (expiries x strikes) at once.

    `scale` is the residual scale per point (zero for padding): sqrt(weight) / (2 iv T) turns
    total-variance errors into weighted IV errors. Levenberg-Marquardt with a damping factor per
    expiry, accepted or rejected per expiry, so converged expiries simply stop moving.
    """
    weight_for_guess = (scale > 0).astype(np.float64) * scale * scale
    theta = _to_theta(initial_guess(k, w_target, weight_for_guess, t_years))
    residual, jac = _residuals_and_jacobian(theta, k, w_target, scale)
    cost = np.sum(residual * residual, axis=1)
    damping = np.full(k.shape[0], 1e-3)
    converged = np.zeros(k.shape[0], dtype=bool)
    eye = np.eye(5)
    iterations = 0
    while iterations < max_iterations:
        iterations += 1
        jtj = np.einsum("eni,enj->eij", jac, jac)
        jtr = np.einsum("eni,en->ei", jac, residual)
        diag = np.einsum("eii->ei", jtj)
        lhs = jtj + damping[:, None, None] * (diag[:, :, None] * eye + 1e-12 * eye)
        step = np.linalg.solve(lhs, -jtr[..., None])[..., 0]
        trial = theta + step
        new_residual, new_jac = _residuals_and_jacobian(trial, k, w_target, scale)
        new_cost = np.sum(new_residual * new_residual, axis=1)
        accept = (new_cost < cost) & ~converged
        theta = np.where(accept[:, None], trial, theta)
        residual = np.where(accept[:, None], new_residual, residual)
        jac = np.where(accept[:, None, None], new_jac, jac)
        small = (cost - new_cost) <= tolerance * np.maximum(cost, 1e-30)
        cost = np.where(accept, new_cost, cost)
        damping = np.clip(np.where(accept, damping * 0.3, damping * 10.0), 1e-9, 1e9)
        converged |= (accept & small) | (damping >= 1e8)
        if np.all(converged):
            break
    n_points = np.maximum(np.sum(scale > 0, axis=1), 1)
    return BatchFit(
        params=_from_theta(theta),
        rms_residual=np.sqrt(cost / n_points),
        iterations=iterations,
    )


def butterfly_density(params: FloatArray, k: FloatArray) -> FloatArray:
    """Gatheral's g(k): negative where the smile implies a negative density (butterfly arb)."""
    w = svi_total_variance(params, k)
    w1, w2 = svi_derivatives(params, k)
    safe_w = np.where(w > 0, w, np.nan)
    return np.asarray(
        (1.0 - k * w1 / (2.0 * safe_w)) ** 2 - (w1 * w1 / 4.0) * (1.0 / safe_w + 0.25) + w2 / 2.0
    )
