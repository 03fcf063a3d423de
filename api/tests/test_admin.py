"""Tokens are created in the admin: the plain token shown on one page, only its hash stored."""

import hashlib
import re

import pytest
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Permission
from django.contrib.sessions.models import Session

from api.models import AccessToken

pytestmark = pytest.mark.django_db
ADD = "/admin/api/accesstoken/add/"


@pytest.fixture
def boss(client):
    user = get_user_model().objects.create_superuser("boss", password="pw-123456789-long")
    client.force_login(user)
    return user


def test_the_token_is_shown_once_and_only_its_hash_is_stored(client, boss):
    response = client.post(ADD, {"user": boss.pk, "name": "phone", "scope": "control"})
    assert response.status_code == 200
    html = response.content.decode()
    plain = re.search(r'<code id="api-token"[^>]*>(cp_[A-Za-z0-9_-]{43})</code>', html).group(1)
    assert "copy it now, it is not shown again" in html
    token = AccessToken.objects.get()
    assert token.digest == hashlib.sha256(plain.encode()).hexdigest() and token.prefix == plain[:10]
    assert plain not in str(list(AccessToken.objects.values()))  # no column holds it
    assert not any(plain in s.session_data for s in Session.objects.all())  # nor the session...
    assert not any(plain in c.value for c in response.cookies.values())  # ...nor a message cookie
    # Never again: not on the list, not on its page.
    for page in (
        client.get("/admin/api/accesstoken/"),
        client.get(f"/admin/api/accesstoken/{token.pk}/change/"),
    ):
        assert (
            page.status_code == 200
            and plain not in page.content.decode()
            and token.prefix in page.content.decode()
        )
    # And it works.
    assert client.get("/api/v1/status", HTTP_AUTHORIZATION=f"Bearer {plain}").status_code == 200


def test_revoking_stops_the_token_and_the_list_shows_last_use(client, boss):
    created = client.post(ADD, {"user": boss.pk, "name": "phone", "scope": "read"}).content.decode()
    plain = re.search(r"(cp_[A-Za-z0-9_-]{43})", created).group(1)
    token = AccessToken.objects.get()
    unused = client.get("/admin/api/accesstoken/").content.decode()
    assert '<td class="field-last_used_at nowrap">-</td>' in unused
    assert client.get("/api/v1/positions", HTTP_AUTHORIZATION=f"Bearer {plain}").status_code == 200
    used = client.get("/admin/api/accesstoken/").content.decode()
    assert '<td class="field-last_used_at nowrap">-</td>' not in used and "field-last_used_at" in used
    response = client.post(
        "/admin/api/accesstoken/", {"action": "revoke", "_selected_action": [token.pk]}, follow=True
    )
    assert "1 token revoked" in response.content.decode()
    token.refresh_from_db()
    assert token.revoked_at is not None
    assert client.get("/api/v1/positions", HTTP_AUTHORIZATION=f"Bearer {plain}").status_code == 401


def test_a_control_token_needs_a_user_allowed_to_change_trading_controls(client, boss):
    clerk = get_user_model().objects.create_user("clerk", password="pw-123456789-long")
    response = client.post(ADD, {"user": clerk.pk, "name": "x", "scope": "control"})
    assert (
        response.status_code == 200 and "clerk may not change trading controls" in response.content.decode()
    )
    assert not AccessToken.objects.exists()
    client.post(ADD, {"user": clerk.pk, "name": "x", "scope": "read"})
    assert AccessToken.objects.get().scope == "read"


def test_staff_create_tokens_only_for_themselves(client):
    staff = get_user_model().objects.create_user("staff", password="pw-123456789-long", is_staff=True)
    staff.user_permissions.add(
        *Permission.objects.filter(codename__in=["add_accesstoken", "view_accesstoken"])
    )
    boss = get_user_model().objects.create_superuser("boss", password="pw-123456789-long")
    client.force_login(staff)
    response = client.post(ADD, {"user": boss.pk, "name": "x", "scope": "read"})
    assert "you may create tokens only for yourself" in response.content.decode()
    assert not AccessToken.objects.exists()
    assert client.post(ADD, {"user": staff.pk, "name": "mine", "scope": "read"}).status_code == 200
    assert AccessToken.objects.get().user == staff
