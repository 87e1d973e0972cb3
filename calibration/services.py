"""Writes and orchestration of the calibration app (<entity>_<verb>, keyword-only).

- `harvest_run`: full chains from the market-data venue -> partitioned Parquet + `HarvestRun`.
- `quality_report_build`: a day's files -> `DataQualityReport`.
- `calibration_run_harvested` / `calibration_run_live` / `auto_calibrate`: history rows only.
- `policy_apply` / `policy_hold` / `multipliers_override`: the only writers of
  `AppliedMultipliers`, each leaving a `PolicyDecision`.
"""

from __future__ import annotations

import hashlib
import logging
import statistics
import time
from collections.abc import Sequence
from datetime import date
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from django.conf import settings
from django.db import transaction
from django.utils import timezone

from calibration.domain.calibrate import (
    ChainCalibration,
    chain_calibrate,
    finite_or_none,
    fit_json,
    snapshot_summary,
)
from calibration.domain.policy import GuardrailVerdict, PolicyConfig, policy_decide
from calibration.domain.quality import quality_report
from calibration.domain.snapshots import (
    HARVEST_SCHEMA_VERSION,
    LoadedSnapshot,
    SnapshotError,
    SnapshotRef,
    snapshot_load,
    snapshot_path,
    snapshot_write_atomic,
    snapshots_list,
)
from calibration.domain.surface import surface_warm_up
from calibration.models import (
    AppliedMultipliers,
    CalibrationRun,
    DataQualityReport,
    HarvestRun,
    PolicyDecision,
    RegimeFit,
)
from trading.domain.market_model import CurrencyModelParams, MarketModelParams
from trading.services.chain_fetch import book_market_time, option_chain

logger = logging.getLogger(__name__)

#: Snapshots calibrated per day (evenly spaced over the day's full snapshots).
SNAPSHOTS_PER_CALIBRATION = 6
#: A snapshot with fewer rows is a partial harvest and is not calibrated.
MIN_SNAPSHOT_ROWS = 100
POLICY = PolicyConfig()


def data_dir() -> Path:
    """Where the harvester writes (setting CALIBRATION_DATA_DIR, default var/harvest)."""
    return Path(settings.CALIBRATION_DATA_DIR)


def _model_params(underlying: str) -> CurrencyModelParams:
    params = MarketModelParams().currencies.get(underlying)
    if params is None:
        raise SnapshotError(f"the market model has no parameters for {underlying}")
    return params


# ------------------------------------------------------------------ one-off files


def snapshot_file_calibrate(*, path: Path) -> dict[str, Any]:
    """Calibrate one snapshot file against the default market model (no database writes)."""
    loaded = snapshot_load(path)
    surface_warm_up()
    underlying = str(loaded.chain["underlying"].iloc[0])
    try:
        params = _model_params(underlying)
    except SnapshotError as exc:
        raise SnapshotError(f"{path}: {exc}") from None
    return snapshot_summary(str(path), chain_calibrate(loaded.chain, params))


# ------------------------------------------------------------------ harvester


def chain_fetch(client: Any, underlying: str) -> pd.DataFrame:
    """The whole option chain of `underlying` as a normalised chain with a schema version."""
    rows = client.get_book_summary_by_currency(underlying, "option")
    chain = option_chain(rows, book_market_time(rows))
    if chain.empty:
        raise SnapshotError(f"the exchange returned no {underlying} options")
    chain["schema_version"] = HARVEST_SCHEMA_VERSION
    return chain


def harvest_run(
    *,
    underlyings: Sequence[str] | None = None,
    trigger: str = "beat",
    client: Any = None,
    root: Path | None = None,
) -> HarvestRun:
    """Fetch each underlying's chain and write it atomically under `root`; record the pass."""
    from trading.exchange import market_data_client, market_data_venue

    names = list(underlyings or settings.CALIBRATION_UNDERLYINGS)
    target = root or data_dir()
    run = HarvestRun.objects.create(venue=market_data_venue(), underlyings=names, trigger=trigger)
    started = time.perf_counter()
    own_client = client is None
    client = client or market_data_client()
    files: list[str] = []
    errors: list[str] = []
    rows = 0
    try:
        for underlying in names:
            try:
                chain = chain_fetch(client, underlying)
                moment = pd.Timestamp(chain["harvest_time"].iloc[0]).to_pydatetime()
                path = snapshot_path(target, underlying, moment)
                snapshot_write_atomic(chain, path)
            except Exception as exc:  # one underlying's failure must not stop the others
                logger.warning("harvest of %s failed: %s", underlying, exc)
                errors.append(f"{underlying}: {type(exc).__name__}: {exc}")
                continue
            files.append(str(path))
            rows += len(chain)
    finally:
        if own_client and hasattr(client, "close"):
            client.close()
    run.files = files
    run.rows = rows
    run.errors = errors
    run.duration_s = round(time.perf_counter() - started, 3)
    run.finished_at = timezone.now()
    run.status = (
        HarvestRun.Status.OK
        if not errors
        else (HarvestRun.Status.PARTIAL if files else HarvestRun.Status.FAILED)
    )
    run.save()
    return run


