"""`ChainPanel`: every chain snapshot of a backtest in one set of columnar arrays.

Why: a year of hourly chains is about a million option marks. Holding them as flat numpy columns
(rows sorted by time, plus a second ordering by instrument) lets the filter and scoring run over
all of them in one vectorised call and lets a trade's whole path be read as one slice, instead of
looping over per-snapshot DataFrames in Python.

A panel is built from option chains in the project's one snapshot shape
(`trading.domain.chain.CHAIN_COLUMNS`, many snapshots stacked) with `panel_from_chains`, and
`snapshot_frame` turns one panel time back into that shape (plus `dte_days`, `iv`, `delta`), so
the live agent, the harvester and every backtest source speak the same chain.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

import numpy as np
import numpy.typing as npt
import pandas as pd

from backtests.domain.types import BoolArray, DataProvenance, FloatArray
from trading.domain import black76
from trading.domain.candidates import CandidateChain
from trading.domain.chain import CHAIN_COLUMNS

IntArray = npt.NDArray[np.int64]
SECONDS_PER_DAY = 86_400.0
SECONDS_PER_YEAR = 365.0 * SECONDS_PER_DAY

MIN_IV = 1e-4


@dataclass(frozen=True, slots=True)
class ChainPanel:
    """All chain snapshots of one underlying over a period, as aligned numpy columns.

    Times are epoch seconds (UTC). Rows are sorted by (time, instrument); `time_start[t]` to
    `time_start[t + 1]` are the rows of time `t`; `path_order[path_start[j]:path_start[j + 1]]`
    are the rows of instrument `j` in time order.
    """

    underlying: str
    times: FloatArray
    spot_usd: FloatArray
    rv: FloatArray
    instrument_name: npt.NDArray[np.object_]
    strike: FloatArray
    expiry_ts: FloatArray
    is_call: BoolArray
    settlement_usd: FloatArray
    row_time: IntArray
    row_instrument: IntArray
    forward_usd: FloatArray
    mark_coin: FloatArray
    bid_coin: FloatArray
    ask_coin: FloatArray
    iv: FloatArray
    open_interest: FloatArray
    dte_days: FloatArray
    delta: FloatArray
    time_start: IntArray
    path_order: IntArray
    path_start: IntArray
    provenance: DataProvenance

    @property
    def n_rows(self) -> int:
        """Number of (time, option) marks in the panel."""
        return len(self.row_time)

    def rows_at(self, time_index: int) -> slice:
        """Rows of one snapshot time."""
        return slice(int(self.time_start[time_index]), int(self.time_start[time_index + 1]))

    def path_rows(self, instrument: int, from_time_index: int = 0) -> IntArray:
        """Rows of one instrument from a time index on, in time order."""
        rows = self.path_order[self.path_start[instrument] : self.path_start[instrument + 1]]
        first = int(np.searchsorted(self.row_time[rows], from_time_index, side="left"))
        result: IntArray = rows[first:]
        return result

    def time_index_at_or_after(self, epoch_seconds: float) -> int:
        """Index of the first panel time at or after `epoch_seconds` (len(times) if none)."""
        return int(np.searchsorted(self.times, epoch_seconds, side="left"))

    def decision_mask(self, interval_hours: float) -> BoolArray:
        """Panel times that are decision times: the first time at or after each grid step."""
        mask = np.zeros(len(self.times), dtype=bool)
        if len(self.times) == 0:
            return mask
        step = interval_hours * 3600.0
        count = int(np.floor((self.times[-1] - self.times[0]) / step + 1e-9)) + 1
        grid = self.times[0] + step * np.arange(count)
        # Tolerate float noise: a time a microsecond early counts as on the grid.
        indices = np.searchsorted(self.times, grid - 1e-6, side="left")
        mask[np.unique(indices[indices < len(self.times)])] = True
        return mask

    def candidate_chain(self, premium_coin: FloatArray) -> CandidateChain:
        """All rows as a `CandidateChain`, selling at `premium_coin` (per row, coin)."""
        j = self.row_instrument
        spot = self.spot_usd[self.row_time]
        mid = 0.5 * (self.bid_coin + self.ask_coin)
        chain = CandidateChain(
            instrument_name=self.instrument_name[j],
            is_call=self.is_call[j],
            strike=self.strike[j],
            # The expiry's forward, as the live tick's candidate chain (parity).
            underlying_usd=self.forward_usd,
            dte_days=self.dte_days,
            delta=self.delta,
            iv=self.iv,
            premium_usd=premium_coin * spot,
            spread_pct=(self.ask_coin - self.bid_coin) / mid,
            open_interest=self.open_interest,
        )
        return chain

    def row_rv(self) -> FloatArray:
        """Realised volatility at each row's time."""
        result: FloatArray = self.rv[self.row_time]
        return result


