"""The one option-chain snapshot shape every source yields, and its Black-76 enrichment.

A chain is a DataFrame with exactly ``CHAIN_COLUMNS`` (the newer harvest schema): one row per
option, prices of inverse options in coin, strikes and ``underlying_price`` (the forward) in USD,
``mark_iv`` in percent as Deribit publishes it. ``normalize_chain`` accepts both harvest schema
versions (the older one lacks strike, expiry and type, which are parsed from the name).
``enrich_chain`` adds ``t_years``, ``iv`` (decimal), ``iv_reason`` and Black-76 greeks.
"""

from __future__ import annotations

import functools
import os
import re
import tempfile
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from os import PathLike
from pathlib import Path
from typing import Any, Final

import numpy as np
import numpy.typing as npt
import pandas as pd

from trading.domain import black76
from trading.domain.instruments import MONTH_CODES, SECONDS_PER_YEAR

CHAIN_COLUMNS: Final[tuple[str, ...]] = (
    "harvest_time",
    "instrument_name",
    "underlying",
    "expiry",
    "expiry_timestamp",
    "option_type",
    "strike",
    "underlying_price",
    "mark_price",
    "best_bid_price",
    "best_ask_price",
    "mark_iv",
    "open_interest",
    "volume",
)
REQUIRED_COLUMNS: Final[tuple[str, ...]] = (
    "harvest_time",
    "instrument_name",
    "underlying_price",
    "mark_price",
)
PARSED_COLUMNS: Final[tuple[str, ...]] = (
    "underlying",
    "expiry",
    "expiry_timestamp",
    "option_type",
    "strike",
)
OPTIONAL_NUMERIC_COLUMNS: Final[tuple[str, ...]] = (
    "best_bid_price",
    "best_ask_price",
    "mark_iv",
    "open_interest",
    "volume",
)
ENRICHED_COLUMNS: Final[tuple[str, ...]] = (
    "t_years",
    "iv",
    "iv_reason",
    "delta",
    "gamma",
    "vega",
    "theta",
)
MIN_MARK_PRICE_COIN: Final[float] = 0.001

_OPTION_NAME_PATTERN = (
    r"^(?P<underlying>[A-Z][A-Z0-9]*)(?P<linear>_[A-Z][A-Z0-9]*)?-"
    r"(?P<code>(?P<day>\d{1,2})(?P<mon>[A-Z]{3})(?P<yy>\d{2}))-(?P<strike>\d+(?:d\d+)?)-(?P<cp>[CP])$"
)
_OPTION_NAME_RE = re.compile(_OPTION_NAME_PATTERN)
_MONTH_INDEX = {code: index + 1 for index, code in enumerate(MONTH_CODES)}
_NUMERIC = ("expiry_timestamp", "strike", "underlying_price", "mark_price")


class ChainSchemaError(ValueError):
    """A chain snapshot lacks required columns or has rows that are not option quotes."""

    def __init__(self, missing: Sequence[str], detail: str = "") -> None:
        """Record the missing column names (and an optional detail) in a readable message."""
        self.missing = list(missing)
        self.detail = detail
        parts = []
        if self.missing:
            parts.append("missing columns: " + ", ".join(self.missing))
        if detail:
            parts.append(detail)
        super().__init__("chain snapshot schema error: " + "; ".join(parts or ["invalid"]))


class SnapshotReadError(ValueError):
    """A snapshot file cannot be read as Parquet."""


