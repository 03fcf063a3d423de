"""Walk-forward runs on the real KRW-BTC week: folds stored with their ranges, run in this process
and on the `lab` queue, each scored on its out-of-sample bars alone, joined into one history;
refused when the range is too short, storing nothing."""

from datetime import UTC, datetime, timedelta
from io import StringIO

import numpy as np
import optuna
import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.utils import timezone

from lab import trials
from lab.folds import walk_forward_folds
from lab.models import Study
from lab.storage import optuna_storage
from lab.study import StudyRefused, run_trials, start_study
from lab.walkforward import (
    cancel_walk_forward,
    chosen_values,
    create_walk_forward,
    fold_studies,
    out_of_sample_view,
    parameter_stability,
    run_walk_forward,
    start_walk_forward,
    walk_forward_report,
)
from market.models import Candle
from trading.performance import daily_returns, max_drawdown_pct, sharpe

from .helpers import END, START, request, store_week

pytestmark = pytest.mark.django_db(transaction=True)  # Optuna writes through its own connection


@pytest.fixture(autouse=True)
def week():
    store_week("KRW-BTC")


def small(**changes):
    return request(**({"n_trials": 3, "min_trades": 1} | changes))


def epoch(iso: str) -> int:
    return int(datetime.fromisoformat(iso).timestamp())


def test_a_run_stores_one_study_per_fold_over_its_in_sample_part():
    parent = create_walk_forward(small(), folds=3, anchored=True, ratio=2.0)
    expected = walk_forward_folds(START, END, 3, anchored=True, ratio=2.0)
    folds = fold_studies(parent)
    assert (parent.walk_forward, parent.anchored, parent.ratio, parent.parent_id) == (3, True, 2.0, None)
    assert (parent.start, parent.end) == (START, END)
    assert [f.fold_index for f in folds] == [1, 2, 3]
    for fold, part in zip(folds, expected, strict=True):
        assert (fold.start, fold.end) == (part.in_sample_start, part.in_sample_end)
        assert (fold.out_of_sample_start, fold.out_of_sample_end) == (
            part.out_of_sample_start, part.out_of_sample_end,
        )  # fmt: skip
        assert (fold.space, fold.n_trials, fold.seed, fold.force_regime) == (
            parent.space, 3, parent.seed, "SIDEWAYS",
        )  # fmt: skip
        assert fold.status == Study.Status.QUEUED


def test_an_inline_run_scores_every_fold_out_of_sample_and_joins_them():
    parent = create_walk_forward(small(), folds=2)
    run_walk_forward(parent)
    report = walk_forward_report(parent)
    assert report["status"] == Study.Status.DONE, report
    assert [f["index"] for f in report["folds"]] == [1, 2]
    for row in report["folds"]:
        assert row["scored"] and row["params"] and set(row["params"]) == set(parent.space)
        assert row["in_sample_metrics"]["trades"] >= 1 and row["in_sample_objective"] is not None
        assert set(row["out_of_sample_metrics"]) >= set(trials.REPORTED)
    combined = report["combined"]
    first_oos = epoch(report["folds"][0]["out_of_sample"]["start"])
    assert combined["start"] == report["folds"][0]["out_of_sample"]["start"]
    assert combined["end"] == report["folds"][-1]["out_of_sample"]["end"] == END.astimezone(UTC).isoformat()
    assert combined["curve"][0] == [first_oos, 1.0]
    times = [t for t, _ in combined["curve"]]
    assert times == sorted(times) and times[-1] < epoch(combined["end"])
    # compounding: the combined return is the folds' returns one after the other
    growth = 1.0
    for row in report["folds"]:
        growth *= 1 + row["out_of_sample_metrics"]["total_return_pct"] / 100
    assert combined["total_return_pct"] == pytest.approx((growth - 1) * 100, abs=1e-3)
    assert combined["max_drawdown_pct"] >= max(
        row["out_of_sample_metrics"]["max_drawdown_pct"] for row in report["folds"]
    )
    assert combined["trades"] == sum(row["out_of_sample_metrics"]["trades"] for row in report["folds"])
    assert [p["name"] for p in report["parameters"]] == list(parent.space)
    for row in report["parameters"]:
        assert len(row["values"]) == 2 and row["verdict"] in ("stable", "drifts", "jumps around")
    parent.refresh_from_db()
    assert parent.result["combined"]["total_return_pct"] == combined["total_return_pct"]


