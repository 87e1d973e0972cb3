"""Training data from backtests: (state, action, reward) tuples per decision and per candidate.

Per decision: every decision time at which the book was flat, with the market state, what the
policy did (OPEN a call, WAIT for the cycle, or DO_NOTHING when no call qualified) and the
reward of that action (the trade's P&L after fees; 0 otherwise).
Per candidate: at every sale, each eligible call with its features, score, rank, whether it was
chosen, and the reward it would have earned under the same exit policy: the ranking files an
ML model or an LLM learns to reorder.
Exports: CSV, JSONL, Parquet, and a chat-style JSONL corpus for LLM fine-tuning.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any, Literal

import numpy as np
import pandas as pd

from backtests.domain.panel import ChainPanel
from backtests.domain.simulator import CoveredCallSimulator, SimulationResult
from backtests.domain.types import FloatArray, epoch_to_datetime

ExportFormat = Literal["csv", "jsonl", "parquet"]
SECONDS_PER_HOUR = 3600.0


def _lagged_return(panel: ChainPanel, hours: float) -> FloatArray:
    """Spot return over the trailing `hours` at every panel time (NaN before enough data)."""
    back = np.searchsorted(panel.times, panel.times - hours * SECONDS_PER_HOUR, side="left")
    enough = panel.times - panel.times[back] >= hours * SECONDS_PER_HOUR * 0.999
    result: FloatArray = np.where(enough, panel.spot_usd / panel.spot_usd[back] - 1.0, np.nan)
    return result


def atm_iv_by_time(panel: ChainPanel, *, min_dte_days: float = 1.0) -> FloatArray:
    """IV of the call nearest the money in the nearest expiry with at least `min_dte_days`."""
    usable = panel.is_call[panel.row_instrument] & (panel.dte_days >= min_dte_days)
    rows = np.flatnonzero(usable)
    frame = pd.DataFrame(
        {
            "t": panel.row_time[rows],
            "dte": panel.dte_days[rows],
            "gap": np.abs(
                np.log(panel.strike[panel.row_instrument[rows]] / panel.forward_usd[rows])
            ),
            "iv": panel.iv[rows],
        }
    ).sort_values(["t", "dte", "gap"], kind="stable")
    first = frame.drop_duplicates("t")
    result = np.full(len(panel.times), np.nan)
    result[first["t"].to_numpy()] = first["iv"].to_numpy()
    return result


def state_features(panel: ChainPanel) -> pd.DataFrame:
    """Market state at every panel time: spot, RV, ATM IV, IV/RV, trailing returns."""
    atm_iv = atm_iv_by_time(panel)
    return pd.DataFrame(
        {
            "time": pd.to_datetime(panel.times, unit="s", utc=True),
            "spot_usd": panel.spot_usd,
            "rv": panel.rv,
            "atm_iv": atm_iv,
            "ivrv_atm": atm_iv / np.where(panel.rv > 0, panel.rv, np.nan),
            "return_24h": _lagged_return(panel, 24),
            "return_7d": _lagged_return(panel, 24 * 7),
        }
    )


def decision_examples(sim: CoveredCallSimulator, result: SimulationResult) -> pd.DataFrame:
    """One row per flat decision time: state, action, reward (needs `record_decisions=True`)."""
    panel, config = sim.panel, result.config
    table = sim.policy_selection(config)
    flat = ~result.curve.in_position & sim.decision_mask(config.decision_interval_hours)
    sale_times = {record.time_index: record for record in result.decisions}
    times = np.union1d(np.flatnonzero(flat), np.array(list(sale_times), dtype=np.int64))
    state = state_features(panel).iloc[times].reset_index(drop=True)
    eligible_per_time = np.bincount(
        panel.row_time[table.eligible], minlength=len(panel.times)
    ).astype(np.int64)
    actions: list[dict[str, Any]] = []
    for t in times.tolist():
        record = sale_times.get(t)
        if record is None:
            action = "WAIT" if table.eligible_at_time[t] else "DO_NOTHING"
            actions.append({"action": action, "reward_coin": 0.0, "reward_usd": 0.0})
            continue
        trade = result.trades[record.trade_index]
        actions.append(
            {
                "action": "OPEN",
                "instrument_name": trade.instrument_name,
                "strike": trade.strike,
                "dte_days": trade.dte_entry_days,
                "delta": trade.delta_entry,
                "premium_usd": trade.premium_usd,
                "rank": record.chosen_rank,
                "explored": trade.explored,
                "exit_reason": trade.exit_reason.value,
                "reward_coin": trade.pnl_coin,
                "reward_usd": trade.pnl_usd,
            }
        )
    frame = pd.concat([state, pd.DataFrame(actions)], axis=1)
    frame.insert(1, "n_candidates", eligible_per_time[times])
    frame.insert(0, "policy_version", config.strategy.policy_version)
    return frame


def _candidate_rows(
    sim: CoveredCallSimulator, result: SimulationResult, max_per_decision: int
) -> Iterator[dict[str, Any]]:
    panel, config = sim.panel, result.config
    table = sim.policy_selection(config)
    for decision_id, record in enumerate(result.decisions):
        for rank, row in enumerate(record.ranked_rows[:max_per_decision].tolist()):
            outcome = sim.trade_at_row(row, config)
            instrument = int(panel.row_instrument[row])
            yield {
                "decision_id": decision_id,
                "time": epoch_to_datetime(float(panel.times[record.time_index])),
                "instrument_name": str(panel.instrument_name[instrument]),
                "strike": float(panel.strike[instrument]),
                "dte_days": float(panel.dte_days[row]),
                "delta": float(panel.delta[row]),
                "iv": float(panel.iv[row]),
                "rv": float(panel.rv[record.time_index]),
                "spot_usd": float(panel.spot_usd[record.time_index]),
                "premium_usd": outcome.premium_usd,
                "score": float(table.scores[row]),
                "rank": rank,
                "chosen": rank == record.chosen_rank,
                "exit_reason": outcome.exit_reason.value,
                "reward_coin": outcome.pnl_coin,
                "reward_usd": outcome.pnl_usd,
            }


def candidate_examples(
    sim: CoveredCallSimulator, result: SimulationResult, *, max_per_decision: int = 20
) -> pd.DataFrame:
    """One row per (sale decision, eligible candidate) with the candidate's own reward."""
    rows = list(_candidate_rows(sim, result, max_per_decision))
    frame = pd.DataFrame(rows)
    if not frame.empty:
        frame["reward_rank"] = (
            frame.groupby("decision_id")["reward_usd"].rank(ascending=False, method="first") - 1
        ).astype(int)
    return frame


