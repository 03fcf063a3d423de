"""manage.py optimize: a Strategy lab study from the command line (the Lab page's inputs)."""

import time
from datetime import datetime
from decimal import Decimal

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from core.bounds import decimal_option, moment_option
from core.kst import kst_text
from lab.inputs import DEFAULT_TUNED, UPBIT_FEE_PCT, StudyRequest, default_space, parse_param, request_errors
from lab.models import Study
from lab.objectives import OBJECTIVES
from lab.study import StudyRefused, create_study, progress, run_trials, start_study
from lab.walkforward import create_walk_forward, run_walk_forward, start_walk_forward, walk_forward_report
from trading.parameters import REGIMES
from trading.risk import KST

KST_MOMENT = moment_option(KST)  # dates without an offset are read in KST, as `manage.py backtest`
POLL_SECONDS = 2


class Command(BaseCommand):
    help = (
        "Optimise strategy parameters on stored candles (Optuna: TPE, or NSGA-II for two objectives); "
        "trials run on the `lab` queue's workers, or here with --inline."
    )

    def add_arguments(self, parser):
        parser.add_argument("--symbols", required=True, help="markets from one account, e.g. KRW-BTC,KRW-ETH")
        parser.add_argument(
            "--from", dest="start", type=KST_MOMENT, required=True, help="first decision (KST)"
        )
        parser.add_argument("--to", dest="end", type=KST_MOMENT, required=True, help="end, exclusive (KST)")
        parser.add_argument(
            "--trials", type=int, default=100, help="number of trials (at most LAB_MAX_TRIALS)"
        )
        parser.add_argument("--seed", type=int, default=42)
        names = ", ".join(OBJECTIVES)
        parser.add_argument("--objective", default="sharpe", help=f"one of {names}")
        parser.add_argument("--objective2", help="a second objective: a Pareto front (e.g. max_drawdown)")
        parser.add_argument(
            "--regimes",
            help=f"regimes to tune, e.g. SIDEWAYS,BEAR (default: those --param names, or all {len(REGIMES)})",
        )
        parser.add_argument(
            "--param", action="append", default=[],
            help="REGIME.parameter=LOW:HIGH[:STEP] or =a,b for a choice, or REGIME.parameter for the "
            f"table's range; repeat it (default: {', '.join(DEFAULT_TUNED)} of each regime tuned)",
        )  # fmt: skip
        parser.add_argument(
            "--fee", type=decimal_option(0, 100, "%"), default=None, help="%% per fill (default 0.05)"
        )
        parser.add_argument(
            "--slippage", type=decimal_option(0, 10_000, "bps"), default=None, help="bps per fill (5)"
        )
        parser.add_argument("--min-trades", type=int, default=5, help="fewer: the trial is n/a (pruned)")
        parser.add_argument(
            "--regime", default="", help="treat every bar as this regime (as backtest --regime)"
        )
        parser.add_argument(
            "--config", type=int, help="strategy version to start from (default: the active one)"
        )
        parser.add_argument("--inline", action="store_true", help="run the trials in this process")
        parser.add_argument("--wait", action="store_true", help="print progress until the study ends")
        parser.add_argument(
            "--walk-forward", type=int, default=0, metavar="K",
            help="a walk-forward run of K folds: each optimises on its in-sample part (--trials each) "
            "and is scored on the out-of-sample part after it",
        )  # fmt: skip
        parser.add_argument(
            "--anchored", action="store_true", help="walk-forward: in-sample parts all start at --from"
        )
        parser.add_argument(
            "--ratio", type=float, default=3.0, help="walk-forward: in-sample / out-of-sample length (3)"
        )

    def handle(self, *args, **opts):
        req, unreadable = self._request(opts)
        if opts["walk_forward"]:
            return self._walk_forward(req, unreadable, opts)
        study = self._create(req, unreadable)
        self.stdout.write(f"study {study.pk}: {study.n_trials} trials of {', '.join(study.objectives)}")
        if opts["inline"]:
            run_trials(study)
            self.stdout.write(progress_line(progress(study)))
        else:
            start_study(study)
            self.stdout.write("queued on the `lab` queue")
            if not opts["wait"]:
                return
            self._wait(study)
        self._report(study)

    def _request(self, opts) -> tuple[StudyRequest, list[str]]:
        """The request, and the --param values that could not be read (refused with the rest)."""
        space, errors = {}, []
        for text in opts["param"]:
            key, spec, refusal = parse_param(text)
            if refusal:
                errors.append(refusal)
            else:
                space[key] = spec
        regimes = [r.strip().upper() for r in (opts["regimes"] or "").split(",") if r.strip()]
        if not regimes:
            named = [key.split(".")[0] for key in space]
            regimes = list(dict.fromkeys(named)) or (
                [opts["regime"].upper()] if opts["regime"] else list(REGIMES)
            )
        if not opts["param"]:
            space = default_space([r for r in regimes if r in REGIMES])
        objectives = [opts["objective"], *([opts["objective2"]] if opts["objective2"] else [])]
        slippage = (
            opts["slippage"] if opts["slippage"] is not None else settings.COINPILOT_BACKTEST_SLIPPAGE_BPS
        )
        req = StudyRequest(
            symbols=opts["symbols"].split(","), start=opts["start"], end=opts["end"],
            regimes=regimes, space=space, objectives=objectives, n_trials=opts["trials"], seed=opts["seed"],
            min_trades=opts["min_trades"], force_regime=opts["regime"].upper(), base_version=opts["config"],
            fee_pct=opts["fee"] if opts["fee"] is not None else UPBIT_FEE_PCT, slippage_bps=Decimal(slippage),
        )  # fmt: skip
        return req, errors

    def _create(self, req: StudyRequest, unreadable: list[str]) -> Study:
        try:
            if unreadable:
                raise StudyRefused(unreadable + request_errors(req))
            return create_study(req)
        except StudyRefused as exc:
            raise CommandError(
                "the study was refused, nothing stored:\n  " + "\n  ".join(exc.messages)
            ) from exc

    def _walk_forward(self, req: StudyRequest, unreadable: list[str], opts) -> None:
        try:
            if unreadable:
                raise StudyRefused(unreadable + request_errors(req))
            kind = {"anchored": opts["anchored"], "ratio": opts["ratio"]}
            parent = create_walk_forward(req, folds=opts["walk_forward"], **kind)
        except StudyRefused as exc:
            raise CommandError(
                "the walk-forward run was refused, nothing stored:\n  " + "\n  ".join(exc.messages)
            ) from exc
        self.stdout.write(
            f"walk-forward {parent.pk}: {parent.walk_forward} folds "
            f"({'anchored' if parent.anchored else 'rolling'}, in-sample {parent.ratio:g} x out-of-sample), "
            f"{parent.n_trials} trials of {parent.objectives[0]} each"
        )
        if opts["inline"]:
            run_walk_forward(parent)
        else:
            start_walk_forward(parent)
            self.stdout.write("folds queued on the `lab` queue")
            if not opts["wait"]:
                return
            self._wait_walk_forward(parent)
        for line in report_lines(walk_forward_report(parent)):
            self.stdout.write(line)

    def _wait_walk_forward(self, parent: Study) -> None:
        shown = None
        while True:
            report = walk_forward_report(parent)
            line = "; ".join(
                f"fold {f['index']} {'scored' if f['scored'] else f['status']}" for f in report["folds"]
            )
            if line != shown:
                self.stdout.write(line)
                shown = line
            if report["status"] not in (Study.Status.QUEUED, Study.Status.RUNNING):
                return
            time.sleep(POLL_SECONDS)

    def _wait(self, study: Study) -> None:
        shown = None
        while True:
            state = progress(study)
            line = progress_line(state)
            if line != shown:
                self.stdout.write(line)
                shown = line
            if study.finished:
                return
            time.sleep(POLL_SECONDS)

    def _report(self, study: Study) -> None:
        study.refresh_from_db()
        if study.status == Study.Status.FAILED:
            raise CommandError(f"study {study.pk} failed: {study.error}")
        result = study.result or {}
        rows = [result["best"]] if result.get("best") else result.get("pareto", [])
        if not rows:
            self.stdout.write("no trial had a value (see the pruned trials' reasons)")
        for row in rows:
            values = ", ".join(
                f"{name} {value:.4g}" for name, value in zip(study.objectives, row["values"], strict=True)
            )
            figures = row["figures"]
            self.stdout.write(
                f"trial {row['number']}: {values}  ({figures.get('trades')} trades, return "
                f"{figures.get('total_return_pct')} %, max drawdown {figures.get('max_drawdown_pct')} %)"
            )
            for key, value in sorted(row["params"].items()):
                self.stdout.write(f"  {key} = {value}")


