"""Choosing the language: saved preference > cookie > Accept-Language > COINPILOT_LANGUAGE."""

import pytest
from django.conf import settings
from django.contrib.auth.models import User
from django.core.exceptions import ImproperlyConfigured

from core import i18n
from core.models import UserPreference


@pytest.fixture
def operator(db):
    return User.objects.create_user("jisoo", password="pw-1234-abcd")


def page_language(response) -> str:
    html = response.content.decode()
    return html.split('<html lang="', 1)[1].split('"', 1)[0]


def test_the_browser_language_decides_without_a_preference(client, operator):
    client.force_login(operator)
    korean = client.get("/risk/", HTTP_ACCEPT_LANGUAGE="ko-KR,ko;q=0.9,en;q=0.5")
    assert page_language(korean) == "ko" and korean["Content-Language"] == "ko"
    english = client.get("/risk/", HTTP_ACCEPT_LANGUAGE="en-US,en;q=0.9")
    assert page_language(english) == "en"
    # A language CoinPilot does not speak falls back to the configured default.
    assert page_language(client.get("/risk/", HTTP_ACCEPT_LANGUAGE="fr-FR")) == settings.LANGUAGE_CODE


def test_the_menu_saves_the_choice_on_the_user(client, operator):
    client.force_login(operator)
    response = client.post("/language/", {"language": "ko", "next": "/history/?page=2"})
    assert response.status_code == 302 and response["Location"] == "/history/?page=2"
    assert response.cookies[settings.LANGUAGE_COOKIE_NAME].value == "ko"
    assert UserPreference.language_of(operator) == "ko"
    # The saved choice wins over the browser's wish.
    assert page_language(client.get("/risk/", HTTP_ACCEPT_LANGUAGE="en")) == "ko"
    client.post("/language/", {"language": "en"})
    assert UserPreference.objects.get(user=operator).language == "en"


def test_the_preference_follows_the_user_to_another_browser(client, operator):
    UserPreference.objects.create(user=operator, language="ko")
    signed_in = client.post("/login/", {"username": "jisoo", "password": "pw-1234-abcd"})  # a fresh browser
    assert signed_in.status_code == 302
    assert page_language(client.get("/risk/", HTTP_ACCEPT_LANGUAGE="en")) == "ko"


def test_before_sign_in_the_cookie_holds_the_choice(client, db):
    response = client.post("/language/", {"language": "ko", "next": "/login/"})
    assert response.status_code == 302
    assert not UserPreference.objects.exists()
    login = client.get("/login/", HTTP_ACCEPT_LANGUAGE="en")
    assert page_language(login) == "ko"
    assert 'id="language-menu"' in login.content.decode()


@pytest.mark.parametrize("language", ["fr", "", "ko'; --", "x" * 200])
def test_an_unknown_language_is_refused_and_nothing_is_stored(client, operator, language):
    client.force_login(operator)
    response = client.post("/language/", {"language": language})
    assert response.status_code == 400
    assert "choose one of ko, en" in response.content.decode()
    assert not UserPreference.objects.exists()
    assert settings.LANGUAGE_COOKIE_NAME not in response.cookies


def test_next_may_not_leave_the_site(client, operator):
    client.force_login(operator)
    response = client.post("/language/", {"language": "en", "next": "https://evil.example/steal"})
    assert response["Location"] == "/"


def test_the_language_menu_is_on_every_page(client, operator):
    client.force_login(operator)
    html = client.get("/risk/").content.decode()
    assert 'id="language-menu"' in html and 'value="ko"' in html and "한국어" in html


@pytest.mark.parametrize(("raw", "code"), [("ko", "ko"), ("ko-KR", "ko"), ("EN", "en"), ("en_US", "en")])
def test_language_settings_read_common_spellings(raw, code):
    assert i18n.parse_language(raw, "COINPILOT_LANGUAGE") == code


def test_an_unknown_language_setting_says_what_to_set():
    with pytest.raises(ImproperlyConfigured, match="COINPILOT_LANGUAGE='jp'.*ko and en"):
        i18n.parse_language("jp", "COINPILOT_LANGUAGE")