def _groups(sorted_keys: IntArray, n_groups: int) -> IntArray:
    """Start offsets (n_groups + 1) of each key in an array sorted by key."""
    result: IntArray = np.searchsorted(sorted_keys, np.arange(n_groups + 1), side="left").astype(
        np.int64
    )
    return result


def _epoch_seconds(values: pd.Series) -> FloatArray:
    """Epoch seconds of timestamps of any resolution (naive values are taken as UTC)."""
    stamps = pd.to_datetime(values, utc=True)
    result: FloatArray = (
        (stamps - pd.Timestamp(0, tz="UTC")).dt.total_seconds().to_numpy(dtype=np.float64)
    )
    return result


def _spot_per_time(
    index_usd: FloatArray | None,
    forwards: FloatArray,
    expiry_ts: FloatArray,
    time_index: IntArray,
    n_times: int,
) -> FloatArray:
    """Index price per time: the index when given, else the forward of the nearest expiry."""
    if index_usd is not None and np.isfinite(index_usd).any():
        ok = np.isfinite(index_usd)
        by_time = pd.Series(index_usd[ok]).groupby(time_index[ok]).median()
    else:
        nearest = pd.Series(expiry_ts).groupby(time_index).transform("min").to_numpy()
        near = (expiry_ts == nearest) & np.isfinite(forwards)
        by_time = pd.Series(forwards[near]).groupby(time_index[near]).median()
    spot = np.full(n_times, np.nan)
    spot[by_time.index.to_numpy()] = by_time.to_numpy()
    valid = np.isfinite(spot)
    if not valid.any():
        raise ValueError("no index or forward price in the data")
    # Fill a snapshot without a price from the previous one (the first from the next one).
    last = np.maximum.accumulate(np.where(valid, np.arange(n_times), 0))
    first_valid = int(np.argmax(valid))
    filled: FloatArray = spot[last]
    filled[:first_valid] = spot[first_valid]
    return filled


def settlement_prices(times: FloatArray, spot_usd: FloatArray, expiry_ts: FloatArray) -> FloatArray:
    """Delivery price per expiry: the index interpolated at expiry, NaN beyond the data.

    Deribit delivers at a 30-minute TWAP of the index before 08:00 UTC; with hourly (or
    sparser) data the index interpolated at 08:00 is the closest available estimate.
    """
    inside = (expiry_ts >= times[0]) & (expiry_ts <= times[-1])
    result: FloatArray = np.where(inside, np.interp(expiry_ts, times, spot_usd), np.nan)
    return result


def _forward_delta(
    forward: FloatArray, strike: FloatArray, dte_days: FloatArray, iv: FloatArray, calls: BoolArray
) -> FloatArray:
    t_years = np.maximum(dte_days, 0.0) / 365.0
    result: FloatArray = black76.greeks(forward, strike, t_years, iv, calls).delta
    return result


def build_panel(
    *,
    underlying: str,
    times: FloatArray,
    spot_usd: FloatArray,
    rv: FloatArray,
    instrument_name: npt.NDArray[np.object_],
    strike: FloatArray,
    expiry_ts: FloatArray,
    is_call: BoolArray,
    row_time: IntArray,
    row_instrument: IntArray,
    forward_usd: FloatArray,
    mark_coin: FloatArray,
    bid_coin: FloatArray,
    ask_coin: FloatArray,
    iv: FloatArray,
    open_interest: FloatArray | None,
    provenance: DataProvenance,
    settlement_usd: FloatArray | None = None,
    delta: FloatArray | None = None,
) -> ChainPanel:
    """Assemble a panel from columns (rows in any order); derives DTE, delta and indexes.

    `delta` may be passed when the source already computed it (the synthetic source prices
    and takes greeks in one pass); otherwise it is Black-76 forward delta at `iv`.
    """
    n_instruments = len(instrument_name)
    order = np.argsort(row_time.astype(np.int64) * n_instruments + row_instrument, kind="stable")
    row_time = row_time[order].astype(np.int64)
    row_instrument = row_instrument[order].astype(np.int64)
    n_rows = len(row_time)
    oi = np.full(n_rows, np.nan) if open_interest is None else open_interest[order]
    dte_days = (expiry_ts[row_instrument] - times[row_time]) / SECONDS_PER_DAY
    forward_sorted, iv_sorted = forward_usd[order], iv[order]
    if delta is None:
        delta_sorted = _forward_delta(
            forward_sorted,
            strike[row_instrument],
            dte_days,
            iv_sorted,
            is_call[row_instrument],
        )
    else:
        delta_sorted = delta[order]
    path_order = np.argsort(row_instrument * len(times) + row_time, kind="stable").astype(np.int64)
    return ChainPanel(
        underlying=underlying,
        times=times,
        spot_usd=spot_usd,
        rv=rv,
        instrument_name=instrument_name,
        strike=strike,
        expiry_ts=expiry_ts,
        is_call=is_call,
        settlement_usd=settlement_prices(times, spot_usd, expiry_ts)
        if settlement_usd is None
        else settlement_usd,
        row_time=row_time,
        row_instrument=row_instrument,
        forward_usd=forward_sorted,
        mark_coin=mark_coin[order],
        bid_coin=bid_coin[order],
        ask_coin=ask_coin[order],
        iv=iv_sorted,
        open_interest=oi,
        dte_days=dte_days,
        delta=delta_sorted,
        time_start=_groups(row_time, len(times)),
        path_order=path_order,
        path_start=_groups(row_instrument[path_order], len(instrument_name)),
        provenance=provenance,
    )


