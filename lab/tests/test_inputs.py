"""Every refusal of a study request, all at once, in a trader's words; nothing stored or started."""

from datetime import datetime
from decimal import Decimal
from io import StringIO

import pytest
from django.core.management import CommandError, call_command
from django.db import connection

from lab.inputs import default_space, parse_param, request_errors, table_range
from lab.models import Study
from lab.study import StudyRefused, create_study
from trading.risk import KST

from .helpers import request, store_week

pytestmark = pytest.mark.django_db
BACKFILL = "backfill them first (manage.py backfill)"


@pytest.fixture
def week():
    store_week("KRW-BTC")


def refusals(**changes) -> list[str]:
    return request_errors(request(**changes))


def test_a_good_request_passes(week):
    assert refusals() == []


@pytest.mark.parametrize(
    ("space", "expected"),
    [
        ({"SIDEWAYS.rsi_14_max": {"low": 30, "high": 120, "step": 5}},
         "SIDEWAYS.rsi_14_max: SIDEWAYS.rsi_14_max is 120, an RSI level must be between 0 and 100"),
        ({"SIDEWAYS.stop_loss_pct": {"low": 0, "high": 3, "step": 0.5}},
         "SIDEWAYS.stop_loss_pct: SIDEWAYS.stop_loss_pct must be above 0%"),
        ({"SIDEWAYS.rsi_14_max": {"low": 60, "high": 30, "step": 5}},
         "SIDEWAYS.rsi_14_max: the range 60 to 30 is empty; the low end must be below the high end"),
        ({"SIDEWAYS.rsi_7_lookback": {"low": 5, "high": 30, "step": 2.5}},
         "SIDEWAYS.rsi_7_lookback counts whole bars: the step must be whole, not 2.5"),
        ({"SIDEWAYS.ma_filter": {"choices": ["above", "sideways"]}},
         "SIDEWAYS.ma_filter: sideways is not one of above, proximity_or_above, none"),
        ({"SIDEWAYS.bb_enabled": {"choices": []}},
         "SIDEWAYS.bb_enabled: the choice list is empty; try some of no, yes"),
        ({"SIDEWAYS.rsi_15_max": {"low": 1, "high": 2, "step": 1}},
         "SIDEWAYS.rsi_15_max: unknown parameter 'rsi_15_max' (manage.py strategy_params lists them)"),
        ({"CRASH.rsi_14_max": {"low": 30, "high": 60, "step": 5}},
         "CRASH.rsi_14_max: unknown regime 'CRASH'; the regimes are BULL, SIDEWAYS, BEAR"),
        ({"BULL.rsi_14_max": {"low": 30, "high": 60, "step": 5}},
         "BULL.rsi_14_max: BULL is not among the regimes to tune (SIDEWAYS)"),
        ({}, "name at least one parameter to tune, e.g. SIDEWAYS.rsi_14_max=30:60"),
    ],
)  # fmt: skip
def test_a_range_outside_the_table_or_empty_is_refused(week, space, expected):
    assert refusals(space=space) == [expected]


def test_more_trials_than_the_maximum_are_refused(week, settings):
    settings.LAB_MAX_TRIALS = 50
    assert refusals(n_trials=51) == ["51 trials asked: from 1 to 50 (LAB_MAX_TRIALS)"]
    assert refusals(n_trials=0) == ["0 trials asked: from 1 to 50 (LAB_MAX_TRIALS)"]


def test_a_range_without_data_and_an_unknown_symbol_are_refused(week):
    empty = refusals(start=datetime(2019, 1, 1, tzinfo=KST), end=datetime(2019, 2, 1, tzinfo=KST))
    assert empty == [f"no candles stored for KRW-BTC between 2019-01-01 and 2019-02-01: {BACKFILL}"]
    unknown = refusals(symbols=["KRW-BTC", "KRW-NOPE", "BTC"])
    assert unknown[0].startswith("BTC ")  # not a KRW market name
    assert unknown[1:] == [f"no candles stored for KRW-NOPE between 2018-01-26 and 2018-02-01: {BACKFILL}"]


def test_objectives_regimes_fee_and_versions_are_checked(week):
    assert refusals(objectives=["sharpe", "sharpe"]) == [
        "the two objectives are both sharpe: choose two different figures"
    ]
    assert refusals(objectives=["alpha"])[0].startswith(
        "unknown objective 'alpha': choose from sharpe, sortino"
    )
    assert refusals(fee_pct=Decimal("0.01"))[0].startswith("fee 0.01 % per fill: from Upbit's 0.05 % to 1 %")
    assert refusals(force_regime="BULL") == [
        "with every bar treated as BULL only BULL parameters are used: tune BULL alone"
    ]
    assert refusals(base_version=99) == ["strategy config version 99 does not exist"]


