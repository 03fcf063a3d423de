"""Login lock-out (django-axes): per username from one client address, proxy-aware, counted before
the password is checked (30 parallel wrong passwords at a running server), logged, resettable."""

import logging
from concurrent.futures import ThreadPoolExecutor

import httpx
import pytest
from axes.models import AccessAttempt
from django.contrib.auth import get_user_model
from django.core.management import call_command

from coinpilot_site.security_settings import client_address_settings
from conftest import real_services_configured
from tests.web_server import create_user, gunicorn, server_env

PASSWORD = "right-password-42"
LOCKED = "Too many failed log-ins"


@pytest.fixture
def user(db):
    return get_user_model().objects.create_user("trader", password=PASSWORD, is_staff=True)


def attempt(client, password, username="trader", url="/login/", addr="198.51.100.7", **meta):
    return client.post(url, {"username": username, "password": password}, REMOTE_ADDR=addr, **meta)


def lock_out(client, **kwargs) -> None:
    for _ in range(5):
        attempt(client, "wrong", **kwargs)


def test_five_wrong_passwords_lock_the_username_from_that_address(client, user):
    for _ in range(4):
        assert attempt(client, "wrong").status_code == 200
    fifth = attempt(client, "wrong")
    assert fifth.status_code == 429 and LOCKED in fifth.content.decode()
    refused = attempt(client, PASSWORD)  # even the right password is not checked now
    assert refused.status_code == 429
    page = refused.content.decode()
    assert "paused for 15 minutes" in page and "axes_reset_username" in page
    assert "Traceback" not in page and 'class="topbar"' in page  # a plain page in the site's look


def test_a_stranger_cannot_lock_the_operator_out(client, user):
    lock_out(client, addr="203.0.113.66")  # the stranger's address
    assert attempt(client, PASSWORD, addr="198.51.100.7").status_code == 302  # the operator's
    client.logout()
    assert attempt(client, "wrong", username="someone-else", addr="203.0.113.66").status_code == 200


def test_behind_the_proxy_each_client_is_told_apart_by_x_forwarded_for(client, user, settings):
    for name, value in client_address_settings(1).items():  # TRUSTED_PROXY_COUNT=1
        setattr(settings, name, value)
    proxy = "10.0.0.2"  # every request comes from the proxy's address
    lock_out(client, addr=proxy, HTTP_X_FORWARDED_FOR="203.0.113.66")
    assert attempt(client, PASSWORD, addr=proxy, HTTP_X_FORWARDED_FOR="198.51.100.7").status_code == 302
    client.logout()
    # What a client writes into the header itself (left of the proxy's entry) or into other
    # headers does not move it to another address: still locked.
    for spoofed in (
        {"HTTP_X_FORWARDED_FOR": "198.51.100.7, 203.0.113.66"},
        {"HTTP_X_FORWARDED_FOR": "203.0.113.66", "HTTP_X_REAL_IP": "198.51.100.7"},
        {"HTTP_X_FORWARDED_FOR": "203.0.113.66", "HTTP_CLIENT_IP": "198.51.100.7"},
    ):
        assert attempt(client, PASSWORD, addr=proxy, **spoofed).status_code == 429
    assert set(AccessAttempt.objects.values_list("ip_address", flat=True)) == {"203.0.113.66"}


def test_without_trusted_proxies_x_forwarded_for_is_ignored(client, user):
    lock_out(client, addr="203.0.113.66", HTTP_X_FORWARDED_FOR="198.51.100.1")
    assert (
        attempt(client, PASSWORD, addr="203.0.113.66", HTTP_X_FORWARDED_FOR="198.51.100.2").status_code == 429
    )
    assert AccessAttempt.objects.get().ip_address == "203.0.113.66"


def test_success_clears_the_count(client, user):
    for _ in range(4):
        attempt(client, "wrong")
    assert attempt(client, PASSWORD).status_code == 302
    client.logout()
    for _ in range(4):
        assert attempt(client, "wrong").status_code == 200
    assert attempt(client, PASSWORD).status_code == 302


def test_the_admin_login_is_guarded_too(client, user):
    lock_out(client, url="/admin/login/")
    response = attempt(client, PASSWORD, url="/admin/login/")
    assert response.status_code == 429 and LOCKED in response.content.decode()


def test_one_log_line_per_lock_out(client, user, caplog):
    with caplog.at_level(logging.WARNING, logger="coinpilot_site.login_lockout"):
        lock_out(client)
        attempt(client, "wrong")
        attempt(client, PASSWORD)
    lines = [r.getMessage() for r in caplog.records if r.name == "coinpilot_site.login_lockout"]
    assert len(lines) == 1
    assert "login lock-out: username 'trader' from 198.51.100.7 after 5 failures" in lines[0]
    assert PASSWORD not in lines[0]


def test_the_admin_lists_lock_outs_and_the_command_lifts_them(client, user):
    lock_out(client)
    client.force_login(user)
    get_user_model().objects.filter(pk=user.pk).update(is_superuser=True)
    listing = client.get("/admin/axes/accessattempt/")
    assert listing.status_code == 200 and "198.51.100.7" in listing.content.decode()
    client.logout()
    call_command("axes_reset_username", "trader")
    assert attempt(client, PASSWORD).status_code == 302


def test_a_nul_in_the_username_is_a_failed_login_not_a_crash(client, user):
    assert attempt(client, "wrong", username="tra\x00der").status_code == 200


@pytest.mark.django_db(transaction=True)
def test_thirty_parallel_wrong_passwords_at_gunicorn_check_exactly_five(request, tmp_path, settings):
    """At a real gunicorn (3 worker processes x threads): the count is taken before the (slow)
    password check, so parallel attempts cannot slip past the limit as with check-then-count."""
    subprocess_env = request.getfixturevalue("subprocess_env") if real_services_configured() else {}
    env = server_env(real_services_configured(), subprocess_env, tmp_path)
    checks = tmp_path / "password-checks.log"
    env["LOGIN_CHECK_LOG"] = str(checks)
    create_user(env, "trader", PASSWORD)

    with gunicorn(env, tmp_path / "gunicorn.log") as url:

        def post(_) -> int:
            with httpx.Client(base_url=url, timeout=60) as http:
                http.get("/login/")
                data = {
                    "username": "trader",
                    "password": "wrong",
                    "csrfmiddlewaretoken": http.cookies["csrftoken"],
                }
                return http.post("/login/", data=data).status_code

        with ThreadPoolExecutor(max_workers=30) as pool:
            statuses = list(pool.map(post, range(30)))
        assert checks.read_text().splitlines() == ["trader"] * settings.LOGIN_MAX_FAILURES
        assert set(statuses) <= {200, 429} and statuses.count(429) >= 30 - settings.LOGIN_MAX_FAILURES
        log = (tmp_path / "gunicorn.log").read_text()
        assert log.count("login lock-out: username 'trader'") == 1