def _chain_iv(chain: pd.DataFrame, t_years: FloatArray, is_call: BoolArray) -> FloatArray:
    """Decimal IV implied from the mark (Black-76 on the forward), as the live tick computes
    it (`trading.domain.chain.enrich_chain`, parity); Deribit's `mark_iv` where the mark does
    not invert."""
    forward = chain["underlying_price"].to_numpy(dtype=np.float64)
    mark_usd = chain["mark_price"].to_numpy(dtype=np.float64) * forward
    implied = black76.implied_vol(
        mark_usd, forward, chain["strike"].to_numpy(dtype=np.float64), t_years, is_call
    )
    iv: FloatArray = np.asarray(implied.iv, dtype=np.float64)
    quoted = chain["mark_iv"].to_numpy(dtype=np.float64) / 100.0
    missing = ~(iv > MIN_IV) & (quoted > MIN_IV)
    iv[missing] = quoted[missing]
    return iv


def panel_from_chains(
    chains: pd.DataFrame,
    *,
    underlying: str,
    provenance: DataProvenance,
    rv_by_time: pd.Series | None = None,
) -> ChainPanel:
    """Build a panel from stacked chain snapshots in the `CHAIN_COLUMNS` shape.

    Rows of one snapshot share a `harvest_time`. An optional `index_price` column (USD) gives
    the index; otherwise the forward of the nearest expiry stands in for it. `rv_by_time` is
    realised volatility (decimal) indexed by UTC timestamps; each snapshot takes the latest
    value at or before its time (no look-ahead).
    """
    missing = [c for c in CHAIN_COLUMNS if c not in chains.columns]
    if missing:
        raise ValueError(f"chain frame lacks columns {missing}")
    chains = chains[chains["underlying"] == underlying]
    if chains.empty:
        raise ValueError(f"no {underlying} chain rows for the requested period")
    time_s = _epoch_seconds(chains["harvest_time"])
    times, row_time = np.unique(time_s, return_inverse=True)
    names, row_instrument = np.unique(
        chains["instrument_name"].to_numpy(dtype=str), return_inverse=True
    )
    first = np.unique(row_instrument, return_index=True)[1]
    expiry_rows = chains["expiry_timestamp"].to_numpy(dtype=np.float64)
    is_call_rows = (chains["option_type"] == "C").to_numpy(dtype=bool)
    forwards = chains["underlying_price"].to_numpy(dtype=np.float64)
    index_usd = (
        chains["index_price"].to_numpy(dtype=np.float64) if "index_price" in chains else None
    )
    t_years = np.maximum(expiry_rows - time_s, 0.0) / SECONDS_PER_YEAR
    return build_panel(
        underlying=underlying,
        times=times,
        spot_usd=_spot_per_time(index_usd, forwards, expiry_rows, row_time, len(times)),
        rv=_rv_asof(times, rv_by_time),
        instrument_name=names.astype(object),
        strike=chains["strike"].to_numpy(dtype=np.float64)[first],
        expiry_ts=expiry_rows[first],
        is_call=is_call_rows[first],
        row_time=row_time.astype(np.int64),
        row_instrument=row_instrument.astype(np.int64),
        forward_usd=forwards,
        mark_coin=chains["mark_price"].to_numpy(dtype=np.float64),
        bid_coin=chains["best_bid_price"].to_numpy(dtype=np.float64),
        ask_coin=chains["best_ask_price"].to_numpy(dtype=np.float64),
        iv=_chain_iv(chains, t_years, is_call_rows),
        open_interest=chains["open_interest"].to_numpy(dtype=np.float64),
        provenance=provenance,
    )


