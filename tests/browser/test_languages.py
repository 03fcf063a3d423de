"""Every page in Korean and in English, in a real browser.

One Chromium per language, its locale set as a Korean or an English operator's browser is (it sends
Accept-Language and nothing else chooses): the page's lang attribute follows, the page's own words
(navigation, headings, table headers, labels, buttons) carry no English in Korean, money carries the
language's unit, and no script error shows. Screenshots go to $COINPILOT_SCREENSHOTS/<language>/.
Also: the language menu switches a signed-in operator's pages and the choice outlives the session.
"""

import re
from datetime import timedelta

import pytest
from django.contrib.auth import get_user_model
from django.http import QueryDict
from django.utils import timezone

from lab import storage
from lab.form import default_form as lab_default_form
from lab.form import read_form as read_study_form
from lab.study import create_study, start_study
from tests.test_i18n import CODE, SAME_IN_EVERY_LANGUAGE
from trading.backtest_runs import parse_form as parse_backtest_form
from trading.backtest_runs import start_run
from trading.models import StrategyConfig

from .conftest import LOGIN_BUTTON, WAIT_MS, chromium, other_threads, shoot
from .test_pages import market_data  # noqa: F401  (the fixture: candles, a regime, trades)
from .test_security import watch_console

LOCALES = {"ko": "ko-KR", "en": "en-US"}
USERNAME = "operator"
# The page's own words: where a Korean operator must not meet English (data cells may hold codes).
CHROME = "nav a, h1, h2, h3, th, label, legend, summary, button, .kpi + small, footer"
# Beyond the templates' list of words that read the same in both languages (tests/test_i18n.py): what a
# rendered page adds (ratio and library names, the language menu's "English", the time zone's name),
# version tags (v2) and dotted lower-case names.
ALSO_SAME = {"Sharpe", "Sortino", "Calmar", "Optuna", "English", "Django-RQ", "Asia", "Seoul", "bps"}
VERSION_OR_KEY = re.compile(r"^(v\d+|[a-z_]+\.[a-z_.]+)$")
ENGLISH_WORDS = """() => [...document.querySelectorAll(arguments_selector)]
  .filter((el) => el.offsetParent !== null || el.tagName === "FOOTER")
  .map((el) => el.innerText.trim()).filter(Boolean)"""


@pytest.fixture
def every_page(market_data, run_jobs):  # noqa: F811
    """The seeded market (candles, trades), plus a finished backtest and a finished Lab study: the
    pages that show a result have one."""
    today = timezone.localdate()
    form = {"symbol": "KRW-BTC", "from": str(today - timedelta(days=2)), "to": str(today)}
    request, errors = parse_backtest_form(form)
    assert errors == []
    run_id = start_run(request)
    run_jobs("default")
    lab_form = QueryDict(mutable=True)
    chosen = {"symbols": "KRW-BTC", "from": form["from"], "to": form["to"], "force_regime": "SIDEWAYS"}
    for key, value in {**lab_default_form(timezone.now()), **chosen, "trials": 3, "min_trades": 1}.items():
        lab_form.setlist(key, [str(v) for v in value] if isinstance(value, list) else [str(value)])
    lab_form.setlist("regimes", ["SIDEWAYS"])
    lab_form["params"] = "SIDEWAYS.rsi_14_max=45:70:5"
    study_request, errors = read_study_form(lab_form)
    assert errors == []
    study = create_study(study_request)
    start_study(study)
    run_jobs("lab")  # a real rq worker (in this process) runs the trials and writes the report
    active_config = StrategyConfig.objects.get(is_active=True)
    yield {
        "overview": "/",
        "market": "/market/?symbol=KRW-BTC&range=3d",
        "risk": "/risk/",
        "history": "/history/",
        "system": "/system/",
        "exits": "/exits/",
        "backtest-form": "/backtest/",
        "backtest": f"/backtest/{run_id}/",
        "lab-form": "/lab/",
        "lab-report": f"/lab/{study.pk}/",
        "ask": "/ask/",
        "admin": "/admin/",
        "admin-trades": "/admin/trading/trade/",
        "admin-strategy": f"/admin/trading/strategyconfig/{active_config.pk}/change/",
    }
    storage.forget_storages()  # Optuna's own connections: closed so the test database can be dropped


