"""Wrong passwords lock a user name out (django-axes) on the dashboard and the admin login."""

from __future__ import annotations

import pytest
from axes.models import AccessAttempt

pytestmark = pytest.mark.django_db
PASSWORD = "correct-horse-battery"


@pytest.mark.parametrize("url", ["/login/", "/admin/login/"])
def test_thirty_wrong_passwords_lock_the_user_out(client, admin_user, settings, url):
    statuses = [
        client.post(url, {"username": "admin", "password": f"guess-{i}"}).status_code
        for i in range(30)
    ]
    limit = settings.AXES_FAILURE_LIMIT
    assert set(statuses[: limit - 1]) == {200}  # the form again, with its error
    assert set(statuses[limit:]) == {429}, statuses
    locked = client.post(url, {"username": "admin", "password": PASSWORD})
    assert locked.status_code == 429  # even the right password, until the cool-off ends
    assert b"Too many failed logins" in locked.content
    assert "_auth_user_id" not in client.session
    assert AccessAttempt.objects.get(username="admin").failures_since_start >= limit


def test_a_good_login_before_the_limit_resets_the_count(client, admin_user, settings):
    for i in range(settings.AXES_FAILURE_LIMIT - 1):
        client.post("/login/", {"username": "admin", "password": f"guess-{i}"})
    response = client.post("/login/", {"username": "admin", "password": PASSWORD})
    assert response.status_code == 302
    client.logout()
    assert client.post("/login/", {"username": "admin", "password": "nope"}).status_code == 200


def test_another_user_name_is_not_locked_by_someone_elses_failures(client, admin_user, settings,
                                                                   django_user_model):  # fmt: skip
    django_user_model.objects.create_user("bob", "", "bobs-password-1")
    for i in range(settings.AXES_FAILURE_LIMIT + 2):
        client.post("/login/", {"username": "admin", "password": f"guess-{i}"})
    assert (
        client.post("/login/", {"username": "bob", "password": "bobs-password-1"}).status_code
        == 302
    )
