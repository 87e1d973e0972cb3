"""The health guard's settings as live controls: start-up check, pause on failure and the
re-check interval, each defaulting to its environment setting, shown with its effective value
and source, range-checked, operator only, audited; the beat schedule follows the interval and
the guard reads the effective values."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest
from django.core.management import call_command
from django.urls import reverse
from django_celery_beat.models import PeriodicTask
from rest_framework.test import APIClient

from trading.domain.health import HealthCheckResult, HealthSeverity, StartupAction
from trading.models import RuntimeControl, RuntimeControlChange
from trading.services.controls import controls_update, guard_config_load
from trading.services.health import agent_startup, guard_observe

pytestmark = pytest.mark.django_db

RECHECK = "trading.health_recheck"
GUARD_CONTROLS = (
    "health_check_on_startup",
    "auto_kill_on_health_fail",
    "health_recheck_interval_s",
)


def _save(client: Any, **data: Any) -> str:
    data.setdefault("intent", "save")
    data.setdefault("version", RuntimeControl.load().version)
    data.setdefault("reconcile_action", "report")
    return client.post(reverse("trading:controls"), data).content.decode()


def _recheck_row() -> PeriodicTask:
    return PeriodicTask.objects.get(name=RECHECK)


def test_the_form_shows_each_guard_control_with_its_effective_value_and_source(
    client_as: Any, settings: Any
) -> None:
    settings.HEALTH_RECHECK_INTERVAL_S = 300
    settings.AUTO_KILL_ON_HEALTH_FAIL = True
    controls_update(changes={"health_check_on_startup": False}, user="t")

    html = client_as("viewer").get(reverse("trading:controls")).content.decode()

    for name in GUARD_CONTROLS:
        assert f'data-testid="control-{name}"' in html, name
    assert 'data-testid="effective-health_recheck_interval_s">300<' in html
    assert 'data-testid="source-health_recheck_interval_s">setting<' in html
    assert 'data-testid="effective-auto_kill_on_health_fail">on<' in html
    assert 'data-testid="source-auto_kill_on_health_fail">default<' in html
    assert 'data-testid="effective-health_check_on_startup">off<' in html
    assert 'data-testid="source-health_check_on_startup">override<' in html


def test_an_operator_changes_the_interval_and_the_beat_schedule_follows(
    client_as: Any, settings: Any
) -> None:
    settings.HEALTH_RECHECK_INTERVAL_S = 600
    call_command("sync_periodic_tasks", stdout=None)
    assert _recheck_row().interval.every == 600
    operator = client_as("operator")

    html = _save(operator, health_recheck_interval_s="120")

    assert "Saved: Health re-check interval default → 120." in html
    row = _recheck_row()
    assert (row.interval.every, row.interval.period, row.enabled) == (120, "seconds", True)
    assert row.expire_seconds == 119
    change = RuntimeControlChange.objects.latest("changed_at")
    assert change.changes == {"health_recheck_interval_s": [None, 120]}
    assert change.changed_by == str(operator.user)

    _save(operator, health_recheck_interval_s="0")
    assert _recheck_row().enabled is False  # 0 stops the re-checks

    _save(operator, health_recheck_interval_s="")  # back to the setting
    row = _recheck_row()
    assert (row.interval.every, row.enabled) == (600, True)


def test_a_schedule_sync_keeps_the_operators_interval(settings: Any) -> None:
    settings.HEALTH_RECHECK_INTERVAL_S = 600
    controls_update(changes={"health_recheck_interval_s": 900}, user="t")

    call_command("sync_periodic_tasks", stdout=None)

    assert _recheck_row().interval.every == 900


@pytest.mark.parametrize("raw", ["30", "86401", "-5", "1.5"])
def test_an_interval_out_of_range_is_refused_in_a_sentence(client_as: Any, raw: str) -> None:
    html = _save(client_as("operator"), health_recheck_interval_s=raw)
    assert "Health re-check interval must be" in html
    assert RuntimeControl.load().health_recheck_interval_s is None
    assert not RuntimeControlChange.objects.exists()


def test_the_api_refuses_a_bad_interval_and_lets_only_operators_change_them(
    django_user_model: Any,
) -> None:
    from django.contrib.auth.models import Group

    api = {}
    for role in ("researcher", "operator"):
        user = django_user_model.objects.create_user(role, "", "pw-12345")
        user.groups.add(Group.objects.get_or_create(name=role)[0])
        api[role] = APIClient()
        api[role].force_authenticate(user)
    url = "/api/agent/controls"

    denied = api["researcher"].patch(url, {"auto_kill_on_health_fail": False}, format="json")
    bad = api["operator"].patch(url, {"health_recheck_interval_s": 10}, format="json")
    good = api["operator"].patch(url, {"auto_kill_on_health_fail": False}, format="json")

    assert denied.status_code == 403
    assert bad.status_code == 400
    assert "0 (off) or a whole number from 60 to 86400" in str(bad.json())
    assert good.status_code == 200
    assert good.json()["effective"]["auto_kill_on_health_fail"] == {
        "value": False,
        "source": "override",
    }


def test_the_guard_reads_the_effective_controls(settings: Any) -> None:
    settings.AUTO_KILL_ON_HEALTH_FAIL = True
    settings.HEALTH_CHECK_ON_STARTUP = True
    stale = [HealthCheckResult(name="data", severity=HealthSeverity.DEGRADED, detail="stale")]
    now = datetime.now(UTC)

    controls_update(changes={"auto_kill_on_health_fail": False}, user="t")
    assert guard_config_load().auto_pause_on_health_fail is False
    assert guard_observe(stale, now=now).status.value == "running"  # recorded, not paused

    controls_update(changes={"auto_kill_on_health_fail": None}, user="t")  # the setting again
    assert guard_observe(stale, now=now).status.value == "paused"

    controls_update(changes={"health_check_on_startup": False}, user="t")
    # No check runs at all (no client is needed) when the control turns it off.
    assert agent_startup(client=None, where="test") is StartupAction.START  # type: ignore[arg-type]


def test_system_health_states_the_guards_effective_settings(client_as: Any, settings: Any) -> None:
    settings.HEALTH_RECHECK_INTERVAL_S = 600
    controls_update(
        changes={"health_recheck_interval_s": 120, "auto_kill_on_health_fail": False}, user="t"
    )
    html = client_as("viewer").get(reverse("trading:agent-health") + "?run=0").content.decode()
    settings_line = html.split('data-testid="guard-settings"')[1].split("</p>")[0]
    assert "re-check every 120 s" in settings_line
    assert "pause on a failed healthcheck off" in settings_line


def test_a_late_recheck_does_nothing_while_re_checks_are_off() -> None:
    from trading.tasks import health_recheck

    controls_update(changes={"health_recheck_interval_s": 0}, user="t")
    assert health_recheck.run().startswith("skipped")  # no exchange is asked