def test_out_of_sample_scoring_trades_only_inside_the_out_of_sample_range():
    parent = create_walk_forward(small(), folds=3)
    run_walk_forward(parent)
    joined_ts, joined, scale = [], [], 1.0
    for fold in fold_studies(parent):
        data = trials.load_study_data(out_of_sample_view(fold))
        result = trials.backtest_result(data, trials.overlay(data.base, chosen_values(fold), fold.symbols))
        start, end = (int(t.timestamp()) for t in (fold.out_of_sample_start, fold.out_of_sample_end))
        assert result.ts[0] == start and result.ts[-1] < end  # decisions: the out-of-sample bars only
        assert result.trades, "the week has trades in every fold"
        for trade in result.trades:
            assert start <= trade.entry_at < end
            assert trade.exit_at is None or trade.exit_at <= end
        # the stored score is this very backtest
        assert fold.result["out_of_sample"]["metrics"]["trades"] == result.stats["trades"]
        factor = result.equity / float(result.options.initial_krw)
        joined_ts += list(result.ts)
        joined += list(scale * factor)
        scale *= factor[-1]
    # the combined figures from the stored hourly marks equal those of the joined minute curve
    combined = walk_forward_report(parent)["combined"]
    ts, equity = np.array(joined_ts), np.array(joined)
    assert combined["max_drawdown_pct"] == pytest.approx(max_drawdown_pct(equity), abs=1e-4)
    assert combined["sharpe"] == pytest.approx(sharpe(daily_returns(ts, equity, 1.0)), rel=1e-5)
    assert combined["total_return_pct"] == pytest.approx((scale - 1) * 100, abs=1e-4)


def test_a_fold_whose_scorer_was_killed_is_scored_by_the_next_look():
    parent = create_walk_forward(small(), folds=2)
    run_walk_forward(parent)
    fold = fold_studies(parent)[1]
    score = fold.result.pop("out_of_sample")  # as if the worker died between done and scored
    Study.objects.filter(pk=fold.pk).update(result=fold.result)
    Study.objects.filter(pk=parent.pk).update(status=Study.Status.RUNNING, result={})
    assert walk_forward_report(parent)["status"] == Study.Status.RUNNING  # within the grace
    Study.objects.filter(pk=fold.pk).update(finished_at=timezone.now() - timedelta(minutes=11))
    report = walk_forward_report(parent)
    assert report["status"] == Study.Status.DONE and report["combined"] is not None
    assert report["folds"][1]["out_of_sample_metrics"] == score["metrics"]


def test_folds_run_in_parallel_on_the_lab_queue(run_jobs):
    parent = create_walk_forward(small(), folds=2, anchored=True)
    with pytest.raises(ValueError, match="start_walk_forward"):
        start_study(parent)  # the parent has no trials of its own
    start_walk_forward(parent)
    assert parent.status == Study.Status.RUNNING
    run_jobs("lab")
    report = walk_forward_report(parent)
    assert report["status"] == Study.Status.DONE
    assert all(row["scored"] for row in report["folds"]) and report["combined"] is not None


def test_a_range_too_short_for_the_folds_is_refused_and_nothing_is_stored():
    with pytest.raises(StudyRefused) as refused:
        create_walk_forward(small(), folds=5)
    assert "need" in str(refused.value) and "one-minute bars" in str(refused.value)
    with pytest.raises(StudyRefused, match="choose one objective"):
        create_walk_forward(small(objectives=["total_return", "max_drawdown"]), folds=2)
    assert not Study.objects.exists()


def test_a_fold_without_candles_refuses_the_run_and_removes_what_was_stored():
    fold_one = walk_forward_folds(START, END, 2)[0]
    Candle.objects.filter(timestamp__lt=fold_one.in_sample_end).delete()
    names = set(optuna.get_all_study_names(storage=optuna_storage()))
    with pytest.raises(StudyRefused, match="^fold 1: no candles stored for KRW-BTC"):
        create_walk_forward(small(), folds=2)
    assert not Study.objects.exists()
    assert set(optuna.get_all_study_names(storage=optuna_storage())) == names


def test_a_cancelled_run_stops_its_folds():
    parent = create_walk_forward(small(n_trials=50), folds=2)
    fold = fold_studies(parent)[0]
    run_trials(fold, max_trials=2)
    assert cancel_walk_forward(parent) is True
    assert [f.status for f in fold_studies(parent)] == [Study.Status.CANCELLED] * 2
    counts = fold_studies(parent)[0].result["counts"]
    assert counts["complete"] + counts.get("pruned", 0) == 2
    report = walk_forward_report(parent)
    assert report["status"] == Study.Status.CANCELLED and report["combined"] is None
    assert cancel_walk_forward(parent) is False


