"""The Lab page: the form, refusals all at once with nothing stored, the permission to start,
cancel and promote, progress as JSON, the report, and promotion to an inactive version."""

import django_rq
import optuna
import pytest
from django.contrib.admin.models import ADDITION, LogEntry
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Permission

from lab.models import Study
from lab.storage import optuna_storage, quiet
from lab.study import create_study, load_optuna_study, run_trials
from trading.config import default_strategy, save_strategy_version, strategy_as_dict
from trading.models import StrategyConfig

from .helpers import request, store_synthetic, store_week

pytestmark = pytest.mark.django_db(transaction=True)  # Optuna writes through its own connection


def user(name: str, *, may_change: bool):
    person = get_user_model().objects.create_user(name, password="pass-123-lab")
    if may_change:
        person.user_permissions.add(Permission.objects.get(codename="change_strategyconfig"))
    return person


@pytest.fixture
def trader(client):
    client.force_login(user("trader", may_change=True))
    return client


@pytest.fixture
def reader(client):
    client.force_login(user("reader", may_change=False))
    return client


@pytest.fixture
def active():
    return save_strategy_version(symbols=["KRW-BTC"], params=strategy_as_dict(default_strategy())["regimes"])


def form(**changes) -> dict:
    """The form as a trader fills it in for the stored KRW-BTC week, every bar SIDEWAYS."""
    values = {
        "symbols": "KRW-BTC", "from": "2018-01-26", "to": "2018-02-01", "regimes": ["SIDEWAYS"],
        "params": "SIDEWAYS.rsi_14_max=35:70:5\nSIDEWAYS.take_profit_pct=1:4:0.5", "objective": "sharpe",
        "objective2": "", "trials": "4", "seed": "7", "fee": "0.05", "slippage": "5", "min_trades": "3",
        "force_regime": "SIDEWAYS", "config": "", "walk_forward": "", "folds_kind": "rolling", "ratio": "3",
    }  # fmt: skip
    return values | changes


def optuna_studies() -> set[str]:
    return set(optuna.get_all_study_names(storage=optuna_storage()))


@pytest.fixture
def nothing_stored():
    """A check that neither a study row nor an Optuna study was stored since the test began
    (Optuna's tables are not Django's: earlier tests' studies stay in them)."""
    before = optuna_studies()
    return lambda: not Study.objects.exists() and optuna_studies() == before


def test_the_form_starts_with_the_usual_parameters_and_their_ranges(trader, active):
    page = trader.get("/lab/").content.decode()
    assert 'href="/lab/"' in page and ">Lab</a>" in page  # the nav link
    assert "SIDEWAYS.rsi_14_max=35:70:5" in page and "BEAR.trailing_stop_pct=0.5:4.0:0.25" in page
    assert 'value="KRW-BTC"' in page  # the active version's symbols
    assert "No study yet." in page


def test_starting_needs_the_permission_to_change_strategy_configs(reader, active, nothing_stored):
    store_week("KRW-BTC")
    response = reader.post("/lab/", form())
    assert response.status_code == 403
    assert "needs the permission to change strategy configs" in response.content.decode()
    assert nothing_stored()
    assert "starting one needs the permission" in reader.get("/lab/").content.decode()


def test_every_refusal_shows_at_once_and_nothing_is_stored(trader, active, nothing_stored):
    store_week("KRW-BTC")
    response = trader.post(
        "/lab/",
        form(symbols="BTC, KRW-BTC", trials="many", fee="0.01", objective2="sharpe",
             params="SIDEWAYS.rsi_14_max=70:35\nSIDEWAYS.no_such=1:2\nBEAR.take_profit_pct=1:2"),
    )  # fmt: skip
    page = response.content.decode()
    assert response.status_code == 400
    for words in (
        "BTC is not a market name",
        "the number of trials must be a whole number, not &#x27;many&#x27;",
        "fee 0.01 % per fill",
        "the two objectives are both sharpe",
        "SIDEWAYS.rsi_14_max: the range 35 to 70",
        "unknown parameter &#x27;no_such&#x27;",
        "BEAR is not among the regimes to tune",
    ):
        assert words in page or words.replace("35 to 70", "70 to 35") in page, words
    assert "SIDEWAYS.no_such=1:2" in page  # the refused request stays in the form
    assert nothing_stored()