# ------------------------------------------------------------------ data quality


def _read_many(refs: Sequence[SnapshotRef]) -> tuple[list[LoadedSnapshot], list[str]]:
    loaded: list[LoadedSnapshot] = []
    problems: list[str] = []
    for ref in refs:
        try:
            loaded.append(snapshot_load(ref.path))
        except SnapshotError as exc:
            problems.append(str(exc))
    return loaded, problems


def quality_report_build(
    *, underlying: str, day: str, root: Path, loaded: Sequence[LoadedSnapshot] | None = None
) -> DataQualityReport:
    """Assess one day's snapshots of an underlying and store (replace) its report."""
    problems: list[str] = []
    if loaded is None:
        refs = [r for r in snapshots_list(root, underlying) if r.day == day]
        loaded, problems = _read_many(refs)
    chains = [item.chain for item in loaded]
    stacked = pd.concat(chains, ignore_index=True) if chains else pd.DataFrame()
    if stacked.empty:
        report_fields: dict[str, Any] = {"verdict": "bad", "problems": ["no readable snapshot"]}
    else:
        report = quality_report(stacked, underlying=underlying, day=day)
        report_fields = report.as_dict()
        report_fields.pop("underlying")
        report_fields.pop("day")
    if problems:
        report_fields["problems"] = [*report_fields.get("problems", []), *problems]
        report_fields["verdict"] = "bad"
    obj, _ = DataQualityReport.objects.update_or_create(
        underlying=underlying,
        day=date.fromisoformat(day),
        source_dir=str(root),
        defaults=report_fields,
    )
    return obj


# ------------------------------------------------------------------ calibration history


def _content_hash(hashes: Sequence[str]) -> str:
    return hashlib.sha256("\n".join(sorted(hashes)).encode()).hexdigest()


def _combine(results: Sequence[ChainCalibration]) -> dict[str, Any]:
    """Metrics averaged and multipliers taken as the median per band over a day's snapshots."""
    bands: dict[str, list[float]] = {}
    for result in results:
        for band, value in result.synthetic.multipliers_by_band.items():
            if np.isfinite(value):
                bands.setdefault(band, []).append(value)

    def mean(values: list[float]) -> float | None:
        finite = [v for v in values if np.isfinite(v)]
        return finite_or_none(float(np.mean(finite))) if finite else None

    return {
        "multipliers": {b: round(statistics.median(v), 5) for b, v in sorted(bands.items())},
        "surface_vw_mae_volpts": mean([r.fit.surface.vw_mae_volpts for r in results]),
        "surface_mae_volpts": mean([r.fit.surface.mae_volpts for r in results]),
        "synthetic_vw_mae_volpts": mean([r.synthetic.raw.vw_mae_volpts for r in results]),
        "synthetic_adjusted_vw_mae_volpts": mean(
            [r.synthetic.adjusted.vw_mae_volpts for r in results]
        ),
        "recommended_iv_multiplier": mean([r.synthetic.recommended_multiplier for r in results]),
        "fit_ms": float(np.mean([r.fit.fit_ms for r in results])),
    }


def _spread(items: Sequence[LoadedSnapshot], count: int) -> list[LoadedSnapshot]:
    if len(items) <= count:
        return list(items)
    picks = np.unique(np.linspace(0, len(items) - 1, count).round().astype(int))
    return [items[i] for i in picks]