def _rv_asof(times: FloatArray, rv_by_time: pd.Series | None) -> FloatArray:
    if rv_by_time is None or rv_by_time.empty:
        return np.full(len(times), np.nan)
    series = rv_by_time.sort_index()
    rv_times = _epoch_seconds(pd.Series(series.index))
    position = np.searchsorted(rv_times, times, side="right") - 1
    values = series.to_numpy(dtype=np.float64)
    result: FloatArray = np.where(position >= 0, values[np.maximum(position, 0)], np.nan)
    return result


def snapshot_frame(panel: ChainPanel, time_index: int) -> pd.DataFrame:
    """One panel time as a chain in the `CHAIN_COLUMNS` shape, plus `index_price`,
    `dte_days`, `iv` (decimal) and `delta` (Black-76 forward delta)."""
    rows = panel.rows_at(time_index)
    j = panel.row_instrument[rows]
    n = len(j)
    expiry = pd.to_datetime(panel.expiry_ts[j], unit="s", utc=True)
    frame = pd.DataFrame(
        {
            "harvest_time": pd.to_datetime(np.full(n, panel.times[time_index]), unit="s", utc=True),
            "instrument_name": panel.instrument_name[j].astype(str),
            "underlying": panel.underlying,
            "expiry": expiry.strftime("%Y-%m-%d"),
            "expiry_timestamp": panel.expiry_ts[j],
            "option_type": np.where(panel.is_call[j], "C", "P"),
            "strike": panel.strike[j],
            "underlying_price": panel.forward_usd[rows],
            "mark_price": panel.mark_coin[rows],
            "best_bid_price": panel.bid_coin[rows],
            "best_ask_price": panel.ask_coin[rows],
            "mark_iv": panel.iv[rows] * 100.0,
            "open_interest": panel.open_interest[rows],
            "volume": np.full(n, np.nan),
        },
        columns=list(CHAIN_COLUMNS),
    )
    frame["index_price"] = panel.spot_usd[time_index]
    frame["dte_days"] = panel.dte_days[rows]
    frame["iv"] = panel.iv[rows]
    frame["delta"] = panel.delta[rows]
    return frame


def panel_window(panel: ChainPanel, start_index: int, stop_index: int) -> ChainPanel:
    """The panel's times `start_index` to `stop_index` (exclusive) as a panel of their own.

    As if the data began and ended there: expiries outside the window have no settlement, so a
    call still open at the window's end closes there (END_OF_DATA at its buy-back price) and
    nothing after the window leaks into it.
    """
    n_times = len(panel.times)
    start_index, stop_index = max(start_index, 0), min(stop_index, n_times)
    if stop_index - start_index < 2:
        raise ValueError("a panel window needs at least two times")
    rows = slice(int(panel.time_start[start_index]), int(panel.time_start[stop_index]))
    times = panel.times[start_index:stop_index]
    return build_panel(
        underlying=panel.underlying,
        times=times,
        spot_usd=panel.spot_usd[start_index:stop_index],
        rv=panel.rv[start_index:stop_index],
        instrument_name=panel.instrument_name,
        strike=panel.strike,
        expiry_ts=panel.expiry_ts,
        is_call=panel.is_call,
        row_time=panel.row_time[rows] - start_index,
        row_instrument=panel.row_instrument[rows],
        forward_usd=panel.forward_usd[rows],
        mark_coin=panel.mark_coin[rows],
        bid_coin=panel.bid_coin[rows],
        ask_coin=panel.ask_coin[rows],
        iv=panel.iv[rows],
        open_interest=panel.open_interest[rows],
        provenance=panel.provenance.model_copy(
            update={
                "start": datetime.fromtimestamp(float(times[0]), tz=UTC),
                "end": datetime.fromtimestamp(float(times[-1]), tz=UTC),
                "snapshots": len(times),
                "rows": rows.stop - rows.start,
            }
        ),
        delta=panel.delta[rows],
    )


def holdout_split(panel: ChainPanel, holdout_frac: float) -> tuple[ChainPanel, ChainPanel]:
    """(in-sample, out-of-sample): the first 1 - `holdout_frac` of the times, then the rest."""
    if not 0.0 < holdout_frac < 1.0:
        raise ValueError("holdout_frac must be between 0 and 1")
    n_times = len(panel.times)
    split = round(n_times * (1.0 - holdout_frac))
    return panel_window(panel, 0, split), panel_window(panel, split, n_times)
