"""Roles: groups decide who may read, research, operate; superusers are admins."""

from __future__ import annotations

import pytest
from django.core.management import CommandError, call_command
from rest_framework.test import APIRequestFactory
from rest_framework.views import APIView

from optionsdesk.roles import IsOperator, IsResearcher, IsViewer, Role, role_for_writes, user_role

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize(
    ("group", "expected"),
    [
        ("none", Role.VIEWER),
        ("viewer", Role.VIEWER),
        ("researcher", Role.RESEARCHER),
        ("operator", Role.OPERATOR),
        ("admin", Role.ADMIN),
    ],
)
def test_it_reads_the_role_from_the_group(client_as, group, expected):
    assert user_role(client_as(group).user) is expected


def test_a_superuser_is_an_admin_and_anonymous_has_no_role(admin_user):
    from django.contrib.auth.models import AnonymousUser

    assert user_role(admin_user) is Role.ADMIN
    assert user_role(AnonymousUser()) is None


def test_an_inactive_user_has_no_role(client_as):
    user = client_as("operator").user
    user.is_active = False
    assert user_role(user) is None


def test_it_holds_the_levels_in_order(client_as):
    request = APIRequestFactory().post("/")
    request.user = client_as("researcher").user
    assert IsViewer().has_permission(request, APIView())
    assert IsResearcher().has_permission(request, APIView())
    assert not IsOperator().has_permission(request, APIView())


def test_viewers_read_and_only_the_named_role_writes(client_as):
    permission = role_for_writes(Role.OPERATOR)()
    viewer = client_as("viewer").user
    get, post = APIRequestFactory().get("/"), APIRequestFactory().post("/")
    get.user = post.user = viewer
    assert permission.has_permission(get, APIView())
    assert not permission.has_permission(post, APIView())


def test_grant_role_moves_a_user_to_exactly_one_role(django_user_model, capsys):
    user = django_user_model.objects.create_user("alice", "", "pw")
    call_command("grant_role", "alice", "operator")
    call_command("grant_role", "alice", "researcher")
    user = django_user_model.objects.get(pk=user.pk)
    assert list(user.groups.values_list("name", flat=True)) == ["researcher"]
    assert "alice is now researcher" in capsys.readouterr().out


def test_grant_role_refuses_an_unknown_user():
    with pytest.raises(CommandError, match="no user 'bob'"):
        call_command("grant_role", "bob", "viewer")


def test_the_header_shows_the_users_role(client_as):
    page = client_as("operator").get("/").content.decode()
    assert 'data-testid="user-role">(operator)' in page