def progress_line(state: dict) -> str:
    """One line of a study's progress, as the command prints it."""
    parts = [f"{state['status']}: {state['done']}/{state['total']} trials"]
    parts.append(f"{state['pruned']} n/a, {state['failed']} failed, {state['running']} running")
    if state["best_value"] is not None:
        parts.append(f"best {state['best_value']:.4g}")
    elif state["pareto"]:
        parts.append(f"Pareto front of {len(state['pareto'])}")
    if state["eta_seconds"] is not None:
        parts.append(f"about {state['eta_seconds']:.0f} s left")
    return ", ".join(parts)


def report_lines(report: dict) -> list[str]:
    """A walk-forward report as the command prints it (times in KST)."""
    if report["status"] == Study.Status.FAILED:
        raise CommandError(f"walk-forward {report['study']} failed: {report['error']}")
    lines = [f"walk-forward {report['study']}: {report['status']}"]
    objective = report["objective"]
    for fold in report["folds"]:
        oos = fold["out_of_sample"]
        lines.append(
            f"fold {fold['index']}: in sample {_kst(fold['in_sample']['start'])} to "
            f"{_kst(fold['in_sample']['end'])}, out of sample to {_kst(oos['end'])}"
        )
        lines.append(f"  in sample:     {objective} {_num(fold['in_sample_objective'])}"
                     f"{_figures(fold['in_sample_metrics'])}")  # fmt: skip
        if fold["out_of_sample_metrics"] is None:
            lines.append(f"  out of sample: {fold['reason'] or fold['status']}")
            continue
        lines.append(f"  out of sample: {objective} {_num(fold['out_of_sample_objective'])}"
                     f"{_figures(fold['out_of_sample_metrics'])}")  # fmt: skip
    lines += [f"  {row['text']}" for row in report["parameters"]]
    combined = report["combined"]
    if combined is None:
        lines.append(report["combined_missing"])
    else:
        lines.append(
            f"combined out of sample {_kst(combined['start'])} to {_kst(combined['end'])} KST: return "
            f"{combined['total_return_pct']} %, max drawdown {combined['max_drawdown_pct']} %, Sharpe "
            f"{_num(combined['sharpe'])}, {combined['trades']} trades"
        )
    return lines


def _kst(iso: str) -> str:
    return kst_text(datetime.fromisoformat(iso))


def _num(value) -> str:
    return "n/a" if value is None else f"{value:.4g}"


def _figures(figures: dict | None) -> str:
    if not figures:
        return ""
    return (
        f" ({figures.get('trades')} trades, return {figures.get('total_return_pct')} %, "
        f"max drawdown {figures.get('max_drawdown_pct')} %)"
    )
