"""`manage.py build_corpus`: a chat fine-tuning corpus from a candidate-ranking file.

Reads candidates written by `export_training_data --kind candidates` or `training_run`
(CSV, JSONL or Parquet), writes corpus_train.jsonl and corpus_validation.jsonl (a deterministic
split by hash of each decision), and checks every line against the schema; `--check FILE` only
checks an existing corpus file and exits non-zero when a line fails.

Examples:
  manage.py build_corpus var/exports/training_3/candidates.csv --out var/corpus
  manage.py build_corpus --check var/corpus/corpus_train.jsonl
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from backtests import training_services
from backtests.domain.corpus import corpus_file_check


class Command(BaseCommand):
    """Build (or only check) a chat corpus."""

    help = "Build a chat JSONL fine-tuning corpus from candidate rankings, split and checked."

    def add_arguments(self, parser: CommandParser) -> None:
        """The candidates file, or --check with a corpus file."""
        parser.add_argument("candidates", nargs="?", type=Path)
        parser.add_argument("--out", type=Path, default=Path("var/corpus"))
        parser.add_argument("--validation-frac", type=float, default=0.1)
        parser.add_argument("--top-n", type=int, default=5)
        parser.add_argument("--check", type=Path, help="only check this corpus file")

    def handle(self, *args: Any, **options: Any) -> None:
        """Build and report, or check and fail on the first bad line."""
        if options["check"]:
            check = corpus_file_check(options["check"])
            for line, error in check.errors[:20]:
                self.stderr.write(f"line {line}: {error}")
            if not check.ok:
                raise CommandError(f"{check.path}: {len(check.errors)} error(s) in {check.lines}")
            self.stdout.write(f"{check.path}: {check.lines} line(s), all valid")
            return
        if options["candidates"] is None:
            raise CommandError("give a candidates file (or --check CORPUS.jsonl)")
        try:
            frame = training_services.read_candidates(options["candidates"])
            built = training_services.corpus_build(
                candidates=frame,
                out_dir=options["out"],
                validation_frac=options["validation_frac"],
                top_n=options["top_n"],
            )
        except (OSError, ValueError) as exc:
            raise CommandError(str(exc)) from None
        for kind, entry in built["files"].items():
            self.stdout.write(f"{kind}: {entry['rows']} records -> {entry['path']} (valid)")
