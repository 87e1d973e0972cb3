"""`manage.py synthetic_vs_live`: the research policy on real snapshots and on the synthetic
source over the same calendar window, compared (a stored study, like the tab's).

Prints the verdict and, per measure, quantiles of both sides, the KS distance and p-value.
A measure diverges when the KS distance exceeds `--ks-max` and p is below `--alpha`.

Examples:
  manage.py synthetic_vs_live --underlying BTC
  manage.py synthetic_vs_live --underlying ETH --seed 7 --json
"""

from __future__ import annotations

import json
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from backtests.domain.sources.spec import SourceSpec
from backtests.domain.types import BacktestConfig
from backtests.lab_services import lab_study_create
from backtests.management.commands._lab import lab_study_run_or_queue
from backtests.models import SelectorStudy


class Command(BaseCommand):
    """Create the comparison, run it (or queue it), print the verdict."""

    help = "Compare the policy on the synthetic source with real snapshots over the same window."

    def add_arguments(self, parser: CommandParser) -> None:
        """Underlying, synthetic seed, tolerance."""
        parser.add_argument("--underlying", choices=["BTC", "ETH"], default="BTC")
        parser.add_argument("--seed", type=int, default=42, help="of the synthetic source")
        parser.add_argument("--ks-max", type=float, default=0.25)
        parser.add_argument("--alpha", type=float, default=0.01)
        parser.add_argument("--queue", action="store_true", help="run on the research queue")
        parser.add_argument("--json", action="store_true")

    def handle(self, *args: Any, **options: Any) -> None:
        """Create, run and print."""
        try:
            study = lab_study_create(
                kind=SelectorStudy.Kind.SOURCE_COMPARE,
                source=SourceSpec(
                    kind="snapshots", underlying=options["underlying"], seed=options["seed"]
                ),
                config=BacktestConfig(underlying=options["underlying"]),
                params={"ks_max": options["ks_max"], "alpha": options["alpha"]},
                enqueue=False,
            )
        except ValueError as exc:
            raise CommandError(str(exc)) from None
        done = lab_study_run_or_queue(study, queue=options["queue"], stdout=self.stdout)
        if done is None:
            return
        result = {k: v for k, v in done.result.items() if k != "samples"}
        if options["json"]:
            self.stdout.write(json.dumps({"study": done.pk} | result, default=str))
            return
        window = result["window"]
        self.stdout.write(
            f"study #{done.pk}: {result['verdict']} ({result['underlying']}, "
            f"{window['start']} to {window['end']})"
        )
        for m in result["measures"]:
            live, synthetic = m["live"], m["synthetic"]
            self.stdout.write(
                f"{m['measure']:<12} live n {live['n']:>4} median {live['q50']!s:>10} | "
                f"synthetic n {synthetic['n']:>4} median {synthetic['q50']!s:>10} | "
                f"KS {m['ks']!s:>8} p {m['p_value']!s:>10} {m['verdict']}"
            )