def calibration_record(
    *,
    underlying: str,
    source: str,
    trigger: str,
    loaded: Sequence[LoadedSnapshot],
    quality: DataQualityReport | None,
) -> CalibrationRun:
    """Calibrate snapshots (up to `SNAPSHOTS_PER_CALIBRATION`), judge them and write history."""
    surface_warm_up()
    full = [item for item in loaded if len(item.chain) >= MIN_SNAPSHOT_ROWS]
    used = _spread(full, SNAPSHOTS_PER_CALIBRATION)
    params = _model_params(underlying)
    quality_ok = quality is None or quality.verdict != "bad"
    results = [chain_calibrate(item.chain, params, quality_ok=quality_ok) for item in used]
    reasons: list[str] = []
    for result in results:
        reasons += [r for r in result.verdict.reasons if r not in reasons]
    if not results:
        reasons.append(f"no snapshot with at least {MIN_SNAPSHOT_ROWS} rows")
    combined = _combine(results) if results else {"multipliers": {}}
    times = [pd.Timestamp(item.chain["harvest_time"].max()) for item in used]
    return CalibrationRun.objects.create(
        underlying=underlying,
        source=source,
        trigger=trigger,
        snapshot_time=max(times).to_pydatetime() if times else None,
        files=[str(item.path) for item in used],
        snapshot_times=[t.isoformat() for t in times],
        n_files=len(loaded),
        n_rows=sum(len(item.chain) for item in used),
        content_sha256=_content_hash([item.content_sha256 for item in used]),
        fit=fit_json(results[-1]) if results else {},
        guardrail_ok=bool(results) and not reasons,
        guardrail_reasons=reasons,
        quality_report=quality,
        **combined,
    )


def calibration_run_harvested(*, underlying: str, root: Path, trigger: str) -> CalibrationRun:
    """Calibrate the latest day of harvested snapshots of `underlying` under `root`."""
    refs = snapshots_list(root, underlying)
    if not refs:
        raise SnapshotError(f"no {underlying} snapshots under {root}")
    day = refs[-1].day
    loaded, problems = _read_many([r for r in refs if r.day == day])
    quality = quality_report_build(underlying=underlying, day=day, root=root, loaded=loaded)
    if problems:
        quality.problems = [*quality.problems, *problems]
        quality.verdict = "bad"
        quality.save(update_fields=["problems", "verdict"])
    return calibration_record(
        underlying=underlying, source="harvested", trigger=trigger, loaded=loaded, quality=quality
    )


def calibration_run_live(*, underlying: str, trigger: str, client: Any = None) -> CalibrationRun:
    """Calibrate the chain the market-data venue quotes now (nothing written to disk)."""
    from trading.exchange import market_data_client

    own = client is None
    client = client or market_data_client()
    try:
        chain = chain_fetch(client, underlying)
    finally:
        if own and hasattr(client, "close"):
            client.close()
    digest = hashlib.sha256(pd.util.hash_pandas_object(chain, index=False).values.tobytes())
    loaded = LoadedSnapshot(
        path=Path(f"live:{underlying}"),
        chain=chain,
        schema_version=HARVEST_SCHEMA_VERSION,
        content_sha256=digest.hexdigest(),
    )
    day = f"{pd.Timestamp(chain['harvest_time'].iloc[0]):%Y-%m-%d}"
    quality = quality_report_build(
        underlying=underlying, day=day, root=Path("live"), loaded=[loaded]
    )
    return calibration_record(
        underlying=underlying, source="live", trigger=trigger, loaded=[loaded], quality=quality
    )


def auto_calibrate(
    *,
    underlyings: Sequence[str] | None = None,
    source: str = "harvested",
    root: Path | None = None,
    trigger: str = "beat",
) -> list[CalibrationRun]:
    """Calibration history rows for each underlying; never changes the applied multipliers."""
    runs: list[CalibrationRun] = []
    for underlying in underlyings or settings.CALIBRATION_UNDERLYINGS:
        if source == "live":
            runs.append(calibration_run_live(underlying=underlying, trigger=trigger))
        else:
            runs.append(
                calibration_run_harvested(
                    underlying=underlying, root=root or data_dir(), trigger=trigger
                )
            )
    return runs


# ------------------------------------------------------------------ update policy


def _store(underlying: str) -> AppliedMultipliers:
    store, _ = AppliedMultipliers.objects.select_for_update().get_or_create(underlying=underlying)
    return store


