"""``manage.py fit_regimes [--underlying BTC,ETH] [--seed N] [--regimes K] [--dir DIR]``."""

from __future__ import annotations

from argparse import ArgumentParser
from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError

from calibration.domain.snapshots import SnapshotError
from calibration.services import regimes_fit


class Command(BaseCommand):
    """Fit the synthetic universe v2 regimes (KMeans + AR(1) per regime) and store them."""

    help = "Fit volatility regimes on the hourly volatility history (synthetic universe v2)."

    def add_arguments(self, parser: ArgumentParser) -> None:
        """--underlying, --seed, --regimes, --dir."""
        parser.add_argument("--underlying", default="BTC,ETH")
        parser.add_argument("--seed", type=int, default=0)
        parser.add_argument("--regimes", type=int, default=3)
        parser.add_argument("--dir", type=Path, default=None, help="volatility_history folder")

    def handle(self, *args: Any, **options: Any) -> None:
        """Fit each underlying and print its regimes."""
        for name in [n.strip().upper() for n in options["underlying"].split(",") if n.strip()]:
            try:
                fit = regimes_fit(
                    underlying=name,
                    seed=options["seed"],
                    n_regimes=options["regimes"],
                    directory=options["dir"],
                )
            except SnapshotError as exc:
                raise CommandError(str(exc), returncode=2) from exc
            self.stdout.write(f"{name}: {fit.n_regimes} regimes (fit #{fit.pk})")
            for row in fit.regimes:
                self.stdout.write(
                    f"  regime {row['regime']}: centroid {row['centroid']}, IV mean "
                    f"{row['mu']:.3f}, phi {row['phi']:.4f} ± {row['phi_se']:.4f}, "
                    f"sigma {row['sigma']:.4f}, share {row['share']:.0%}"
                )
