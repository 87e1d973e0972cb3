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


def _linear_solve(
    k: FloatArray, w: FloatArray, weight: FloatArray, m: FloatArray, sigma: FloatArray
) -> tuple[FloatArray, FloatArray]:
    """For fixed (m, sigma) per row, SVI is linear in (a, b*rho, b): weighted least squares.

    Returns (coefficients (e, 3), weighted cost (e,)). Rows are independent problems.
    """
    d = k - m[:, None]
    design = np.stack([np.ones_like(k), d, np.sqrt(d * d + (sigma * sigma)[:, None])], axis=-1)
    dw = design * weight[..., None]
    lhs = np.einsum("eni,enj->eij", dw, design) + 1e-14 * np.eye(3)
    rhs = np.einsum("eni,en->ei", dw, w)
    coef = np.linalg.solve(lhs, rhs[..., None])[..., 0]
    fitted = np.einsum("eni,ei->en", design, coef)
    return coef, np.sum(weight * (fitted - w) ** 2, axis=1)


def _coef_to_params(coef: FloatArray, m: FloatArray, sigma: FloatArray) -> FloatArray:
    b = np.maximum(coef[:, 2], 1e-6)
    rho = np.clip(coef[:, 1] / b, -0.99, 0.99)
    return np.stack([coef[:, 0], b, rho, m, sigma], axis=1)


def initial_guess(
    k: FloatArray, w: FloatArray, weight: FloatArray, t_years: FloatArray
) -> FloatArray:
    """Starting parameters per expiry by variable projection over (m, sigma).

    With m and sigma fixed SVI is linear (`_linear_solve`), so the cost is a function of two
    parameters only: scan a small grid of them, then a few damped Gauss-Newton steps on the
    best point (finite differences, all expiries at once). Padded entries carry zero weight.
    """
    n_exp = k.shape[0]
    width = np.sqrt(np.maximum(t_years, 1e-4))
    m_grid = np.array([-0.1, 0.0, 0.1])
    s_grid = np.array([0.05, 0.15, 0.4])
    mm, ss = np.meshgrid(m_grid, s_grid, indexing="ij")
    n_grid = mm.size
    rep_k = np.repeat(k, n_grid, axis=0)
    rep_w = np.repeat(w, n_grid, axis=0)
    rep_wt = np.repeat(weight, n_grid, axis=0)
    m_try = (mm.ravel()[None, :] * width[:, None]).ravel()
    s_try = (ss.ravel()[None, :] * width[:, None]).ravel()
    _, cost = _linear_solve(rep_k, rep_w, rep_wt, m_try, s_try)
    best = np.argmin(cost.reshape(n_exp, n_grid), axis=1)
    m = m_try.reshape(n_exp, n_grid)[np.arange(n_exp), best]
    g = np.log(s_try.reshape(n_exp, n_grid)[np.arange(n_exp), best])
    m, g = _projected_gauss_newton(k, w, weight, m, g, width)
    coef, _ = _linear_solve(k, w, weight, m, np.exp(g))
    return _coef_to_params(coef, m, np.exp(g))


def _projected_gauss_newton(
    k: FloatArray,
    w: FloatArray,
    weight: FloatArray,
    m: FloatArray,
    g: FloatArray,
    width: FloatArray,
    iterations: int = 12,
) -> tuple[FloatArray, FloatArray]:
    """Minimise the variable-projection cost over (m, log sigma) with damped Newton steps.

    Gradient and Hessian by central differences of the (cheap, batched) projected cost; a step
    is kept per expiry only when it lowers the cost, else the damping grows.
    """
    h = 1e-4
    damping = np.full(len(m), 1e-2)
    _, cost = _linear_solve(k, w, weight, m, np.exp(g))
    for _ in range(iterations):
        hm = h * width
        shifts = [(0, 0), (1, 0), (-1, 0), (0, 1), (0, -1), (1, 1)]
        costs = []
        for sm, sg in shifts:
            costs.append(_linear_solve(k, w, weight, m + sm * hm, np.exp(g + sg * h))[1])
        c0, cmp_, cmm, cgp, cgm, cpp = costs
        grad = np.stack([(cmp_ - cmm) / (2 * hm), (cgp - cgm) / (2 * h)], axis=1)
        hmm = (cmp_ - 2 * c0 + cmm) / (hm * hm)
        hgg = (cgp - 2 * c0 + cgm) / (h * h)
        hmg = (cpp - cmp_ - cgp + c0) / (hm * h)
        hess = np.stack([np.stack([hmm, hmg], axis=1), np.stack([hmg, hgg], axis=1)], axis=1)
        diag = np.abs(np.stack([hmm, hgg], axis=1)) + 1e-30
        lhs = hess + damping[:, None, None] * diag[:, :, None] * np.eye(2)
        step = np.linalg.solve(lhs, -grad[..., None])[..., 0]
        step[:, 0] = np.clip(step[:, 0], -0.5 * width, 0.5 * width)
        step[:, 1] = np.clip(step[:, 1], -1.0, 1.0)
        m_new, g_new = m + step[:, 0], np.clip(g + step[:, 1], -9.0, 1.0)
        _, new_cost = _linear_solve(k, w, weight, m_new, np.exp(g_new))
        better = new_cost < cost
        m = np.where(better, m_new, m)
        g = np.where(better, g_new, g)
        cost = np.where(better, new_cost, cost)
        damping = np.where(better, damping * 0.3, damping * 10.0)
    return m, g


def fit_svi_batch(
    k: FloatArray,
    w_target: FloatArray,
    scale: FloatArray,
    t_years: FloatArray,
    *,
    max_iterations: int = 10,
    tolerance: float = 1e-8,
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
        tiny_step = np.max(np.abs(step), axis=1) < 1e-6
        converged |= (accept & small) | tiny_step | (damping >= 1e6)
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
