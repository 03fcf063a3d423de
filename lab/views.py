"""The Lab page: start a study (form and list), follow it, read its report, promote its result.

Starting, cancelling and promoting change what the bot may come to trade with: they need the
permission to change strategy configs, as the admin's edits do. Reading needs a login only.
"""

from datetime import UTC, datetime

from django.contrib import messages
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.html import json_script
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_POST

from core.caching import cached, digest
from trading.models import StrategyConfig
from trading.parameters import REGIMES

from . import form as lab_form
from .checks import CheckRefused, create_check, start_check
from .models import LookaheadCheck, Study
from .objectives import OBJECTIVES
from .promote import PromoteRefused, promote_trial, version_diff
from .report import study_report
from .storage import trial_durations
from .study import (
    StudyRefused,
    cancel_study,
    count_states,
    create_study,
    progress,
    start_study,
    summary_counts,
)
from .walkforward import cancel_walk_forward, create_walk_forward, start_walk_forward, walk_forward_report
from .wording import figure_words, objective_label, status_label, translate, translate_all

PERMISSION = "trading.change_strategyconfig"
REFUSED = _(
    "Starting, cancelling or promoting a study needs the permission to change strategy configs; ask an admin."
)
CHECK_REFUSED = _(
    "Checking a strategy version needs the permission to change strategy configs, as starting a study does; "
    "ask an admin."
)
LISTED = 50
CHECKS_LISTED = 5


def lab_page(request: HttpRequest) -> HttpResponse:
    """The form (POST starts a study and opens it) and the studies so far."""
    form, errors, status = lab_form.default_form(timezone.now()), [], 200
    if request.method == "POST":
        form = _posted(request.POST)
        if not request.user.has_perm(PERMISSION):
            errors, status = [REFUSED], 403
        else:
            req, errors = lab_form.read_form(request.POST)
            walk, walk_errors = lab_form.read_walk_forward(request.POST, req)
            errors += walk_errors
            if not errors:
                try:
                    study = _start(req, walk, request.user)
                except StudyRefused as exc:  # checked again when stored
                    errors = exc.messages
                else:
                    return redirect("lab-study", study_id=study.pk)
            status = 400
    return _lab(request, form, errors, status)


def _lab(request: HttpRequest, form: dict, errors: list[str], status: int) -> HttpResponse:
    studies = list(Study.objects.filter(parent__isnull=True).defer("result", "space")[:LISTED])
    checks = list(LookaheadCheck.objects.defer("result")[:CHECKS_LISTED])
    for row in [*studies, *checks]:  # the lists' words in the reader's language
        row.status_label = status_label(row.status)
    for study in studies:
        study.objective_labels = [objective_label(name) for name in study.objectives]
    return render(
        request,
        "lab/lab.html",
        {
            "form": form,
            "errors": errors,
            "studies": studies,
            "checks": checks,
            "regimes": REGIMES,
            "objectives": lab_form.objective_choices(),
            "parameters": lab_form.parameter_table(),
            "versions": StrategyConfig.objects.values_list("version", flat=True),
            "may_change": request.user.has_perm(PERMISSION),
        },
        status=status,
    )


@require_POST
def lookahead_start(request: HttpRequest) -> HttpResponse:
    """The Lab form's look-ahead button: check the chosen version on the chosen symbols and days
    as a job on the `lab` queue (the page does not wait), then open the check's page."""
    form = _posted(request.POST)
    if not request.user.has_perm(PERMISSION):
        return _lab(request, form, [CHECK_REFUSED], 403)
    args, errors = lab_form.read_check(request.POST)
    if not errors:
        try:
            check = create_check(**args, user=request.user)
        except CheckRefused as exc:  # checked again when stored
            errors = exc.messages
        else:
            start_check(check)
            return redirect("lab-check", check_id=check.pk)
    return _lab(request, form, errors, 400)


