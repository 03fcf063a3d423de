"""The Lab's pages in Korean and English: the page's words, the stored verdicts and reasons (kept in
English) said in the reader's language, and figures with thousands separators."""

import json

import pytest
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Permission
from django.utils import translation

from lab.lookahead import CheckResult, column_rows
from lab.models import LookaheadCheck
from lab.wording import figure_words, status_label, translate

from .helpers import END, START

pytestmark = pytest.mark.django_db

ROW = {
    "column": "rsi14", "lookahead_ok": True, "lookahead": "no look-ahead at 50 cut points", "cut": None,
    "history_needed": 1200, "window": 1000, "warmup_ok": False,
    "warmup": "needs 1,200 bars of history; its window gives only 1,000", "passed": False,
}  # fmt: skip
RESULT = {
    "KRW-BTC": {
        "bars": 8640, "first": 1516892400, "last": 1517410740, "passed": False, "columns": [ROW],
        "findings": ["too little history: rsi14 computed on 1,000 bars differs from its value with all the "
                     "history; it needs 1,200 bars to agree (1e-9 relative)"],
        "notes": ["look-ahead: 12 columns recomputed at 50 cut points"],
    }
}  # fmt: skip


@pytest.fixture
def trader(client):
    person = get_user_model().objects.create_user("trader", password="pass-123-lab")
    person.user_permissions.add(Permission.objects.get(codename="change_strategyconfig"))
    client.force_login(person)
    return client


def stored_check() -> LookaheadCheck:
    return LookaheadCheck.objects.create(
        symbols=["KRW-BTC"], start=START, end=END, status="done", passed=False, result=RESULT
    )


def test_a_check_reads_in_korean(trader):
    check = stored_check()
    page = trader.get(f"/lab/checks/{check.pk}/", HTTP_ACCEPT_LANGUAGE="ko").content.decode()
    assert "미래 참조·워밍업 검사" in page and 'id="check-status" class="status-done">완료<' in page
    assert "8,640봉" in page  # the count with its separator and the Korean unit
    assert "절단 지점 50곳에서 미래 참조 없음" in page
    assert "이력 1,200봉이 필요하지만 구간은 1,000봉뿐입니다" in page
    assert "일치하려면 1,200봉이 필요합니다" in page and "열 12개를 절단 지점 50곳에서" in page
    assert "no look-ahead" not in page and "Look-ahead and warm-up check" not in page


def test_the_same_check_reads_in_english(trader):
    check = stored_check()
    page = trader.get(f"/lab/checks/{check.pk}/").content.decode()
    assert f"Look-ahead and warm-up check {check.pk}" in page and ">done<" in page
    assert "8,640 bars" in page and "no look-ahead at 50 cut points" in page
    assert "needs 1,200 bars of history; its window gives only 1,000" in page
    assert RESULT["KRW-BTC"]["findings"][0] in page


def test_the_form_and_its_refusals_in_korean(trader):
    form = {"symbols": "KRW-BTC", "from": "2018-01-26", "to": "soon", "regimes": ["SIDEWAYS"],
            "params": "SIDEWAYS.rsi_14_max=35:70:5", "objective": "sharpe", "trials": "0", "seed": "7",
            "fee": "0.05", "slippage": "5", "min_trades": "3"}  # fmt: skip
    page = trader.post("/lab/", form, HTTP_ACCEPT_LANGUAGE="ko").content.decode()
    assert "최적화 연구 시작" in page and "샤프 지수" in page  # the button, an objective's label
    assert "&#x27;종료일&#x27;은(는)" in page and "시도 0회 요청: 1에서" in page
    english = trader.post("/lab/", form).content.decode()
    assert (
        "Start study" in english
        and "&#x27;to&#x27; must be a date" in english
        and "0 trials asked" in english
    )


def test_stored_reasons_and_figures_follow_the_language():
    reason = "n/a: only 7 trades (Monte Carlo needs at least 10)"
    layout = {"title": {"text": "Optimization History Plot"}, "xaxis": {"title": {"text": "Trial"}}}
    figure = {"layout": layout, "data": [{"name": "Objective Value"}]}
    with translation.override("ko"):
        assert translate(reason) == "없음: 거래가 7건뿐입니다 (몬테카를로에는 최소 10건 필요)"
        assert translate("n/a: only 12345 periods for 16 blocks (at least one period per block)").startswith(
            "없음: 블록 16개에 기간이 12,345개뿐입니다"
        )
        korean = figure_words(figure, {})
        assert (
            korean["layout"]["title"]["text"] == "최적화 이력" and korean["data"][0]["name"] == "목표 지표 값"
        )
        assert status_label("running") == "실행 중"
    with translation.override("en"):
        assert translate(reason) == reason and status_label("running") == "running"
        assert figure_words(figure, {})["layout"]["xaxis"]["title"]["text"] == "Trial"
    assert figure["layout"]["title"]["text"] == "Optimization History Plot"  # the stored figure unchanged


def test_every_sentence_a_check_writes_is_translated():
    """lab.lookahead's own sentences, as it writes them, each have a Korean pattern (lab.wording)."""
    result = CheckResult(
        columns=["rsi14", "regime"], cuts=50, history_needed={"rsi14": 20},
        windows={"rsi14": 1000, "regime": 14400},
        lookahead={"rsi14": {"bar": 1516892400, "cut": 1516896000, "value": 1.5, "full": None, "changed": 3,
                             "cuts": 50}},
    )  # fmt: skip
    texts = [t for row in column_rows(result) for t in (row["lookahead"], row["warmup"])]
    with translation.override("ko"):
        for text in texts:
            assert translate(text) != text, text


@pytest.mark.django_db(transaction=True)  # Optuna writes through its own connection
def test_a_study_report_in_korean_and_english(trader):
    from lab.study import create_study, run_trials
    from trading.config import default_strategy, save_strategy_version, strategy_as_dict

    from .helpers import request, store_week

    save_strategy_version(symbols=["KRW-BTC"], params=strategy_as_dict(default_strategy())["regimes"])
    store_week("KRW-BTC")
    study = create_study(request(), None)
    run_trials(study)
    korean = trader.get(f"/lab/{study.pk}/", HTTP_ACCEPT_LANGUAGE="ko").content.decode()
    assert f"최적화 연구 {study.pk}" in korean and "운일까?" in korean and "비활성 버전으로 승격" in korean
    assert "없음: 블록 8개에 기간이" in korean  # the stored reason, said in Korean
    assert "PBO: 인샘플에서 가장 좋아 보인 설정이" in korean
    figures = json.loads(korean.split('id="lab-figures" type="application/json">')[1].split("</script>")[0])
    assert figures["history"]["layout"]["title"]["text"] == "최적화 이력"  # Optuna's title, translated
    english = trader.get(f"/lab/{study.pk}/").content.decode()
    assert (
        "Is it luck?" in english and "periods for 8 blocks" in english and "Optimization history" in english
    )
