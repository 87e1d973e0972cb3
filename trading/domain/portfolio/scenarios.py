"""Scenario grid: every position revalued with Black-76 on spot moves x vol moves x time.

Why a grid and not one stress number: a covered call loses in a crash less than the coins alone
but gives up the rally; a short straddle loses on both sides and more when vol jumps. Seeing
every cell shows which scenario hurts and by how much, and the risk engine refuses a trade by
naming that cell.

Each cell moves every underlying's spot (and every forward) by the same fraction, scales every
position's own IV by (1 + vol move), so the whole surface moves and keeps its shape, and lets
`days` pass (an expired option is worth its intrinsic value). P&L is against the book valued
now with the same model, so the centre cell at +0 d is exactly zero. Coins held and perpetuals
move with spot; the coin P&L of an underlying is its sub-book's value in coin after minus before
(coins alone have zero coin P&L). The margin per cell is Deribit's standard estimate: short
options |size| x (max(0.15 - OTM, 0.10) + mark) coin, perpetuals 2% of |size|.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt

from trading.domain.black76 import DAYS_PER_YEAR
from trading.domain.black76 import price as black76_price
from trading.domain.portfolio.book import Book, OptionArrays

FloatArray = npt.NDArray[np.float64]

SHORT_OPTION_IM_BASE = 0.15
SHORT_OPTION_IM_FLOOR = 0.10
PERPETUAL_IM = 0.02


def _default_spot_moves() -> tuple[float, ...]:
    return tuple(round(x, 2) for x in np.linspace(-0.4, 0.4, 9))


@dataclass(frozen=True, slots=True)
class ScenarioSpec:
    """The grid's axes: spot moves and vol moves as fractions (-0.4 is -40%), days to let pass."""

    spot_moves: tuple[float, ...] = field(default_factory=_default_spot_moves)
    vol_moves: tuple[float, ...] = (-0.5, -0.25, 0.0, 0.25, 0.5, 1.0)
    days: tuple[float, ...] = (0.0, 1.0, 7.0)

    def __post_init__(self) -> None:
        if not self.spot_moves or not self.vol_moves or not self.days:
            raise ValueError("every scenario axis needs at least one value")
        if min(self.spot_moves) <= -1.0 or min(self.vol_moves) <= -1.0:
            raise ValueError("spot and vol moves must be above -100%")
        if min(self.days) < 0:
            raise ValueError("days must not be negative")

    @classmethod
    def linear(
        cls, spot: tuple[float, float, int], vol: tuple[float, float, int], days: tuple[float, ...]
    ) -> ScenarioSpec:
        """Evenly spaced axes, e.g. `linear((-0.4, 0.4, 21), (-0.5, 1.0, 21), (0,))`."""
        return cls(
            spot_moves=tuple(float(x) for x in np.linspace(*spot)),
            vol_moves=tuple(float(x) for x in np.linspace(*vol)),
            days=tuple(float(d) for d in days),
        )


@dataclass(frozen=True, slots=True)
class WorstCell:
    """The cell with the lowest USD P&L and where it is on the grid."""

    spot_move: float
    vol_move: float
    days: float
    pnl_usd: float
    loss_pct_of_equity: float | None

    def describe(self) -> str:
        """E.g. "spot -40%, vol +100%, +7 d: -12,345 USD (38.2% of equity)"."""
        where = (
            f"spot {self.spot_move * 100:+.0f}%, vol {self.vol_move * 100:+.0f}%, +{self.days:g} d"
        )
        share = (
            ""
            if self.loss_pct_of_equity is None
            else f" ({self.loss_pct_of_equity:.1f}% of equity)"
        )
        return f"{where}: {self.pnl_usd:+,.0f} USD{share}"

    def as_record(self) -> dict[str, object]:
        """JSON-ready dict."""
        return {
            "spot_move": self.spot_move,
            "vol_move": self.vol_move,
            "days": self.days,
            "pnl_usd": round(self.pnl_usd, 2),
            "loss_pct_of_equity": (
                None if self.loss_pct_of_equity is None else round(self.loss_pct_of_equity, 4)
            ),
            "label": self.describe(),
        }


@dataclass(frozen=True, slots=True)
class ScenarioGrid:
    """P&L and margin on every cell; arrays are indexed [day, spot move, vol move].

    `pnl_coin[u]` is the P&L of underlying `u`'s sub-book in its own coin.
    """

    spot_moves: FloatArray
    vol_moves: FloatArray
    days: FloatArray
    pnl_usd: FloatArray
    pnl_coin: dict[str, FloatArray]
    margin_usd: FloatArray
    equity_usd: float | None
    worst: WorstCell

    @property
    def cells(self) -> int:
        """Number of cells (days x spot moves x vol moves)."""
        return int(self.pnl_usd.size)

    def cell(self, spot_move: float, vol_move: float, days: float = 0.0) -> float:
        """USD P&L of the cell nearest to the given moves (exact when they are on the grid)."""
        t = int(np.argmin(np.abs(self.days - days)))
        s = int(np.argmin(np.abs(self.spot_moves - spot_move)))
        v = int(np.argmin(np.abs(self.vol_moves - vol_move)))
        return float(self.pnl_usd[t, s, v])

    def as_record(self) -> dict[str, object]:
        """JSON-ready dict: axes, P&L in USD and coin, margin, equity and the worst cell."""
        return {
            "spot_moves": self.spot_moves.round(6).tolist(),
            "vol_moves": self.vol_moves.round(6).tolist(),
            "days": self.days.tolist(),
            "pnl_usd": self.pnl_usd.round(2).tolist(),
            "pnl_coin": {u: a.round(8).tolist() for u, a in self.pnl_coin.items()},
            "margin_usd": self.margin_usd.round(2).tolist(),
            "equity_usd": None if self.equity_usd is None else round(self.equity_usd, 2),
            "worst": self.worst.as_record(),
        }