def check_page(request: HttpRequest, check_id: int) -> HttpResponse:
    """A look-ahead check: queued or running (the page reloads itself), then its verdict per column."""
    check = get_object_or_404(LookaheadCheck, pk=check_id)
    context = {
        "check": check,
        "symbols": check_symbols(check),
        "status_label": status_label(check.status),
        "error": translate(check.error),
    }
    return render(request, "lab/check.html", context)


def check_symbols(check: LookaheadCheck) -> list[dict]:
    """Each symbol's verdict with its bars' first and last times, for the template; the stored
    sentences in the reader's language."""
    out = []
    for symbol, part in (check.result or {}).items():
        first, last = (_moment(part.get(key)) for key in ("first", "last"))
        columns = [
            row | {"lookahead": translate(row.get("lookahead")), "warmup": translate(row.get("warmup"))}
            for row in part.get("columns", [])
        ]
        words = {"findings": translate_all(part.get("findings")), "notes": translate_all(part.get("notes"))}
        out.append(part | words | {"columns": columns, "symbol": symbol, "first_at": first, "last_at": last})
    return out


def _moment(epoch: int | None) -> datetime | None:
    return datetime.fromtimestamp(epoch, UTC) if epoch is not None else None


def _start(req, walk: lab_form.WalkForward | None, user) -> Study:
    """Store and queue a study, or a walk-forward run (as `optimize [--walk-forward K]`)."""
    if walk is None:
        study = create_study(req, user)
        start_study(study)
        return study
    parent = create_walk_forward(req, folds=walk.folds, anchored=walk.anchored, ratio=walk.ratio, user=user)
    start_walk_forward(parent)
    return parent


def _posted(data) -> dict:
    """The form as posted, so a refused request stays on the page to be corrected."""
    return {key: data.get(key, "") for key in data} | {"regimes": data.getlist("regimes")}


def study_page(request: HttpRequest, study_id: int) -> HttpResponse:
    study = get_object_or_404(Study.objects.defer("result"), pk=study_id)  # read by study_view if needed
    shown = study_view(study)
    report = shown["report"]
    active, diff = version_diff(study, report) if report else (None, [])  # live: versions change
    walk_forward = walk_forward_report(study) if study.walk_forward else None
    return render(
        request,
        "lab/study.html",
        {
            "study": study,
            "state": shown["state"],
            "objective_labels": [objective_label(name) for name in study.objectives],
            "report": shown["words"],
            "figures": shown["figures"],
            "active": active,
            "diff": diff,
            "pareto": shown["pareto"],
            "may_change": request.user.has_perm(PERMISSION),
            "admin_url": _admin_url(study),
            "walk_forward": walk_forward_words(walk_forward) if walk_forward else None,
        },
    )


def study_view(study: Study) -> dict:
    """What the study's page shows of its trials, in the reader's language: `state` (`progress`),
    `report` (the report, without its figures; None while it runs and for a walk-forward run),
    `words` (the report put into words), `figures` (`sections`: name -> its n/a note, if any;
    `script`: their JSON <script>) and `pareto`.

    An ended study's is made once per language and set of trial counts, across processes: its
    265 KiB report (200 trials) took 5 ms to read and 15 ms to escape into the page on every view.
    New counts (a trial still running when a study was cancelled, told later) make it again."""
    trials = trial_durations(study.optuna_name)

    def make() -> dict:
        state = progress(study, trials)
        state |= {"status_label": status_label(state["status"]), "error": translate(state["error"])}
        report = None if study.walk_forward else study_report(study)  # a walk-forward run has no trials
        figures = {"sections": {}, "script": ""}
        if report:
            labels = {OBJECTIVES[n].label: objective_label(n) for n in study.objectives if n in OBJECTIVES}
            worded = {name: figure_words(f, labels) for name, f in report["figures"].items()}
            figures = {
                "sections": {name: figure.get("na", "") for name, figure in worded.items()},
                "script": json_script(worded, "lab-figures"),
            }
            report = {key: value for key, value in report.items() if key != "figures"}
        return {
            "state": state,
            "report": report,
            "words": report_words(report) if report else None,
            "figures": figures,
            "pareto": study.result.get("pareto", []) if study.multi_objective else [],
        }

    if not study.finished or study.finished_at is None:
        return make()
    counts = summary_counts(count_states(trials))
    return cached(
        f"lab-study:{study.pk}:{study.finished_at.timestamp()}:{digest(counts)}", make, seconds=3600
    )