def chat_examples(candidates: pd.DataFrame, *, top_n: int = 5) -> list[dict[str, Any]]:
    """Chat-style fine-tuning records: the candidates of a decision in, the best one out.

    The assistant's answer is the candidate with the highest realised reward, so the corpus
    teaches hindsight-best selection among the filter's own top candidates.
    """
    records: list[dict[str, Any]] = []
    system = (
        "You select one covered call to sell on Deribit from the candidates given. "
        'Answer with JSON {"action": "OPEN", "instrument_name": ...} or {"action": "DO_NOTHING"}.'
    )
    for _, group in candidates.groupby("decision_id", sort=True):
        top = group.nsmallest(top_n, "rank")
        lines = [
            f"{r.instrument_name}: delta {r.delta:.2f}, {r.dte_days:.1f} DTE, IV {r.iv:.0%}, "
            f"premium ${r.premium_usd:,.0f}, score {r.score:.3f}"
            for r in top.itertuples()
        ]
        first = top.iloc[0]
        user = (
            f"{first['time']:%Y-%m-%d %H:%M} UTC, spot ${first['spot_usd']:,.0f}, "
            f"RV {first['rv']:.0%}. Candidates:\n" + "\n".join(lines)
        )
        best = top.loc[top["reward_usd"].idxmax()]
        answer = (
            {"action": "OPEN", "instrument_name": best["instrument_name"]}
            if best["reward_usd"] > 0
            else {"action": "DO_NOTHING"}
        )
        records.append(
            {
                "messages": [
                    {"role": "system", "content": system},
                    {"role": "user", "content": user},
                    {"role": "assistant", "content": json.dumps(answer)},
                ]
            }
        )
    return records


def _jsonable(value: Any) -> Any:
    if isinstance(value, pd.Timestamp):
        return value.isoformat()
    if isinstance(value, float) and not np.isfinite(value):
        return None
    if isinstance(value, np.generic):
        return _jsonable(value.item())
    return value


def export_frame(frame: pd.DataFrame, path: Path, fmt: ExportFormat) -> Path:
    """Write a training frame as CSV, JSONL (one object per line) or Parquet."""
    path.parent.mkdir(parents=True, exist_ok=True)
    if fmt == "csv":
        frame.to_csv(path, index=False)
    elif fmt == "parquet":
        frame.to_parquet(path, index=False)
    elif fmt == "jsonl":
        with path.open("w", encoding="utf-8") as handle:
            for record in frame.to_dict(orient="records"):
                clean = {str(k): _jsonable(v) for k, v in record.items()}
                handle.write(json.dumps(clean, default=str) + "\n")
    else:
        raise ValueError(f"unknown export format {fmt!r}")
    path.chmod(0o600)  # exports are the owner's only (issue #11)
    return path


def export_chat_jsonl(records: list[dict[str, Any]], path: Path) -> Path:
    """Write chat fine-tuning records, one JSON object per line."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", encoding="utf-8") as handle:
        for record in records:
            handle.write(json.dumps(record) + "\n")
    path.chmod(0o600)
    return path