# ---------------------------------------------------------------------------------------------
# Normalisation
# ---------------------------------------------------------------------------------------------
def normalize_chain(df: pd.DataFrame, *, keep_extra: bool = False) -> pd.DataFrame:
    """Return the chain in the canonical shape: ``CHAIN_COLUMNS`` in order, fixed dtypes.

    Strike, expiry, expiry timestamp, type and underlying are parsed from ``instrument_name``
    when absent; optional quote columns missing from old files become NaN. ``keep_extra`` keeps
    other columns (e.g. ``greek_delta``) after the canonical ones.
    Raises ``ChainSchemaError`` naming missing columns or unparseable instrument names.
    """
    if not isinstance(df, pd.DataFrame):
        raise TypeError(f"expected a pandas DataFrame, got {type(df).__name__}")
    missing = [column for column in REQUIRED_COLUMNS if column not in df.columns]
    if missing:
        raise ChainSchemaError(missing)
    names = df["instrument_name"].astype("str")
    out: dict[str, pd.Series] = {
        "harvest_time": _utc_timestamps(df["harvest_time"]),
        "instrument_name": names,
    }
    if any(column not in df.columns for column in PARSED_COLUMNS):
        out.update(_parse_option_names(names))
    else:
        for column in PARSED_COLUMNS:
            out[column] = df[column]
    for column in ("underlying_price", "mark_price"):
        out[column] = df[column]
    for column in OPTIONAL_NUMERIC_COLUMNS:
        out[column] = df[column] if column in df.columns else _nan_column(len(df), df.index)
    chain = pd.DataFrame(out, index=df.index)[list(CHAIN_COLUMNS)]
    chain = _coerce_dtypes(chain)
    if keep_extra:
        extra = [column for column in df.columns if column not in CHAIN_COLUMNS]
        chain = pd.concat([chain, df[extra]], axis=1)
    return chain.reset_index(drop=True)


def _nan_column(length: int, index: pd.Index) -> pd.Series:
    return pd.Series(np.full(length, np.nan), index=index, dtype="float64")


def _utc_timestamps(values: pd.Series) -> pd.Series:
    textual = values.dtype == object or pd.api.types.is_string_dtype(values.dtype)
    try:
        stamps = pd.to_datetime(values, utc=True, format="ISO8601" if textual else None)
    except (ValueError, TypeError) as exc:
        raise ChainSchemaError([], f"harvest_time is not a timestamp: {exc}") from None
    return stamps.dt.as_unit("us")


def _parse_option_names(names: pd.Series) -> dict[str, pd.Series]:
    """Underlying, expiry, expiry timestamp, type and strike from option names.

    One cached regex match per distinct name (`_name_fields`; pandas' `str.extract` was ~5x
    slower): this runs on every agent tick, on both full chains, whose names rarely change.
    """
    underlying, expiry, stamp, option_type, strike = _name_columns(names.tolist())
    index = names.index
    return {
        "underlying": pd.Series(underlying, index=index, dtype=object),
        "expiry": pd.Series(expiry, index=index, dtype=object),
        "expiry_timestamp": pd.Series(stamp, index=index, dtype="float64"),
        "option_type": pd.Series(option_type, index=index, dtype=object),
        "strike": pd.Series(strike, index=index, dtype="float64"),
    }


def _name_columns(names: Sequence[str]) -> list[tuple[Any, ...]]:
    """The five parsed fields of every name as five columns; ChainSchemaError naming a few
    of the names that are not options."""
    fields = [_name_fields(name) for name in names]
    bad = [name for name, parsed in zip(names, fields, strict=True) if parsed is None]
    if bad:
        examples = ", ".join(map(repr, list(dict.fromkeys(bad))[:5]))
        raise ChainSchemaError([], f"{len(bad)} rows are not option names, e.g. {examples}")
    return list(zip(*fields, strict=True)) if fields else [()] * 5


@functools.lru_cache(maxsize=65_536)
def _name_fields(name: str) -> tuple[str, str, float, str, float] | None:
    """(underlying, expiry "YYYY-MM-DD", expiry timestamp s, "C"/"P", strike) of an option
    name, None when it is not one; raises ChainSchemaError for an impossible date."""
    match = _OPTION_NAME_RE.match(name)
    if match is None:
        return None
    moment = _expiry_of_code(match["day"], match["mon"], match["yy"])
    strike = float(match["strike"].replace("d", "."))
    return match["underlying"], f"{moment:%Y-%m-%d}", moment.timestamp(), match["cp"], strike