def scenario_grid(book: Book, spec: ScenarioSpec | None = None) -> ScenarioGrid:
    """Revalue the whole book on every cell of `spec` (see the module docstring)."""
    spec = spec or ScenarioSpec()
    spot = np.asarray(spec.spot_moves, dtype=np.float64)
    vol = np.asarray(spec.vol_moves, dtype=np.float64)
    days = np.asarray(spec.days, dtype=np.float64)
    names = book.underlyings
    index = np.array([book.index_of(u) for u in names], dtype=np.float64)
    shape = (days.size, spot.size, vol.size, len(names))
    pnl_u, value0_u, margin = _options_pnl(book, spot, vol, days, shape)
    coins = np.array([float(book.coins.get(u, 0.0)) for u in names], dtype=np.float64)
    perps = np.zeros(len(names), dtype=np.float64)
    for perp in book.perpetuals:
        if perp.underlying in names:
            perps[names.index(perp.underlying)] += perp.size_usd
    spot_col = spot[None, :, None, None]
    pnl_u = pnl_u + (coins * index + perps) * spot_col
    value0_u = value0_u + coins * index
    margin = margin + PERPETUAL_IM * float(np.abs(perps).sum())
    with np.errstate(divide="ignore", invalid="ignore"):
        pnl_coin_u = (value0_u + pnl_u) / (index * (1.0 + spot_col)) - value0_u / index
    pnl_usd = pnl_u.sum(axis=-1)
    return ScenarioGrid(
        spot_moves=spot,
        vol_moves=vol,
        days=days,
        pnl_usd=pnl_usd,
        pnl_coin={u: pnl_coin_u[..., i] for i, u in enumerate(names)},
        margin_usd=margin,
        equity_usd=book.equity_usd,
        worst=_worst(pnl_usd, spot, vol, days, book.equity_usd),
    )


def _options_pnl(
    book: Book, spot: FloatArray, vol: FloatArray, days: FloatArray, shape: tuple[int, ...]
) -> tuple[FloatArray, FloatArray, FloatArray]:
    """Options' USD P&L per underlying [T, S, V, U], their value now [U], margin [T, S, V]."""
    arrays = book.option_arrays()
    pnl_u = np.zeros(shape, dtype=np.float64)
    value0_u = np.zeros(shape[-1], dtype=np.float64)
    margin = np.zeros(shape[:3], dtype=np.float64)
    if arrays.size.size == 0:
        return pnl_u, value0_u, margin
    base = black76_price(arrays.forward, arrays.strike, arrays.t_years, arrays.iv, arrays.is_call)
    forward = arrays.forward * (1.0 + spot)[None, :, None, None]
    sigma = arrays.iv * (1.0 + vol)[None, None, :, None]
    t_years = np.maximum(arrays.t_years - days[:, None, None, None] / DAYS_PER_YEAR, 0.0)
    value = black76_price(forward, arrays.strike, t_years, sigma, arrays.is_call)
    onehot = np.zeros((arrays.size.size, shape[-1]), dtype=np.float64)
    onehot[np.arange(arrays.size.size), arrays.underlying_idx] = 1.0
    pnl_u = ((value - base) * arrays.size) @ onehot
    value0_u = (base * arrays.size) @ onehot
    margin = _short_option_margin(book, arrays, value, forward, spot)
    return pnl_u, value0_u, margin


def _short_option_margin(
    book: Book, arrays: OptionArrays, value: FloatArray, forward: FloatArray, spot: FloatArray
) -> FloatArray:
    short = np.where(arrays.size < 0, -arrays.size, 0.0)
    if not short.any():
        return np.zeros(value.shape[:3], dtype=np.float64)
    index = np.array([book.index_of(u) for u in book.underlyings], dtype=np.float64)
    index_after = index[arrays.underlying_idx] * (1.0 + spot)[None, :, None, None]
    distance = np.where(arrays.is_call, arrays.strike - forward, forward - arrays.strike)
    otm = np.maximum(distance, 0.0) / forward
    per_coin = np.maximum(SHORT_OPTION_IM_BASE - otm, SHORT_OPTION_IM_FLOOR) + value / forward
    margin: FloatArray = (short * per_coin * index_after).sum(axis=-1)
    return margin


def _worst(
    pnl_usd: FloatArray,
    spot: FloatArray,
    vol: FloatArray,
    days: FloatArray,
    equity_usd: float | None,
) -> WorstCell:
    t, s, v = np.unravel_index(int(np.nanargmin(pnl_usd)), pnl_usd.shape)
    pnl = float(pnl_usd[t, s, v])
    share = None
    if equity_usd is not None and equity_usd > 0:
        share = max(-pnl, 0.0) / equity_usd * 100.0
    return WorstCell(
        spot_move=float(spot[s]),
        vol_move=float(vol[v]),
        days=float(days[t]),
        pnl_usd=pnl,
        loss_pct_of_equity=share,
    )
