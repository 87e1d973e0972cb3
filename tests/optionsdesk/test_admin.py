"""The admin renders every model, and shows the schedule, task results, heartbeats and chats."""

from __future__ import annotations

import pytest
from django.contrib import admin
from django.test import RequestFactory
from django.urls import reverse
from django_celery_results.models import TaskResult

from optionsdesk.llm import UnavailableLLMClient
from optionsdesk.schedule import declared_schedule
from optionsdesk.services import heartbeat_record, periodic_tasks_sync
from trading.chat.service import chat_ask, conversation_create
from trading.models import Conversation

pytestmark = pytest.mark.django_db


def test_admin_lists_heartbeat_schedule_results_and_workers(logged_in_client):
    periodic_tasks_sync(specs=declared_schedule(30))
    heartbeat_record(hostname="celery@admin-test", task_id="abc")
    TaskResult.objects.create(task_id="abc", task_name="system.heartbeat", status="SUCCESS")
    pages = {
        "/admin/django_celery_beat/periodictask/": "system.heartbeat",
        "/admin/django_celery_results/taskresult/": "abc",
        "/admin/optionsdesk/workerheartbeat/": "celery@admin-test",
    }
    for url, expected in pages.items():
        response = logged_in_client.get(url)
        assert response.status_code == 200, url
        assert expected in response.content.decode(), url


def test_every_registered_models_changelist_and_add_page_render(logged_in_client, admin_user):
    request = RequestFactory().get("/admin/")
    request.user = admin_user
    for model, model_admin in admin.site._registry.items():
        opts = model._meta
        url = reverse(f"admin:{opts.app_label}_{opts.model_name}_changelist")
        assert logged_in_client.get(url).status_code == 200, url
        if model_admin.has_add_permission(request):
            add = reverse(f"admin:{opts.app_label}_{opts.model_name}_add")
            assert logged_in_client.get(add).status_code == 200, add


def test_a_conversation_shows_its_messages_in_the_admin(logged_in_client):
    conversation = conversation_create(channel=Conversation.Channel.CLI)
    chat_ask(conversation=conversation, text="what is your status?", llm=UnavailableLLMClient())
    page = logged_in_client.get(f"/admin/trading/conversation/{conversation.pk}/change/")
    assert page.status_code == 200
    body = page.content.decode()
    assert "what is your status?" in body
    assert "Template answer (no LLM)" in body
