"""Every endpoint refuses a missing, wrong or revoked token; a read token never reaches a control
action; refusals are JSON, say what to do, and change nothing."""

import json

import pytest
from django.contrib.auth import get_user_model
from django.utils import timezone

from api import tokens
from api.models import AccessToken
from api.views import api
from trading.models import RiskAudit, TradingControl

from .conftest import bearer

pytestmark = pytest.mark.django_db


def endpoints() -> list[tuple[str, str]]:
    """(method, path) of every operation in the OpenAPI document."""
    schema = api.get_openapi_schema(path_prefix="/api/v1")
    return [(method.upper(), path) for path, ops in schema["paths"].items() for method in ops]


CONTROL = [e for e in endpoints() if e[1].startswith("/api/v1/control/")]
BODIES = {
    "/api/v1/control/kill-switch": {"on": True, "reason": "test"},
    "/api/v1/control/close": {"symbol": "KRW-BTC"},
    "/api/v1/control/flatten": {"reason": "test"},
    "/api/v1/control/pause-entries": {"reason": "test"},
}


def call(client, method: str, path: str, **headers):
    if method == "GET":
        return client.get(path, **headers)
    return client.post(path, json.dumps(BODIES.get(path, {})), content_type="application/json", **headers)


def state() -> tuple:
    control = TradingControl.current()
    return control.kill_switch, control.entries_paused, RiskAudit.objects.count()


def test_the_document_lists_reads_and_controls():
    assert len(endpoints()) == 12 and len(CONTROL) == 5
    assert all(method == "POST" for method, _ in CONTROL)


@pytest.mark.parametrize(("method", "path"), endpoints())
def test_no_token_is_refused_with_a_hint(client, method, path):
    before = state()
    response = call(client, method, path)
    assert response.status_code == 401
    assert response["WWW-Authenticate"].startswith("Bearer")
    assert "Authorization: Bearer" in response.json()["error"]
    assert state() == before


@pytest.mark.parametrize(("method", "path"), endpoints())
def test_a_wrong_token_is_refused(client, control_token, method, path):
    before = state()
    response = call(client, method, path, HTTP_AUTHORIZATION=f"Bearer {control_token[:-1]}x")
    assert response.status_code == 401, response.content
    assert response.json()["error"].startswith("the API token is not valid")
    assert state() == before


@pytest.mark.parametrize(("method", "path"), [("GET", "/api/v1/status"), ("POST", "/api/v1/control/resume")])
@pytest.mark.parametrize("header", ["Bearer cp_wrong", "Bearer ", "Token cp_x", "Basic b3BzOnB3", "cp_x"])
def test_a_malformed_header_is_refused(client, control_token, method, path, header):
    before = state()
    response = call(client, method, path, HTTP_AUTHORIZATION=header)
    assert response.status_code == 401, response.content
    assert response.json()["error"].startswith(("the API token is not valid", "no API token"))
    assert state() == before


@pytest.mark.parametrize(("method", "path"), endpoints())
def test_a_revoked_token_is_refused(client, control_token, method, path):
    tokens.revoke(AccessToken.objects.all())
    before = state()
    response = call(client, method, path, **bearer(control_token))
    assert response.status_code == 401
    assert "revoked" in response.json()["error"]
    assert state() == before


@pytest.mark.parametrize(("method", "path"), CONTROL)
def test_a_read_token_may_not_act(client, read_token, method, path):
    before = state()
    response = call(client, method, path, **bearer(read_token))
    assert response.status_code == 403
    assert (
        response.json()["error"]
        == "this token may only read: control actions need a token with scope 'control'"
    )
    assert state() == before


@pytest.mark.parametrize(("method", "path"), CONTROL)
def test_a_control_token_of_a_user_who_lost_the_permission_may_not_act(client, ops, method, path):
    plain = tokens.create_token(user=ops, name="old", scope="control")[1]
    ops.user_permissions.clear()
    before = state()
    response = call(client, method, path, **bearer(plain))
    assert response.status_code == 403 and "may not change trading controls" in response.json()["error"]
    assert state() == before


def test_a_wrong_method_asks_who_first_then_names_the_right_one(client, read_token):
    assert client.get("/api/v1/control/resume").status_code == 401
    response = client.get("/api/v1/control/resume", **bearer(read_token))
    assert response.status_code == 405 and response["Allow"] == "POST"
    assert response.json()["error"] == "GET is not allowed here: use POST"
    assert client.delete("/api/v1/status", **bearer(read_token)).status_code == 405


def test_a_token_of_an_inactive_user_is_refused(client, ops, read_token):
    ops.is_active = False
    ops.save()
    assert client.get("/api/v1/positions", **bearer(read_token)).status_code == 401


def test_a_read_token_reads_and_is_marked_used(client, read_token):
    token = AccessToken.objects.get(scope="read")
    assert token.last_used_at is None
    response = client.get("/api/v1/positions", **bearer(read_token))
    assert response.status_code == 200 and response.json() == []
    token.refresh_from_db()
    assert timezone.now() - token.last_used_at < timezone.timedelta(seconds=5)


def test_the_browser_session_reads_but_never_acts(client, ops):
    client.force_login(ops)
    assert client.get("/api/v1/status").status_code == 200
    assert (
        client.get("/api/v1/status", HTTP_AUTHORIZATION="Bearer cp_wrong").status_code == 401
    )  # a token sent counts
    assert client.get("/api/overview").status_code == 200  # the pages' own JSON is unchanged
    response = client.post(
        "/api/v1/control/kill-switch", BODIES["/api/v1/control/kill-switch"], "application/json"
    )
    assert response.status_code == 401
    assert not TradingControl.current().kill_switch


def test_an_unknown_path_is_a_json_404_and_the_root_names_the_document(client):
    response = client.get("/api/v1/no-such-thing")
    assert response.status_code == 404 and "openapi.json" in response.json()["error"]
    assert client.get("/api/v1/").status_code == 401
    client.force_login(get_user_model().objects.create_user("viewer", password="pw-123456789-long"))
    assert client.get("/api/v1/").json()["openapi"] == "/api/v1/openapi.json"
    assert client.get("/api/v1/openapi.json").status_code == 200


def test_the_token_is_never_logged(client, read_token, control_token, caplog, settings):
    settings.DEBUG = True  # ninja's own bearer check would log a malformed header here
    caplog.set_level("DEBUG")
    client.get("/api/v1/status", **bearer(read_token))
    client.post("/api/v1/control/resume", **bearer(read_token))
    client.get("/api/v1/status", HTTP_AUTHORIZATION=f"Token {control_token}")
    assert caplog.records  # the refusals are logged...
    assert read_token not in caplog.text and control_token not in caplog.text  # ...without the secret


def test_a_superusers_token_has_every_permission(client):
    boss = get_user_model().objects.create_superuser("boss", password="pw-123456789-long")
    plain = tokens.create_token(user=boss, name="desk", scope="control")[1]
    response = client.post("/api/v1/control/resume", **bearer(plain))
    assert response.status_code == 200 and response.json()["by"] == "boss"