def report_words(report: dict) -> dict:
    """The stored report with its reasons and explanations in the reader's language (a copy)."""
    stats = report.get("overfitting") or {}
    pbo, dsr, mc = stats.get("pbo") or {}, stats.get("dsr") or {}, report.get("monte_carlo") or {}
    keys = ("na", "explained", "loss_explained", "degradation_explained")

    def words(part: dict) -> dict:
        return part | {key: translate(part[key]) for key in keys if part.get(key)}

    mc = words(mc) | {
        name: words(mc[name]) for name in ("shuffle", "bootstrap") if isinstance(mc.get(name), dict)
    }
    return report | {"overfitting": stats | {"pbo": words(pbo), "dsr": words(dsr)}, "monte_carlo": mc}


def walk_forward_words(report: dict) -> dict:
    """The walk-forward report with the folds' reasons and the objective in the reader's language."""
    folds = [
        fold | {"reason": translate(fold.get("reason")), "status_label": status_label(fold["status"])}
        for fold in report["folds"]
    ]
    return report | {"folds": folds, "objective_label": objective_label(report["objective"])}


def _admin_url(study: Study) -> str:
    if not study.promoted_config_id:
        return ""
    return reverse("admin:trading_strategyconfig_change", args=[study.promoted_config_id])


@never_cache
def study_json(request: HttpRequest, study_id: int) -> JsonResponse:
    study = Study.objects.filter(pk=study_id).first()
    if study is None:
        return JsonResponse({"error": f"no study {study_id}"}, status=404)
    state = progress(study)  # the page's script shows the error as it is: in the reader's language
    return JsonResponse(state | {"finished": study.finished, "error": translate(state["error"])})


@require_POST
def study_cancel(request: HttpRequest, study_id: int) -> HttpResponse:
    study = get_object_or_404(Study, pk=study_id)
    if not request.user.has_perm(PERMISSION):
        return HttpResponse(REFUSED, status=403, content_type="text/plain; charset=utf-8")
    if (cancel_walk_forward if study.walk_forward else cancel_study)(study):
        messages.success(
            request,
            gettext("Study %(number)s cancelled; a trial already running finishes.") % {"number": study.pk},
        )
    else:
        messages.info(
            request,
            gettext("Study %(number)s had already ended (%(status)s).")
            % {"number": study.pk, "status": status_label(study.status)},
        )
    return redirect("lab-study", study_id=study.pk)


@require_POST
def study_promote(request: HttpRequest, study_id: int) -> HttpResponse:
    """Store the chosen trial's parameters as a new inactive version (never activated here)."""
    study = get_object_or_404(Study, pk=study_id)
    if not request.user.has_perm(PERMISSION):
        return HttpResponse(REFUSED, status=403, content_type="text/plain; charset=utf-8")
    number = request.POST.get("trial", "").strip()
    try:
        version = promote_trial(
            study=study, user=request.user, number=int(number) if number.isdigit() else None
        )
    except PromoteRefused as exc:
        messages.error(request, gettext("Not promoted: %(reason)s") % {"reason": exc})
    else:
        messages.success(
            request,
            gettext(
                "Stored as v%(version)s, inactive: the bot keeps trading the active version until you "
                "activate this one in the admin."
            )
            % {"version": version.version},
        )
    return redirect("lab-study", study_id=study.pk)