def policy_apply(*, run: CalibrationRun, actor: Any = None) -> PolicyDecision:
    """Run the update policy on a calibration: applied, held or refused, recorded with reasons."""
    with transaction.atomic():
        store = _store(run.underlying)
        verdict = GuardrailVerdict(ok=run.guardrail_ok, reasons=tuple(run.guardrail_reasons))
        result = policy_decide(
            recommended=run.multipliers,
            smoothed=store.smoothed,
            applied=store.multipliers,
            verdict=verdict,
            config=POLICY,
        )
        decision = PolicyDecision.objects.create(
            underlying=run.underlying,
            calibration=run,
            outcome=result.outcome.value,
            recommended=run.multipliers,
            smoothed=result.smoothed,
            applied_before=store.multipliers,
            applied_after=result.applied,
            reasons=list(result.reasons),
            actor=actor if getattr(actor, "is_authenticated", False) else None,
        )
        store.smoothed = result.smoothed
        store.multipliers = result.applied
        store.decision = decision
        store.save()
    return decision


def policy_hold(*, run: CalibrationRun, actor: Any, note: str) -> PolicyDecision:
    """Record an operator's decision to hold (not apply) a calibration's recommendation."""
    with transaction.atomic():
        store = _store(run.underlying)
        return PolicyDecision.objects.create(
            underlying=run.underlying,
            calibration=run,
            outcome=PolicyDecision.Outcome.HELD,
            recommended=run.multipliers,
            smoothed=store.smoothed,
            applied_before=store.multipliers,
            applied_after=store.multipliers,
            reasons=["held by an operator"],
            actor=actor if getattr(actor, "is_authenticated", False) else None,
            note=note,
        )


def multipliers_override(
    *, underlying: str, multipliers: dict[str, float], actor: Any, note: str
) -> PolicyDecision:
    """Set the applied multipliers by hand (audited: a reason is required, a decision recorded)."""
    if not note.strip():
        raise ValueError("a manual override needs a reason")
    with transaction.atomic():
        store = _store(underlying)
        decision = PolicyDecision.objects.create(
            underlying=underlying,
            outcome=PolicyDecision.Outcome.OVERRIDE,
            recommended=multipliers,
            smoothed=store.smoothed,
            applied_before=store.multipliers,
            applied_after=multipliers,
            reasons=["manual override"],
            actor=actor if getattr(actor, "is_authenticated", False) else None,
            note=note,
        )
        store.multipliers = dict(multipliers)
        store.smoothed = dict(multipliers)
        store.decision = decision
        store.save()
    return decision


# ------------------------------------------------------------------ synthetic universe v2


def volatility_history_path(underlying: str, directory: Path | None = None) -> Path:
    """`<ccy>_volatility_history.parquet` under `directory` (default: the backtests data root)."""
    from backtests.services import snapshots_root

    folder = directory or snapshots_root() / "volatility_history"
    return folder / f"{underlying.lower()}_volatility_history.parquet"


def regimes_fit(
    *, underlying: str, seed: int = 0, n_regimes: int = 3, directory: Path | None = None
) -> RegimeFit:
    """Fit the v2 regimes on an underlying's hourly volatility history and store them."""
    from dataclasses import asdict

    from calibration.domain.regimes import daily_timeline
    from calibration.domain.regimes import regimes_fit as fit_regimes

    path = volatility_history_path(underlying, directory)
    if not path.exists():
        raise SnapshotError(f"{path}: no such file")
    data = path.read_bytes()
    model = fit_regimes(pd.read_parquet(path), n_regimes=n_regimes, seed=seed)
    regimes = []
    for dyn, centroid in zip(model.dynamics, model.centroids, strict=True):
        row = {k: (round(v, 6) if isinstance(v, float) else v) for k, v in asdict(dyn).items()}
        row["centroid"] = [round(float(v), 3) for v in centroid]
        regimes.append(row)
    return RegimeFit.objects.create(
        underlying=underlying,
        source_file=str(path),
        content_sha256=hashlib.sha256(data).hexdigest(),
        n_regimes=model.n_regimes,
        seed=seed,
        features=list(model.features),
        centroids=[[round(float(v), 4) for v in row] for row in model.centroids],
        regimes=regimes,
        transition=[[round(float(v), 6) for v in row] for row in model.transition],
        timeline=daily_timeline(model),
    )