def chain_from_quotes(
    harvest_time: datetime, names: Sequence[str], quotes: Mapping[str, Sequence[float | None]]
) -> pd.DataFrame:
    """`normalize_chain` of quotes already split into columns, built in one step.

    `quotes` holds the numeric columns (`underlying_price`, `mark_price` and any of
    `OPTIONAL_NUMERIC_COLUMNS`; None is NaN, a missing optional column all NaN). The result
    equals `normalize_chain` of the same rows (a test compares them) without its per-column
    coercions: the agent builds both chains this way on every tick.
    """
    size = len(names)
    columns = _name_columns(names)
    stamp = pd.Timestamp(harvest_time)
    stamp = stamp.tz_localize(UTC) if stamp.tzinfo is None else stamp.tz_convert(UTC)
    out: dict[str, Any] = {
        "harvest_time": pd.DatetimeIndex(
            np.full(size, stamp.tz_localize(None).as_unit("us").asm8), tz=UTC
        ),
        "instrument_name": pd.array(list(names), dtype="str"),
        "underlying": pd.array(list(columns[0]), dtype="str"),
        "expiry": pd.array(list(columns[1]), dtype="str"),
        "expiry_timestamp": np.asarray(columns[2], dtype=np.float64),
        "option_type": pd.array(list(columns[3]), dtype="str"),
        "strike": np.asarray(columns[4], dtype=np.float64),
    }
    for column in ("underlying_price", "mark_price", *OPTIONAL_NUMERIC_COLUMNS):
        values = quotes.get(column)
        out[column] = (
            np.full(size, np.nan) if values is None else np.asarray(values, dtype=np.float64)
        )
    return pd.DataFrame({column: out[column] for column in CHAIN_COLUMNS})


def _expiry_of_code(day: str, month_code: str, yy: str) -> datetime:
    """08:00 UTC of the expiry written as day, month code and two-digit year ("5", "DEC", "25")."""
    month = _MONTH_INDEX.get(month_code)
    if month is None:
        raise ChainSchemaError([], "unknown month code in instrument_name")
    try:
        return datetime(2000 + int(yy), month, int(day), 8, tzinfo=UTC)
    except ValueError as exc:
        raise ChainSchemaError([], f"invalid expiry date in instrument_name: {exc}") from None


def _coerce_dtypes(chain: pd.DataFrame) -> pd.DataFrame:
    for column in (*_NUMERIC, *OPTIONAL_NUMERIC_COLUMNS):
        chain[column] = pd.to_numeric(chain[column], errors="coerce").astype("float64")
    for column in ("underlying", "expiry", "option_type"):
        chain[column] = chain[column].astype("str")
    chain["option_type"] = chain["option_type"].str.upper().str[:1]
    bad_type = ~chain["option_type"].isin(("C", "P"))
    if bool(bad_type.any()):
        raise ChainSchemaError([], "option_type must be C or P")
    return chain