def test_unreadable_dates_are_refused_with_the_rest(trader, active, nothing_stored):
    response = trader.post("/lab/", form(**{"from": "yesterday", "trials": "0"}))
    page = response.content.decode()
    assert response.status_code == 400
    assert "&#x27;from&#x27; must be a date" in page and "0 trials asked" in page
    assert nothing_stored()


def test_a_study_starts_from_the_form_on_the_lab_queue_and_reports_its_progress(trader, active):
    store_week("KRW-BTC")
    response = trader.post("/lab/", form())
    study = Study.objects.get()
    assert response.status_code == 302 and response["Location"] == f"/lab/{study.pk}/"
    assert study.created_by.username == "trader" and study.space["SIDEWAYS.take_profit_pct"]["step"] == 0.5
    assert django_rq.get_queue("lab").count >= 1  # the workers' jobs
    state = trader.get(f"/lab/{study.pk}.json").json()
    assert (state["status"], state["done"], state["total"], state["finished"]) == ("queued", 0, 4, False)
    page = trader.get(f"/lab/{study.pk}/").content.decode()
    assert "Cancel study" in page and 'data-finished="0"' in page
    run_trials(study, max_trials=2)
    state = trader.get(f"/lab/{study.pk}.json").json()
    assert state["done"] == 2 and state["status"] == "running"
    assert state["best_value"] is not None or state["pruned"] == 2
    run_trials(study)
    state = trader.get(f"/lab/{study.pk}.json").json()
    assert (state["status"], state["done"], state["finished"], state["eta_seconds"]) == (
        "done",
        4,
        True,
        None,
    )
    assert f"study {study.pk}" in trader.get("/lab/").content.decode()


def test_cancel_needs_the_permission_and_stops_the_study(client, active):
    store_week("KRW-BTC")
    study = create_study(request(n_trials=3))
    client.force_login(user("reader", may_change=False))
    assert client.post(f"/lab/{study.pk}/cancel").status_code == 403
    study.refresh_from_db()
    assert study.status == Study.Status.QUEUED
    client.force_login(user("trader", may_change=True))
    response = client.post(f"/lab/{study.pk}/cancel", follow=True)
    study.refresh_from_db()
    assert study.status == Study.Status.CANCELLED
    assert f"Study {study.pk} cancelled" in response.content.decode()


def test_the_report_of_a_short_study_says_why_a_statistic_is_not_applicable(
    trader, active, monkeypatch, settings
):
    settings.CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}
    store_week("KRW-BTC")
    study = create_study(request(), None)
    run_trials(study)
    page = trader.get(f"/lab/{study.pk}/").content.decode()
    assert 'id="lab-figures"' in page and "plotly.min.js" in page and "js/lab.js" in page
    assert "n/a: only" in page and "periods for 8 blocks" in page  # 6 days: too few for PBO
    assert "PBO: how often the configuration" in page and "Deflated Sharpe: the probability" in page
    assert "Promote to an inactive version" in page
    monkeypatch.setattr("lab.views.figure_words", None)  # what the page shows of it is kept: not made again
    script = page[page.index('<script id="lab-figures"') :].split("</script>")[0]
    assert len(script) > 1000 and script in trader.get(f"/lab/{study.pk}/").content.decode()
    assert '<span id="study-done">6</span>' in page
    monkeypatch.undo()
    opt = load_optuna_study(study)
    with quiet():  # asked by hand, as the lab does (not study.optimize)
        opt.tell(opt.ask(), 0.0)  # a trial told after the end (as one running when a study is cancelled)
    assert '<span id="study-done">7</span>' in trader.get(f"/lab/{study.pk}/").content.decode()
    report = Study.objects.get(pk=study.pk).result["report"]  # built once and kept
    assert set(report["figures"]) == {"history", "importances", "parallel"}
    assert report["figures"]["history"]["data"] and "template" not in report["figures"]["history"]["layout"]
    assert report["candidate"]["SIDEWAYS"]["rsi_14_max"] == report["chosen"]["params"]["SIDEWAYS.rsi_14_max"]


