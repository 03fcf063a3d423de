"""Repeated failed logins lock the username and the address out; success clears the count."""

import pytest
from django.contrib.auth import get_user_model

pytestmark = pytest.mark.django_db


@pytest.fixture
def user():
    return get_user_model().objects.create_user("trader", password="right-password-42")


def attempt(client, password, username="trader", url="/login/", addr="198.51.100.7"):
    return client.post(url, {"username": username, "password": password}, REMOTE_ADDR=addr)


def test_five_failures_lock_the_user_out_even_with_the_right_password(client, user, settings):
    settings.LOGIN_MAX_FAILURES = 5
    for _ in range(5):
        assert attempt(client, "wrong").status_code == 200
    response = attempt(client, "right-password-42")
    assert response.status_code == 200
    assert "Too many failed attempts. Try again in 15 minutes." in response.content.decode()


def test_the_lockout_follows_the_address_across_usernames(client, user):
    for i in range(5):
        attempt(client, "wrong", username=f"guess{i}")
    assert "Too many failed attempts" in attempt(client, "right-password-42").content.decode()


def test_success_clears_the_username_count(client, user):
    for _ in range(3):
        attempt(client, "wrong", addr="198.51.100.8")
    assert attempt(client, "right-password-42", addr="198.51.100.9").status_code == 302
    client.logout()
    for _ in range(4):
        attempt(client, "wrong", addr="198.51.100.10")
    assert attempt(client, "right-password-42", addr="198.51.100.11").status_code == 302


def test_the_admin_login_is_guarded_too(client, user):
    get_user_model().objects.filter(pk=user.pk).update(is_staff=True)
    for _ in range(5):
        attempt(client, "wrong", url="/admin/login/")
    response = attempt(client, "right-password-42", url="/admin/login/")
    assert "Too many failed attempts" in response.content.decode()
