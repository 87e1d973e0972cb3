"""System writes: heartbeats, the periodic schedule sync, the admin user."""

from __future__ import annotations

import json
import secrets
from dataclasses import dataclass
from typing import Any

from django.contrib.auth import get_user_model
from django.db import transaction
from django.db.models import F
from django.utils import timezone
from django_celery_beat.models import CrontabSchedule, IntervalSchedule, PeriodicTask

from optionsdesk.models import WorkerHeartbeat
from optionsdesk.schedule import MANAGED_MARK, PeriodicSpec


def heartbeat_record(*, hostname: str, task_id: str) -> WorkerHeartbeat:
    """Upsert the heartbeat row of one worker."""
    now = timezone.now()
    with transaction.atomic():
        beat, created = WorkerHeartbeat.objects.get_or_create(
            hostname=hostname, defaults={"last_seen_at": now, "beats": 1, "last_task_id": task_id}
        )
        if not created:
            WorkerHeartbeat.objects.filter(pk=beat.pk).update(
                last_seen_at=now, beats=F("beats") + 1, last_task_id=task_id
            )
            beat.refresh_from_db()
    return beat


@dataclass(frozen=True)
class SyncReport:
    """What a schedule sync changed."""

    created: list[str]
    updated: list[str]
    unchanged: list[str]
    disabled: list[str]


def _schedule_for(spec: PeriodicSpec) -> dict[str, object]:
    if spec.every_s is not None:
        # filter().first(): operators may have created duplicate schedule rows in the admin.
        interval = IntervalSchedule.objects.filter(
            every=spec.every_s, period=IntervalSchedule.SECONDS
        ).first() or IntervalSchedule.objects.create(
            every=spec.every_s, period=IntervalSchedule.SECONDS
        )
        return {"interval": interval, "crontab": None}
    minute, hour, day_of_month, month_of_year, day_of_week = str(spec.crontab).split()
    fields = {
        "minute": minute,
        "hour": hour,
        "day_of_month": day_of_month,
        "month_of_year": month_of_year,
        "day_of_week": day_of_week,
        "timezone": "UTC",
    }
    crontab = CrontabSchedule.objects.filter(**fields).first()
    crontab = crontab or CrontabSchedule.objects.create(**fields)
    return {"interval": None, "crontab": crontab}


def _wanted_fields(spec: PeriodicSpec) -> dict[str, object]:
    return {
        "task": spec.task,
        "description": f"{MANAGED_MARK} {spec.description}",
        "expire_seconds": spec.expires_s,
        "queue": spec.queue,
        "enabled": True,
        "kwargs": json.dumps({}),
        **_schedule_for(spec),
    }


def periodic_tasks_sync(*, specs: list[PeriodicSpec]) -> SyncReport:
    """Make the beat tables match the declared schedule; safe to run any number of times."""
    report = SyncReport(created=[], updated=[], unchanged=[], disabled=[])
    with transaction.atomic():
        for spec in specs:
            wanted = _wanted_fields(spec)
            task = PeriodicTask.objects.filter(name=spec.name).first()
            if task is None:
                PeriodicTask.objects.create(name=spec.name, **wanted)
                report.created.append(spec.name)
                continue
            changed = [k for k, v in wanted.items() if getattr(task, k) != v]
            if not changed:
                report.unchanged.append(spec.name)
                continue
            for key in changed:
                setattr(task, key, wanted[key])
            task.save()
            report.updated.append(spec.name)
        stale = PeriodicTask.objects.filter(
            description__startswith=MANAGED_MARK, enabled=True
        ).exclude(name__in=[spec.name for spec in specs])
        for task in stale:
            task.enabled = False
            task.save()
            report.disabled.append(task.name)
    return report


def periodic_task_apply(*, name: str, spec: PeriodicSpec | None) -> str:
    """Make one beat row match `spec` (created, updated or unchanged), or disable the row
    `name` when it is no longer declared (spec None). Returns what happened."""
    with transaction.atomic():
        task = PeriodicTask.objects.filter(name=name).first()
        if spec is None:
            if task is None or not task.enabled:
                return "unchanged"
            task.enabled = False
            task.save()
            return "disabled"
        wanted = _wanted_fields(spec)
        if task is None:
            PeriodicTask.objects.create(name=spec.name, **wanted)
            return "created"
        changed = [k for k, v in wanted.items() if getattr(task, k) != v]
        for key in changed:
            setattr(task, key, wanted[key])
        if changed:
            task.save()
        return "updated" if changed else "unchanged"


def admin_user_ensure(*, username: str, password: str = "") -> tuple[bool, str]:
    """Create the admin superuser if missing; returns (created, password used or '' if existing)."""
    user_model = get_user_model()
    if user_model.objects.filter(username=username).exists():
        return False, ""
    password = password or secrets.token_urlsafe(12)
    user_model.objects.create_superuser(username=username, email="", password=password)
    return True, password


def user_role_grant(*, username: str, role: str) -> str:
    """Put `username` in exactly one role group (`viewer`, `researcher`, `operator`, `admin`).

    Raises `ValueError` for an unknown user or role. Returns the role's name.
    """
    from django.contrib.auth.models import Group

    from optionsdesk.roles import ROLE_GROUPS

    if role not in ROLE_GROUPS:
        raise ValueError(f"unknown role {role!r}: choose one of {', '.join(ROLE_GROUPS)}")
    user = get_user_model().objects.filter(username=username).first()
    if user is None:
        raise ValueError(f"no user {username!r}")
    with transaction.atomic():
        groups = {name: Group.objects.get_or_create(name=name)[0] for name in ROLE_GROUPS}
        user.groups.remove(*groups.values())
        user.groups.add(groups[role])
    return role


def api_token_create(*, user: Any) -> str:
    """Give `user` a new API token (replacing any old one); return its secret, shown only once.

    Only the secret's digest is stored (`optionsdesk.api.auth`), so it cannot be shown again.
    """
    from rest_framework.authtoken.models import Token

    from optionsdesk.tokens import token_digest

    secret = secrets.token_urlsafe(32)
    with transaction.atomic():
        Token.objects.filter(user=user).delete()
        Token.objects.create(user=user, key=token_digest(secret))
    return secret