def test_a_longer_study_gets_pbo_dsr_and_monte_carlo_bands(trader, active):
    store_synthetic("KRW-BTC", 24, seed=5)
    study = create_study(
        request(start=_utc(2025, 1, 2), end=_utc(2025, 1, 25), n_trials=8, min_trades=2,
                objectives=["total_return"])
    )  # fmt: skip
    run_trials(study)
    page = trader.get(f"/lab/{study.pk}/").content.decode()
    report = Study.objects.get(pk=study.pk).result["report"]
    pbo, dsr, mc = report["overfitting"]["pbo"], report["overfitting"]["dsr"], report["monte_carlo"]
    complete = Study.objects.get(pk=study.pk).result["counts"]["complete"]
    assert pbo["na"] is None and 0 <= pbo["value"] <= 1 and pbo["blocks"] == 8 and pbo["trials"] == complete
    assert dsr["na"] is None and 0 <= dsr["value"] <= 1 and dsr["days"] >= 23
    assert mc["na"] is None or mc["na"].startswith("n/a: only")
    if mc["na"] is None:
        low, mid, high = mc["bootstrap"]["final_return_pct"]
        assert low <= mid <= high and "Bootstrap" in page
    assert f"{pbo['value']:.2f}" in page


def _utc(*day):
    from datetime import UTC, datetime

    return datetime(*day, tzinfo=UTC)


def test_promote_stores_an_inactive_version_links_it_and_audits_it(trader, active):
    store_week("KRW-BTC")
    study = create_study(request(base_version=active.version))
    run_trials(study)
    versions = StrategyConfig.objects.count()
    response = trader.post(f"/lab/{study.pk}/promote", follow=True)
    page = response.content.decode()
    study.refresh_from_db()
    promoted = study.promoted_config
    assert promoted is not None and not promoted.is_active
    assert StrategyConfig.objects.get(is_active=True).pk == active.pk  # never activated here
    best = study.result["best"]
    assert promoted.params["SIDEWAYS"]["rsi_14_max"] == best["params"]["SIDEWAYS.rsi_14_max"]
    assert promoted.symbols == active.symbols
    assert promoted.note.startswith(f"from study {study.pk}: sharpe {best['values'][0]:.4g}, PBO n/a, DSR ")
    assert f"Stored as v{promoted.version}, inactive" in page
    assert f'href="/admin/trading/strategyconfig/{promoted.pk}/change/"' in page
    assert "SIDEWAYS.rsi_14_max" in page or "same settings as the active version" in page
    entry = LogEntry.objects.get(object_id=str(promoted.pk))
    assert entry.action_flag == ADDITION and entry.user.username == "trader"
    assert f"Promoted from Strategy lab study {study.pk}, inactive" in entry.change_message
    again = trader.post(f"/lab/{study.pk}/promote", follow=True).content.decode()
    assert f"was already promoted as v{promoted.version}" in again
    assert StrategyConfig.objects.count() == versions + 1


def test_promote_needs_the_permission(client, active):
    store_week("KRW-BTC")
    study = create_study(request(n_trials=3))
    run_trials(study)
    versions = StrategyConfig.objects.count()
    client.force_login(user("reader", may_change=False))
    assert client.post(f"/lab/{study.pk}/promote").status_code == 403
    assert StrategyConfig.objects.count() == versions and Study.objects.get().promoted_config is None
    assert "Promote to an inactive version" not in client.get(f"/lab/{study.pk}/").content.decode()


def test_two_objectives_show_the_pareto_front_and_promote_the_trial_chosen_on_it(trader, active):
    store_week("KRW-BTC")
    study = create_study(request(objectives=["sharpe", "max_drawdown"], n_trials=6))
    run_trials(study)
    page = trader.get(f"/lab/{study.pk}/").content.decode()
    report = Study.objects.get(pk=study.pk).result["report"]
    assert set(report["figures"]) == {"history", "importances", "parallel", "pareto"}
    front = Study.objects.get(pk=study.pk).result["pareto"]
    assert "Chosen from the Pareto front" in page and 'name="trial"' in page
    last = front[-1]
    trader.post(f"/lab/{study.pk}/promote", {"trial": str(last["number"])})
    study.refresh_from_db()
    key = "SIDEWAYS.rsi_14_max"
    assert study.promoted_config.params["SIDEWAYS"]["rsi_14_max"] == last["params"][key]
    assert study.promoted_config.note.startswith(f"from study {study.pk}: sharpe ")
    assert "max_drawdown" in study.promoted_config.note and not study.promoted_config.is_active


