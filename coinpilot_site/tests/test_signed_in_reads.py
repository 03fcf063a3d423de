"""What every signed-in request reads before its page: the session (core.sessions), the user
(core.auth_backend) and the kill switch banner, each one fixed statement. A session that expired
or was ended elsewhere, and an account that was switched off or deleted, sign the browser out."""

from datetime import timedelta

import pytest
from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.sessions.models import Session
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from trading.models import TradingControl

pytestmark = pytest.mark.django_db


@pytest.fixture
def operator(client):
    user = get_user_model().objects.create_user("minji", password="pw-minji-12345")
    response = client.post("/login/", {"username": "minji", "password": "pw-minji-12345"})
    assert response.status_code == 302
    return user


def signed_in(client) -> bool:
    response = client.get("/ask/")
    if response.status_code == 302:
        assert response["Location"].startswith("/login/")
        return False
    assert response.status_code == 200
    return True


def test_a_password_sign_in_is_kept_by_the_session_and_names_the_user(client, operator):
    assert settings.SESSION_ENGINE == "core.sessions"
    page = client.get("/ask/").content.decode()
    assert "minji" in page  # "Log out minji": the user read from the session's id
    session = Session.objects.get(session_key=client.cookies[settings.SESSION_COOKIE_NAME].value)
    assert session.get_decoded()["_auth_user_backend"] == "core.auth_backend.ModelBackend"


def test_an_expired_session_signs_the_browser_out(client, operator):
    Session.objects.update(expire_date=timezone.now() - timedelta(seconds=1))
    assert not signed_in(client)


def test_a_session_ended_elsewhere_signs_the_browser_out(client, operator):
    Session.objects.all().delete()  # another tab's "Log out", or clearsessions
    assert not signed_in(client)


def test_a_switched_off_account_is_signed_out_at_its_next_request(client, operator):
    assert signed_in(client)
    get_user_model().objects.filter(pk=operator.pk).update(is_active=False)
    assert not signed_in(client)


def test_a_deleted_account_is_signed_out_at_its_next_request(client, operator):
    operator.delete()
    assert not signed_in(client)


def test_a_changed_password_signs_other_browsers_out(client, operator):
    operator.set_password("pw-new-minji-67890")
    operator.save()  # the session's password hash no longer matches
    assert not signed_in(client)


def test_the_banner_follows_the_kill_switch_row(client, operator):
    TradingControl.objects.update_or_create(pk=1, defaults={"kill_switch": True, "reason": "거래소 점검"})
    assert "거래소 점검" in client.get("/ask/").content.decode()
    TradingControl.objects.filter(pk=1).update(kill_switch=False)
    assert "Kill switch is ON" not in client.get("/ask/").content.decode()
    TradingControl.objects.all().delete()  # no row yet (a fresh install): no banner, no error
    assert client.get("/ask/").status_code == 200


def test_each_read_is_one_statement(client, operator):
    client.get("/ask/")
    with CaptureQueriesContext(connection) as queries:
        client.get("/ask/")
    statements = [q["sql"] for q in queries.captured_queries]
    assert sum("django_session" in sql for sql in statements) == 1
    assert sum(sql.startswith("SELECT * FROM") and "auth_user" in sql for sql in statements) == 1
    assert sum("trading_control" in sql for sql in statements) == 1
