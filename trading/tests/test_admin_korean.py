"""The trading admin in Korean and in English: labels, refusals on their field, formatted figures.

Needs the compiled Korean catalog (/tmp/i18n/merge.sh, or `manage.py compilemessages`)."""

import pytest
from django.contrib.auth import get_user_model
from django.urls import reverse
from django.utils import translation

from market import listing
from trading.models import Position, RiskConfig, StrategyConfig
from trading.tests.test_admin_config import change_url, errors_of, form_data
from trading.tests.test_control import held_btc  # noqa: F401  (a fixture)
from trading.tests.test_risk_limits import admin_risk_form
from trading.tests.test_symbols import upbit_list  # noqa: F401  (a fixture)

pytestmark = pytest.mark.django_db

KO = {"HTTP_ACCEPT_LANGUAGE": "ko"}
EN = {"HTTP_ACCEPT_LANGUAGE": "en"}


@pytest.fixture(autouse=True)
def back_to_the_default_language():
    """LocaleMiddleware leaves the request's language active in this thread: later tests read English."""
    yield
    translation.deactivate()


def post_strategy(client, row: StrategyConfig, language: dict, **changes):
    form = client.get(change_url(row), **language).context["adminform"].form
    data = form_data(form) | {"note": "tuning"} | {key: str(value) for key, value in changes.items()}
    return client.post(change_url(row), data, **language)


@pytest.mark.parametrize(
    ("language", "texts"),
    [
        (
            KO,
            [
                "상승장</h2>",
                "익절 (%)",
                "보유 시간 제한 (시간)",
                "RSI(7) 하락 조회 구간 (봉)",
                "이 버전으로 복원",
            ],
        ),
        (EN, ["BULL regime</h2>", "Take profit (%)", "Time limit (hours)", "RSI(7) dip lookback (bars)"]),
    ],
)
def test_the_strategy_form_speaks_the_operators_language(admin_client, language, texts):
    StrategyConfig.objects.filter(version=1).update(is_active=False)  # an old version: "Restore" shows
    page = admin_client.get(change_url(StrategyConfig.objects.get(version=1)), **language).content.decode()
    assert all(text in page for text in texts), [text for text in texts if text not in page]


@pytest.mark.parametrize(
    ("language", "bound", "rule"),
    [
        (
            KO,
            "익절 값이 150.0%입니다. 최대 100%까지 가능합니다",
            "손절(9.0%)이 익절(3.0%)보다 큽니다: 모든 수익이 모든 손실보다 작아집니다",
        ),
        (
            EN,
            "Take profit is 150.0%, it must be at most 100%",
            "Stop loss (9.0%) is larger than take profit (3.0%): every win would be smaller than every loss",
        ),
    ],
)
def test_a_refused_parameter_is_explained_on_its_field_in_either_language(
    admin_client, language, bound, rule
):
    v1 = StrategyConfig.objects.get(version=1)
    response = post_strategy(admin_client, v1, language, BULL__take_profit_pct=150, SIDEWAYS__stop_loss_pct=9)
    assert response.status_code == 200 and StrategyConfig.objects.count() == 1  # nothing stored
    # The field is found from the English words even when the page shows Korean ones.
    assert errors_of(response) == {"BULL__take_profit_pct": [bound], "SIDEWAYS__stop_loss_pct": [rule]}


def test_the_close_confirmation_is_korean_with_formatted_figures(client, held_btc):  # noqa: F811
    client.force_login(get_user_model().objects.create_superuser("boss", password="x-long-password-1"))
    chosen = {"action": "close_at_market", "_selected_action": [Position.objects.get().pk]}
    html = client.post(reverse("admin:trading_position_changelist"), chosen, **KO).content.decode()
    assert "이 포지션들을 시장가로 매도할까요?" in html and "평균 매수가" in html
    # The last close, and 0.0049975 BTC (500,000 KRW less the fee) now worth 502,249 KRW.
    assert "<td>100,500,000</td>" in html and "<td>0.0049975</td>" in html and "502,249원" in html
    english = client.post(reverse("admin:trading_position_changelist"), chosen, **EN).content.decode()
    assert "Sell these positions at market?" in english and "502,249 KRW" in english


def test_the_changelists_show_korean_labels(admin_client):
    page = admin_client.get(reverse("admin:trading_riskconfig_changelist"), **KO).content.decode()
    assert "리스크 한도" in page and "포지션 크기 (%)" in page and "일일 손실 한도 (%)" in page
    page = admin_client.get(reverse("admin:trading_trade_changelist"), **KO).content.decode()
    assert "청산 사유" in page and "시장 국면" in page  # list filter titles from the verbose names


@pytest.mark.parametrize(
    ("language", "weekly", "bound"),
    [
        (
            KO,
            "주간 손실 한도(3%)가 일일 손실 한도(5%)보다 낮습니다. 하루 손실만으로 한 주 거래가 중단됩니다",
            "최소 주문 금액 값이 20,000,000입니다. 허용 최대값: 10,000,000원 "
            "(이보다 크면 거의 모든 진입이 거부됩니다)",
        ),
        (
            EN,
            "Weekly loss limit (3%) is below Daily loss limit (5%): one bad day would halt the week",
            "Minimum order is 20,000,000, it must be at most 10,000,000 KRW (a larger minimum refuses nearly "
            "every entry)",
        ),
    ],
)
def test_a_refused_risk_limit_is_explained_on_its_field_in_either_language(
    admin_client, language, weekly, bound
):
    v1 = RiskConfig.objects.get(version=1)
    data = admin_risk_form(v1, max_weekly_loss_pct="3", min_order_krw="20000000")
    response = admin_client.post(change_url(v1), data, **language)
    assert errors_of(response) == {"max_weekly_loss_pct": [weekly], "min_order_krw": [bound]}
    assert RiskConfig.objects.count() == 1


@pytest.mark.parametrize(
    ("language", "message"),
    [(KO, "KRW-NOPE: 업비트에 없는 원화(KRW) 마켓입니다"), (EN, "KRW-NOPE is not a KRW market on Upbit")],
)
def test_a_symbol_upbit_does_not_list_is_refused_in_either_language(
    admin_client,
    upbit_list,  # noqa: F811
    language,
    message,
):
    v1 = StrategyConfig.objects.get(version=1)
    response = post_strategy(admin_client, v1, language, symbols="KRW-BTC, KRW-NOPE")
    assert errors_of(response) == {"symbols": [message]} and StrategyConfig.objects.count() == 1


def test_a_malformed_symbol_reads_korean():
    with translation.override("ko"):
        assert listing.format_error("BTC") == "BTC: 마켓 이름이 아닙니다. KRW-BTC 형식으로 입력하세요"
        assert listing.format_error("USDT-SOL").startswith(
            "USDT-SOL: 원화(KRW) 마켓이 아니라 USDT 마켓입니다"
        )
    assert listing.format_error("BTC") == "BTC is not a market name: write it as KRW-BTC"
