"""Promoting a study's result: the chosen trial's parameters stored as a new INACTIVE strategy
version, audited like an admin edit. Never activated here: the operator activates it in the admin
("Make the selected version active again"), after reading the diff and the statistics."""

from django.contrib.admin.models import ADDITION, LogEntry
from django.db import transaction
from django.utils.translation import gettext as _

from trading.config import ConfigError, active_row, default_strategy, diff_strategy, save_strategy_version
from trading.models import StrategyConfig

from .models import Study
from .report import study_report
from .study import candidate_params


class PromoteRefused(ValueError):
    """The study's result cannot be promoted; the message says why."""


def promote_trial(*, study: Study, user, number: int | None = None) -> StrategyConfig:
    """Store the trial's parameters (the best one by default) as an inactive version, link it to
    the study and write the admin's log entry; raises PromoteRefused."""
    report = study_report(study)
    if report is None or report["chosen"] is None:
        raise PromoteRefused(_("study %(number)s has no result to promote yet") % {"number": study.pk})
    row = report["chosen"] if number is None else _pareto_row(study, number)
    try:
        params = candidate_params(study, row["number"])
    except ValueError as exc:
        raise PromoteRefused(str(exc)) from exc
    note = promotion_note(study, row, report)
    with transaction.atomic():
        locked = Study.objects.select_for_update().get(pk=study.pk)  # two clicks store one version
        if locked.promoted_config_id:
            raise PromoteRefused(
                _("study %(number)s was already promoted as v%(version)s")
                % {"number": study.pk, "version": locked.promoted_config.version}
            )
        try:
            version = save_strategy_version(
                symbols=symbols_of(study), params=params, user=user, note=note, activate=False
            )
        except ConfigError as exc:
            raise PromoteRefused("; ".join(exc.messages)) from exc
        Study.objects.filter(pk=study.pk).update(promoted_config=version)
        LogEntry.objects.log_actions(
            user_id=user.pk,
            queryset=[version],
            action_flag=ADDITION,
            change_message=f"Promoted from Strategy lab study {study.pk}, inactive: {note}",
            single_object=True,
        )
    study.refresh_from_db()
    return version


def _pareto_row(study: Study, number: int) -> dict:
    rows = [study.result.get("best")] if study.result.get("best") else study.result.get("pareto", [])
    row = next((r for r in rows if r and r["number"] == number), None)
    if row is None:
        raise PromoteRefused(
            _("trial %(trial)s is not among study %(number)s's best trials")
            % {"trial": number, "number": study.pk}
        )
    return row


def symbols_of(study: Study) -> list[str]:
    """The markets the new version trades: the base version's (the study tuned its parameters,
    not which markets the bot visits)."""
    if study.base_config_id:
        return list(study.base_config.symbols)
    return list(default_strategy().symbols)


def promotion_note(study: Study, row: dict, report: dict) -> str:
    """'from study 7: sharpe 1.84, PBO 0.12, DSR 0.97' (n/a where a statistic is)."""
    pairs = zip(study.objectives, row["values"], strict=True)
    values = ", ".join(f"{name} {value:.4g}" for name, value in pairs)
    pbo = report["overfitting"]["pbo"]
    dsr = report["dsr_by_trial"].get(str(row["number"]), {"na": "n/a"})
    return f"from study {study.pk}: {values}, PBO {_figure(pbo)}, DSR {_figure(dsr)}"


def _figure(statistic: dict) -> str:
    return "n/a" if statistic.get("na") else f"{statistic['value']:.2f}"


def version_diff(study: Study, report: dict) -> tuple[StrategyConfig | None, list[str]]:
    """The active version, and what the promoted (or else the chosen) parameters change in it."""
    active = active_row(StrategyConfig)
    if study.promoted_config_id:
        candidate = study.promoted_config
    elif report and report.get("candidate"):
        candidate = StrategyConfig(symbols=symbols_of(study), params=report["candidate"])
    else:
        return active, []
    return active, diff_strategy(active, candidate)