def read_snapshot(path: str | PathLike[str]) -> pd.DataFrame:
    """Read a harvested Parquet snapshot and normalise it (``SnapshotReadError`` if unreadable)."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    try:
        table = pq.read_table(path)
    except (OSError, pa.ArrowException) as exc:
        raise SnapshotReadError(f"cannot read {path} as a Parquet snapshot: {exc}") from None
    return normalize_chain(table.to_pandas())


# ---------------------------------------------------------------------------------------------
# Enrichment and agreement with the exchange
# ---------------------------------------------------------------------------------------------
def chain_t_years(chain: pd.DataFrame) -> npt.NDArray[np.float64]:
    """Years (of 365 days) from ``harvest_time`` to ``expiry_timestamp`` for each row."""
    harvest = np.asarray(chain["harvest_time"].to_numpy(dtype="datetime64[us]"))
    harvest_s = harvest.view(np.int64) / 1e6
    expiry_s = chain["expiry_timestamp"].to_numpy(dtype=np.float64)
    return np.asarray((expiry_s - harvest_s) / SECONDS_PER_YEAR, dtype=np.float64)


def chain_is_linear(chain: pd.DataFrame) -> npt.NDArray[np.bool_]:
    """True for USDC-settled (linear) options, whose names carry a ``_USDC`` suffix."""
    import pyarrow as pa
    import pyarrow.compute as pc

    names = pa.array(chain["instrument_name"], type=pa.string())
    linear = pc.fill_null(pc.match_substring(names, "_"), False)
    return np.asarray(linear.to_numpy(zero_copy_only=False), dtype=bool)


def chain_is_call(chain: pd.DataFrame) -> npt.NDArray[np.bool_]:
    """True for calls."""
    return np.asarray(chain["option_type"].to_numpy(dtype=object) == "C", dtype=bool)


def chain_price_usd(chain: pd.DataFrame) -> npt.NDArray[np.float64]:
    """Mark price in USD: coin marks of inverse options times the forward, USDC marks as is."""
    mark = chain["mark_price"].to_numpy(dtype=np.float64)
    forward = chain["underlying_price"].to_numpy(dtype=np.float64)
    return np.asarray(np.where(chain_is_linear(chain), mark, mark * forward), dtype=np.float64)


def enrich_chain(chain: pd.DataFrame, *, rate: float = 0.0) -> pd.DataFrame:
    """Add ``ENRICHED_COLUMNS``: IV from ``mark_price`` and Black-76 greeks at that IV.

    Units: ``t_years`` from ``harvest_time``; ``iv`` decimal (NaN with an ``IVReason`` code in
    ``iv_reason`` when not invertible); ``delta`` forward delta; ``gamma`` per USD; ``vega`` USD
    per vol point; ``theta`` USD per day. Accepts raw or normalised chains.
    """
    if any(column not in chain.columns for column in CHAIN_COLUMNS):
        chain = normalize_chain(chain)
    t_years = chain_t_years(chain)
    result, greeks = black76.implied_vol_and_greeks(
        chain_price_usd(chain),
        chain["underlying_price"].to_numpy(dtype=np.float64),
        chain["strike"].to_numpy(dtype=np.float64),
        t_years,
        chain_is_call(chain),
        rate,
    )
    added = pd.DataFrame(
        {
            "t_years": t_years,
            "iv": result.iv,
            "iv_reason": result.reason,
            "delta": greeks.delta,
            "gamma": greeks.gamma,
            "vega": greeks.vega,
            "theta": greeks.theta,
        },
        index=chain.index,
    )
    stale = [column for column in ENRICHED_COLUMNS if column in chain.columns]
    base = chain.drop(columns=stale) if stale else chain
    return pd.concat([base, added], axis=1)


def otm_mask(chain: pd.DataFrame) -> npt.NDArray[np.bool_]:
    """Out-of-the-money rows: calls struck above the forward, puts struck below it."""
    strike = chain["strike"].to_numpy(dtype=np.float64)
    forward = chain["underlying_price"].to_numpy(dtype=np.float64)
    return np.asarray(np.where(chain_is_call(chain), strike > forward, strike < forward), bool)


@dataclass(frozen=True, slots=True)
class MarkIVAgreement:
    """How closely our IVs reproduce Deribit's ``mark_iv`` (differences in vol points)."""

    compared: int
    iv_missing: int
    median_abs_diff_vol_pts: float
    p95_abs_diff_vol_pts: float
    max_abs_diff_vol_pts: float