def test_ranges_of_a_pair_that_can_never_be_in_order_are_refused(week):
    both = {"SIDEWAYS.stop_loss_pct": {"low": 5, "high": 6, "step": 0.5},
            "SIDEWAYS.take_profit_pct": {"low": 1, "high": 2, "step": 0.5}}  # fmt: skip
    assert refusals(space=both) == [
        "SIDEWAYS: stop_loss_pct (at least 5) can never be at or below take_profit_pct (at most 2): "
        "no trial could run; widen or move the ranges"
    ]
    one = {"SIDEWAYS.rsi_7_recover": {"low": 20, "high": 30, "step": 5}}  # the base trigger is 30
    assert refusals(space=one) == [
        "SIDEWAYS: rsi_7_trigger (at least 30) can never be below rsi_7_recover (at most 30) in the base "
        "version: no trial could run; widen or move the ranges"
    ]


def test_every_problem_is_listed_at_once_and_nothing_is_stored(week):
    bad = request(
        n_trials=10**6,
        space={"SIDEWAYS.rsi_14_max": {"low": 60, "high": 30, "step": 5}},
        symbols=["KRW-NOPE"],
    )
    with pytest.raises(StudyRefused) as refused:
        create_study(bad)
    assert len(refused.value.messages) == 3
    assert Study.objects.count() == 0
    assert "studies" not in connection.introspection.table_names() or _optuna_studies() == 0


def _optuna_studies() -> int:
    with connection.cursor() as cursor:
        cursor.execute("SELECT COUNT(*) FROM studies")
        return cursor.fetchone()[0]


def test_parameters_are_read_as_the_command_writes_them():
    assert parse_param("sideways.rsi_14_max=30:60") == (
        "SIDEWAYS.rsi_14_max",
        {"low": 30, "high": 60, "step": 5},
        "",
    )  # the table's step
    assert parse_param("BEAR.take_profit_pct=1:3.5:0.25") == (
        "BEAR.take_profit_pct",
        {"low": 1, "high": 3.5, "step": 0.25},
        "",
    )
    assert parse_param("BEAR.ma_filter=above,none")[1] == {"choices": ["above", "none"]}
    assert parse_param("BULL.bb_enabled=yes,no")[1] == {"choices": [True, False]}
    assert parse_param("BULL.stop_loss_pct") == ("BULL.stop_loss_pct", table_range("stop_loss_pct"), "")
    assert (
        parse_param("BULL.stop_loss_pct=a:b")[2]
        == "BULL.stop_loss_pct: 'a:b' is not a range LOW:HIGH or LOW:HIGH:STEP of numbers"
    )
    assert parse_param("rsi_14_max=30:60")[2].startswith(
        "'rsi_14_max=30:60' is not REGIME.parameter=LOW:HIGH"
    )
    assert set(default_space(["BEAR"])) == {
        "BEAR.rsi_14_max", "BEAR.rsi_7_trigger", "BEAR.rsi_7_recover", "BEAR.take_profit_pct",
        "BEAR.stop_loss_pct", "BEAR.trailing_stop_pct",
    }  # fmt: skip


def optimize(*args: str) -> str:
    out = StringIO()
    call_command("optimize", *args, stdout=out)
    return out.getvalue()


def test_the_command_refuses_bad_arguments_and_stores_nothing(week, settings):
    settings.LAB_MAX_TRIALS = 100
    with pytest.raises(CommandError) as refused:
        optimize(
            "--symbols", "KRW-BTC", "--from", "2018-01-26", "--to", "2018-01-20", "--trials", "500",
            "--param", "SIDEWAYS.rsi_14_max=30:120", "--objective", "alpha",
        )  # fmt: skip
    text = str(refused.value)
    assert text.startswith("the study was refused, nothing stored:")
    for part in ("unknown objective 'alpha'", "500 trials asked: from 1 to 100", "must be between 0 and 100",
                 "the end date must be after the start date"):  # fmt: skip
        assert part in text, part
    with pytest.raises(CommandError) as refused:
        optimize(
            "--symbols", "KRW-BTC", "--from", "2018-01-26", "--to", "2018-02-01",
            "--param", "SIDEWAYS.nope=1:2", "--param", "SIDEWAYS.rsi_14_max=60:30",
        )  # fmt: skip
    assert str(refused.value).splitlines()[1:] == [
        "  SIDEWAYS.nope: unknown parameter 'nope' (manage.py strategy_params lists them)",
        "  SIDEWAYS.rsi_14_max: the range 60 to 30 is empty; the low end must be below the high end",
    ]
    assert Study.objects.count() == 0