def command(*extra: str) -> str:
    out = StringIO()
    call_command(
        "optimize", "--symbols", "KRW-BTC", "--from", "2018-01-26", "--to", "2018-02-01T14:00",
        "--trials", "3", "--seed", "7", "--regime", "SIDEWAYS", "--param", "SIDEWAYS.rsi_14_max=35:70",
        "--param", "SIDEWAYS.take_profit_pct=1:4:0.5", "--min-trades", "1", *extra, stdout=out,
    )  # fmt: skip
    return out.getvalue()


def test_the_command_runs_a_walk_forward_inline_and_prints_the_report():
    text = command("--walk-forward", "2", "--ratio", "3", "--inline")
    parent = Study.objects.get(walk_forward=2)
    assert text.startswith(f"walk-forward {parent.pk}: 2 folds (rolling, in-sample 3 x out-of-sample)")
    assert f"walk-forward {parent.pk}: done" in text
    assert "fold 1: in sample 2018-01-26 " in text and "fold 2: " in text
    assert text.count("  out of sample: sharpe ") == 2
    assert "SIDEWAYS.rsi_14_max: " in text and "combined out of sample " in text


def test_the_command_queues_the_folds_for_the_lab_workers(run_jobs):
    text = command("--walk-forward", "2", "--anchored")
    parent = Study.objects.get(walk_forward=2)
    assert "2 folds (anchored, in-sample 3 x out-of-sample)" in text and "folds queued" in text
    assert [f.status for f in fold_studies(parent)] == [Study.Status.QUEUED] * 2
    run_jobs("lab")
    assert walk_forward_report(parent)["status"] == Study.Status.DONE


def test_the_command_refuses_too_many_folds_and_stores_nothing():
    with pytest.raises(CommandError, match="refused, nothing stored:\n  .*need .* days"):
        command("--walk-forward", "5", "--inline")
    assert not Study.objects.exists()


def test_parameter_stability_says_whether_each_chosen_value_held_still():
    chosen = [
        {"SIDEWAYS.rsi_14_max": 40, "SIDEWAYS.take_profit_pct": 1.0, "SIDEWAYS.ma_filter": "above"},
        {"SIDEWAYS.rsi_14_max": 45, "SIDEWAYS.take_profit_pct": 4.0, "SIDEWAYS.ma_filter": "above"},
        {"SIDEWAYS.rsi_14_max": 40, "SIDEWAYS.take_profit_pct": 2.5, "SIDEWAYS.ma_filter": "none"},
    ]
    folds = [Study(result={"out_of_sample": {"params": params}}) for params in chosen]
    space = {
        "SIDEWAYS.rsi_14_max": {"low": 35, "high": 70, "step": 5},
        "SIDEWAYS.take_profit_pct": {"low": 1.0, "high": 4.0, "step": 0.5},
        "SIDEWAYS.ma_filter": {"choices": ["above", "none"]},
    }
    rsi, take_profit, ma_filter = parameter_stability(folds, space)
    assert (rsi["verdict"], rsi["same_value"], rsi["values"]) == ("stable", 2, [40, 45, 40])
    assert rsi["text"] == (
        "SIDEWAYS.rsi_14_max: 40 to 45 over 3 folds (the same value in 2), "
        "14% of the searched 35 to 70: stable"
    )
    assert take_profit["verdict"] == "jumps around" and take_profit["spread_of_range"] == 1.0
    assert ma_filter["text"] == "SIDEWAYS.ma_filter: the same value in 2 of 3 folds: jumps around"


def test_a_fold_whose_trials_all_lacked_trades_leaves_no_combined_history():
    parent = create_walk_forward(small(min_trades=10_000), folds=2)
    run_walk_forward(parent)
    report = walk_forward_report(parent)
    assert report["status"] == Study.Status.DONE and report["combined"] is None
    assert report["combined_missing"].startswith("no combined history: fold(s) 1, 2 chose no parameters")
    assert [row["reason"] for row in report["folds"]] == [
        "no trial had a value in sample (see the n/a reasons)"
    ] * 2
    assert {row["verdict"] for row in report["parameters"]} == {"n/a"}