def mark_iv_agreement(
    enriched: pd.DataFrame, *, min_mark_price_coin: float = MIN_MARK_PRICE_COIN
) -> MarkIVAgreement:
    """Compare ``iv`` with ``mark_iv`` over OTM options marked at or above a coin price.

    Why OTM and a price floor: ITM marks carry mostly intrinsic value and sub-0.001 marks are
    tick-dominated, so IV there is ill-conditioned and says nothing about the pricer.
    """
    selected = (
        otm_mask(enriched)
        & (enriched["mark_price"].to_numpy(dtype=np.float64) >= min_mark_price_coin)
        & np.isfinite(enriched["mark_iv"].to_numpy(dtype=np.float64))
    )
    iv_pct = 100.0 * enriched["iv"].to_numpy(dtype=np.float64)[selected]
    all_diff = np.abs(iv_pct - enriched["mark_iv"].to_numpy(dtype=np.float64)[selected])
    diff = all_diff[np.isfinite(all_diff)]
    missing = int(all_diff.size - diff.size)
    if diff.size == 0:
        return MarkIVAgreement(0, missing, float("nan"), float("nan"), float("nan"))
    return MarkIVAgreement(
        compared=int(diff.size),
        iv_missing=missing,
        median_abs_diff_vol_pts=float(np.median(diff)),
        p95_abs_diff_vol_pts=float(np.percentile(diff, 95)),
        max_abs_diff_vol_pts=float(np.max(diff)),
    )


# ---------------------------------------------------------------------------------------------
# Files: enrich a snapshot on disk
# ---------------------------------------------------------------------------------------------
def write_snapshot(chain: pd.DataFrame, path: str | PathLike[str]) -> None:
    """Write a chain to Parquet atomically: a temp file in the same folder, then a rename.

    Why: a failed or interrupted run must never leave a truncated output behind.
    """
    target = Path(path)
    if not target.parent.is_dir():
        raise SnapshotReadError(f"output folder does not exist: {target.parent}")
    handle, temp_name = tempfile.mkstemp(prefix=f".{target.name}.", dir=target.parent)
    os.close(handle)
    try:
        chain.to_parquet(temp_name, index=False)
        os.replace(temp_name, target)
    except BaseException:
        Path(temp_name).unlink(missing_ok=True)
        raise


def enrich_snapshot_file(
    source: str | PathLike[str],
    target: str | PathLike[str],
    *,
    rate: float = 0.0,
    min_mark_price_coin: float = MIN_MARK_PRICE_COIN,
) -> dict[str, Any]:
    """Read a snapshot, add IV and greeks, write it, and return a JSON-ready summary.

    The summary compares ``iv`` with Deribit's ``mark_iv`` (vol points) over OTM options marked
    at or above ``min_mark_price_coin``. Raises ``SnapshotReadError``/``ChainSchemaError`` on bad
    input before anything is written.
    """
    started = time.perf_counter()
    enriched = enrich_chain(read_snapshot(source), rate=rate)
    write_snapshot(enriched, target)
    agreement = mark_iv_agreement(enriched, min_mark_price_coin=min_mark_price_coin)
    reasons = enriched["iv_reason"].to_numpy()
    missing = {
        black76.IVReason(code).name: int(np.sum(reasons == code))
        for code in np.unique(reasons)
        if code != black76.IVReason.OK
    }
    return {
        "input": str(source),
        "output": str(target),
        "rows": len(enriched),
        "iv_found": int(np.sum(reasons == black76.IVReason.OK)),
        "iv_missing_by_reason": missing,
        "compared_otm": agreement.compared,
        "compared_iv_missing": agreement.iv_missing,
        "min_mark_price_coin": min_mark_price_coin,
        "median_abs_diff_vol_pts": _json_float(agreement.median_abs_diff_vol_pts),
        "p95_abs_diff_vol_pts": _json_float(agreement.p95_abs_diff_vol_pts),
        "max_abs_diff_vol_pts": _json_float(agreement.max_abs_diff_vol_pts),
        "elapsed_ms": round(1000.0 * (time.perf_counter() - started), 3),
    }


def _json_float(value: float) -> float | None:
    return None if not np.isfinite(value) else round(float(value), 6)