def reads_the_same(word: str) -> bool:
    return bool(
        word in SAME_IN_EVERY_LANGUAGE or word in ALSO_SAME or CODE.match(word) or VERSION_OR_KEY.match(word)
    )


def english_in(texts: list[str]) -> list[str]:
    """The texts that still hold an English word (not a name, code or unit)."""
    return [
        text[:90]
        for text in texts
        if any(
            not reads_the_same(word)
            for word in re.findall(r"[A-Za-z][A-Za-z'._-]*[A-Za-z]|[A-Za-z]", text)
            if len(word) > 1
        )
    ]


def chrome_texts(tab) -> list[str]:
    """The page's own words, without the signed-in user's name (data, like a symbol)."""
    texts = tab.evaluate(ENGLISH_WORDS.replace("arguments_selector", repr(CHROME)))
    return [text.replace(USERNAME, "") for text in texts]


def watch_requests(tab) -> set[str]:
    """The requests the page has sent and not yet seen answered (or failed), as they come and go."""
    pending: set[str] = set()
    tab.on("request", lambda request: pending.add(f"{request.method} {request.url}"))
    for event in ("requestfinished", "requestfailed"):
        tab.on(event, lambda request: pending.discard(f"{request.method} {request.url}"))
    return pending


@pytest.mark.parametrize("language", ["ko", "en"])
def test_every_page_in_each_language(live_server, every_page, language):
    from playwright.sync_api import TimeoutError as PlaywrightTimeout

    get_user_model().objects.create_superuser(USERNAME, password="operator-pass-123")
    with chromium() as browser:
        context = browser.new_context(locale=LOCALES[language], viewport={"width": 1400, "height": 1000})
        context.set_default_timeout(WAIT_MS)
        tab = context.new_page()
        problems = watch_console(tab)
        pending = watch_requests(tab)
        tab.goto(f"{live_server.url}/login/")
        assert tab.evaluate("document.documentElement.lang") == language
        shoot(tab, f"{language}/login")
        tab.fill("#id_username", USERNAME)
        tab.fill("#id_password", "operator-pass-123")
        tab.click(LOGIN_BUTTON)
        tab.wait_for_url(f"{live_server.url}/")
        untranslated = {}
        for name, url in every_page.items():
            response = tab.goto(live_server.url + url)
            assert response.status == 200, url
            try:
                tab.wait_for_load_state("networkidle")
            except PlaywrightTimeout:  # name the page: a script that never stops fetching is a defect
                pytest.fail(f"{url}: still fetching after {WAIT_MS} ms: {sorted(pending)}\n{other_threads()}")
            assert tab.evaluate("document.documentElement.lang") == language, url
            if language == "ko":
                found = english_in(chrome_texts(tab))
                if found:
                    untranslated[url] = found
            shoot(tab, f"{language}/{name}")
        kpi = tab.goto(live_server.url + "/") and tab.inner_text("#kpi-equity")
        assert kpi.endswith("원" if language == "ko" else "KRW") and re.search(r"\d{1,3}(,\d{3})+", kpi), kpi
        assert tab.inner_text("nav a[href='/']") == ("개요" if language == "ko" else "Overview")
        assert untranslated == {}, "English words on Korean pages:\n" + "\n".join(
            f"{url}: {texts}" for url, texts in untranslated.items()
        )
        assert problems == []


def test_the_language_menu_switches_and_the_choice_stays(page, market_data):  # noqa: F811
    """An operator whose browser asks for English picks 한국어: every page follows, also after signing
    in again from a browser with no cookie."""
    page.goto(page.base + "/risk/")
    assert page.evaluate("document.documentElement.lang") == "en"
    page.click("#language-menu button[value=ko]")
    page.wait_for_url("**/risk/")
    assert page.evaluate("document.documentElement.lang") == "ko"
    assert page.inner_text("nav a[href='/risk/']") == "리스크"
    page.goto(page.base + "/history/")
    assert page.evaluate("document.documentElement.lang") == "ko"

    page.context.clear_cookies()  # another browser: only the saved preference remembers
    page.goto(page.base + "/login/")
    assert page.evaluate("document.documentElement.lang") == "en"
    page.fill("#id_username", "browser")
    page.fill("#id_password", "browser-pass-123")
    page.click(LOGIN_BUTTON)
    page.wait_for_url(page.base + "/")
    assert page.evaluate("document.documentElement.lang") == "ko"