# --- walk-forward from the form


def test_walk_forward_refusals_show_at_once_and_nothing_is_stored(trader, active, nothing_stored):
    store_week("KRW-BTC")
    response = trader.post(
        "/lab/",
        form(walk_forward="three", ratio="0", folds_kind="diagonal", trials="0", objective2="max_drawdown"),
    )
    page = response.content.decode()
    assert response.status_code == 400
    for words in (
        "the number of walk-forward folds must be a whole number, not &#x27;three&#x27;",
        "walk-forward folds are rolling or anchored, not &#x27;diagonal&#x27;",
        "0 trials asked",
    ):
        assert words in page, words
    assert 'value="three"' in page  # the refused request stays in the form
    response = trader.post("/lab/", form(walk_forward="3", ratio="0", objective2="max_drawdown"))
    page = response.content.decode()
    assert response.status_code == 400
    assert "the in-sample / out-of-sample ratio must be above 0 and at most 20" in page
    assert "a walk-forward run scores one parameter set per fold: choose one objective" in page
    page = trader.post("/lab/", form(walk_forward="51")).content.decode()
    assert "the number of folds must be from 1 to 50, not 51" in page
    page = trader.post("/lab/", form(walk_forward="4", ratio="3")).content.decode()
    assert "holds 8,640 one-minute bars; 4 folds with an in-sample part 3 times" in page  # 6 days: too short
    page = trader.post("/lab/", form(walk_forward="2", ratio="x", **{"to": "soon"})).content.decode()
    assert "&#x27;to&#x27; must be a date" in page and "ratio must be a number, not &#x27;x&#x27;" in page
    assert nothing_stored()


def test_a_walk_forward_needs_the_permission(reader, active, nothing_stored):
    store_week("KRW-BTC")
    assert reader.post("/lab/", form(walk_forward="2")).status_code == 403
    assert nothing_stored()


def test_a_walk_forward_starts_from_the_form_with_its_folds(trader, active):
    from lab.folds import walk_forward_folds
    from lab.walkforward import fold_studies, run_walk_forward

    store_week("KRW-BTC")
    queued = django_rq.get_queue("lab").count
    response = trader.post("/lab/", form(walk_forward="2", folds_kind="anchored", ratio="2", trials="3"))
    parent = Study.objects.get(parent__isnull=True)
    assert response.status_code == 302 and response["Location"] == f"/lab/{parent.pk}/"
    assert (parent.walk_forward, parent.anchored, parent.ratio, parent.n_trials) == (2, True, 2.0, 3)
    assert parent.created_by.username == "trader"
    folds = fold_studies(parent)
    parts = walk_forward_folds(parent.start, parent.end, 2, anchored=True, ratio=2.0)
    assert [(f.start, f.end, f.out_of_sample_start, f.out_of_sample_end) for f in folds] == [
        (p.in_sample_start, p.in_sample_end, p.out_of_sample_start, p.out_of_sample_end) for p in parts
    ]
    assert folds[0].start == folds[1].start == parent.start  # anchored
    assert django_rq.get_queue("lab").count >= queued + 2  # each fold's jobs
    page = trader.get(f"/lab/{parent.pk}/").content.decode()
    assert 'id="walk-forward"' in page and "2 anchored folds, in-sample 2.0 x out-of-sample" in page
    assert "walk-forward, 2 anchored folds" in trader.get("/lab/").content.decode()
    run_walk_forward(parent)
    page = trader.get(f"/lab/{parent.pk}/").content.decode()
    parent.refresh_from_db()
    assert parent.status == Study.Status.DONE and "not scored yet" not in page
