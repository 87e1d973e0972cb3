"""The agent's records cannot be forged in the admin: view only, and the audit trail append-only.

An admin-added Position (size +0.1, strategy `manual`) once drove a real market order through
reconciliation; rows of the books change only through services that record who and why.
"""

from __future__ import annotations

from decimal import Decimal

import pytest
from django.contrib import admin
from django.test import RequestFactory
from django.urls import reverse

from trading import models
from trading.services import controls_update

pytestmark = pytest.mark.django_db

READ_ONLY = (
    models.Decision,
    models.Order,
    models.Position,
    models.AgentStatus,
    models.AgentRun,
    models.HealthCheck,
    models.ReconciliationRun,
    models.ReconciliationDiscrepancy,
    models.RuntimeControlChange,
)


def test_an_admin_cannot_add_a_position_through_the_admin(logged_in_client):
    url = reverse("admin:trading_position_add")
    assert logged_in_client.get(url).status_code == 403
    response = logged_in_client.post(
        url,
        {"instrument_name": "BTC-19DEC25-100000-C", "currency": "BTC", "size": "0.1",
         "strategy_id": "manual", "status": "open"},
    )  # fmt: skip
    assert response.status_code == 403
    assert not models.Position.objects.exists()


def test_an_admin_cannot_edit_or_delete_a_position(logged_in_client):
    position = models.Position.objects.create(
        instrument_name="BTC-19DEC25-100000-C", currency="BTC", size=Decimal("-0.1")
    )
    change = reverse("admin:trading_position_change", args=[position.pk])
    page = logged_in_client.get(change)
    assert page.status_code == 200  # viewable
    assert 'name="_save"' not in page.content.decode()
    logged_in_client.post(change, {"size": "0.1"})
    position.refresh_from_db()
    assert position.size == Decimal("-0.1")
    delete = reverse("admin:trading_position_delete", args=[position.pk])
    assert logged_in_client.post(delete, {"post": "yes"}).status_code == 403
    assert models.Position.objects.filter(pk=position.pk).exists()


@pytest.mark.parametrize("model", READ_ONLY, ids=lambda m: m.__name__)
def test_the_agents_records_are_view_only(admin_user, model):
    request = RequestFactory().get("/admin/")
    request.user = admin_user
    model_admin = admin.site._registry[model]
    assert model_admin.has_view_permission(request)
    assert not model_admin.has_add_permission(request)
    assert not model_admin.has_change_permission(request)
    assert not model_admin.has_delete_permission(request)


def test_the_controls_audit_trail_is_append_only(logged_in_client):
    controls_update(changes={"kill_switch": True}, user="ops", source="test")
    entry = models.RuntimeControlChange.objects.get()
    delete = reverse("admin:trading_runtimecontrolchange_delete", args=[entry.pk])
    assert logged_in_client.post(delete, {"post": "yes"}).status_code == 403
    changelist = reverse("admin:trading_runtimecontrolchange_changelist")
    response = logged_in_client.post(
        changelist, {"action": "delete_selected", "_selected_action": [entry.pk], "post": "yes"}
    )
    assert response.status_code in (200, 302, 403)
    assert models.RuntimeControlChange.objects.filter(pk=entry.pk).exists()
