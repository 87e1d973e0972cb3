"""What the lab's study commands (`environment_heatmap`, `synthetic_vs_live`) share."""

from __future__ import annotations

from django.core.management.base import CommandError, OutputWrapper

from backtests.lab_services import lab_study_dispatch, lab_study_execute
from backtests.models import SelectorStudy


def lab_study_run_or_queue(
    study: SelectorStudy, *, queue: bool, stdout: OutputWrapper
) -> SelectorStudy | None:
    """Run a created study in this process and return it done, or with `queue` send it to the
    research queue and return None (after printing its id); CommandError when the run fails."""
    if queue:
        lab_study_dispatch(study_id=study.pk)
        stdout.write(f"study #{study.pk} queued on the research queue")
        return None
    done = lab_study_execute(study_id=study.pk)
    if done is None or done.status != SelectorStudy.Status.SUCCEEDED:
        raise CommandError(f"study #{study.pk} failed: {done.error if done else 'deleted'}")
    return done
