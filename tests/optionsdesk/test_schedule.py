"""The declared schedule syncs to django-celery-beat idempotently."""

from __future__ import annotations

import pytest
from django.core.management import call_command
from django_celery_beat.models import IntervalSchedule, PeriodicTask

from optionsdesk.schedule import MANAGED_MARK, PeriodicSpec, declared_schedule
from optionsdesk.services import periodic_tasks_sync

pytestmark = pytest.mark.django_db


def test_it_creates_the_heartbeat_with_an_expiry():
    call_command("sync_periodic_tasks", verbosity=0)
    task = PeriodicTask.objects.get(name="system.heartbeat")
    assert task.task == "system.heartbeat"
    assert task.enabled
    assert task.interval is not None
    assert task.interval.period == IntervalSchedule.SECONDS
    assert task.expire_seconds is not None
    assert task.expire_seconds < task.interval.every


def test_it_is_idempotent():
    specs = declared_schedule(30)
    first = periodic_tasks_sync(specs=specs)
    second = periodic_tasks_sync(specs=specs)
    names = [spec.name for spec in specs]
    assert "system.heartbeat" in names
    assert first.created == names
    assert second.created == []
    assert second.updated == []
    assert second.unchanged == names
    assert PeriodicTask.objects.filter(name="system.heartbeat").count() == 1


def test_it_updates_a_changed_declaration_and_reenables_it():
    periodic_tasks_sync(specs=declared_schedule(30))
    PeriodicTask.objects.filter(name="system.heartbeat").update(enabled=False)
    report = periodic_tasks_sync(specs=declared_schedule(10))
    assert "system.heartbeat" in report.updated
    task = PeriodicTask.objects.get(name="system.heartbeat")
    assert task.enabled
    assert task.interval is not None
    assert task.interval.every == 10


def test_it_disables_managed_rows_no_longer_declared_but_not_operator_rows():
    extra = PeriodicSpec(name="old.job", task="old.job", description="gone", crontab="0 8 * * *")
    periodic_tasks_sync(specs=[*declared_schedule(30), extra])
    interval = IntervalSchedule.objects.create(every=60, period=IntervalSchedule.SECONDS)
    PeriodicTask.objects.create(name="operator.job", task="x.y", interval=interval)
    report = periodic_tasks_sync(specs=declared_schedule(30))
    assert report.disabled == ["old.job"]
    assert not PeriodicTask.objects.get(name="old.job").enabled
    assert PeriodicTask.objects.get(name="operator.job").enabled
    assert PeriodicTask.objects.get(name="old.job").description.startswith(MANAGED_MARK)


def test_a_spec_needs_exactly_one_schedule():
    with pytest.raises(ValueError, match="exactly one"):
        PeriodicSpec(name="a", task="a", description="", every_s=5, crontab="* * * * *")
    with pytest.raises(ValueError, match="exactly one"):
        PeriodicSpec(name="a", task="a", description="")


def test_it_tolerates_duplicate_schedule_rows_made_by_an_operator():
    for _ in range(2):
        IntervalSchedule.objects.create(every=30, period=IntervalSchedule.SECONDS)
    report = periodic_tasks_sync(specs=declared_schedule(30))
    assert "system.heartbeat" in report.created


def test_the_health_recheck_follows_its_interval_setting():
    def recheck(specs):
        return next((s for s in specs if s.name == "trading.health_recheck"), None)

    assert recheck(declared_schedule(30, health_recheck_interval_s=120)).every_s == 120
    assert recheck(declared_schedule(30)).every_s == 600
    assert recheck(declared_schedule(30, health_recheck_interval_s=0)) is None
