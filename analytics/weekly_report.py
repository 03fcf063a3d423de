"""Weekly exit report, sent on Sunday at 22:00 KST: the table and the suggestions."""

from dataclasses import dataclass
from datetime import datetime, timedelta

from django.conf import settings
from django.utils.translation import gettext as _

from core import formatting
from core.kst import KST, kst_text
from core.notify import alert_language, notify
from trading.glossary import EXIT_REASONS, legend

from .exit_performance import GroupStats, exit_table
from .exits import load_exits
from .suggestions import Suggestions, store_suggestions, suggest


@dataclass(frozen=True)
class WeeklyReport:
    start: datetime
    end: datetime
    days: int
    sells: int
    table: list[GroupStats]
    suggestions: Suggestions


def build_weekly_report(end: datetime, days: int | None = None) -> WeeklyReport:
    """Exit performance of the `days` days before `end` (ANALYTICS_WEEKLY_DAYS by default)."""
    days = days or settings.ANALYTICS_WEEKLY_DAYS
    start = end - timedelta(days=days)
    exits = load_exits(start, end)
    table = exit_table(exits)
    return WeeklyReport(start, end, days, len(exits), table, suggest(exits, table))


REASON_WIDTH = 21  # the longest code, PARTIAL_TAKE_PROFIT (19), and a gap


def _num(value: float | None, unit: str = "") -> str:
    """For the terminal table: the figure as is ("2.5"), "n/a" when unknown."""
    return _("n/a") if value is None else f"{value:g}{unit}"


def _rate(value: float | None, count: int, base: int) -> str:
    return _("%(rate)s (%(count)s/%(base)s)") % {"rate": _pct(value), "count": count, "base": base}


def _pct(value: float | None) -> str:
    return _("n/a") if value is None else f"{formatting.number(value)}%"


def group_line(row: GroupStats) -> dict:
    """One table row for the embed: short keys, None left out (in the active language)."""
    line = {
        "regime": row.regime,
        "exit_reason": row.exit_reason,
        "n": row.count,
        "pnl": _pct(row.avg_pnl_pct),
        "hold": _("n/a")
        if row.avg_hold_hours is None
        else _("%(hours)s h") % {"hours": formatting.number(row.avg_hold_hours)},
        "post_24h": _("avg %(avg)s / med %(med)s / %(min)s..%(max)s")
        % {
            "avg": _pct(row.avg_post_24h_pct),
            "med": _pct(row.median_post_24h_pct),
            "min": _pct(row.min_post_24h_pct),
            "max": _pct(row.max_post_24h_pct),
        },
    }
    if row.early_exit_rate is not None:
        line["early_exit"] = _rate(row.early_exit_rate, row.early_exits, row.early_base)
    if row.over_hold_rate is not None:
        line["over_hold"] = _rate(row.over_hold_rate, row.over_holds, row.over_base)
    return line


def payload(report: WeeklyReport) -> dict:
    """The `weekly-exit-report` notification payload."""
    return {
        "days": report.days,
        "suggestions": list(report.suggestions.lines),
        "groups": [group_line(row) for row in report.table],
        "period": f"{kst_text(report.start)} - {kst_text(report.end)} KST",
        "sells": report.sells,
    }


def render_text(report: WeeklyReport) -> str:
    """The report for a terminal."""
    title = _("Weekly exit report, %(period)s (%(days)s days, %(sells)s SELLs)") % {
        "period": payload(report)["period"],
        "days": report.days,
        "sells": report.sells,
    }
    lines = [title, ""]
    header = f"{'regime':<9}{'exit_reason':<{REASON_WIDTH}}{'n':>4}{'pnl %':>8}{'hold h':>8}"
    header += f"{'p24 avg':>9}{'med':>8}{'min':>8}{'max':>8}{'early %':>9}{'over %':>8}"
    lines.append(header)
    for row in report.table:
        cells = [row.avg_pnl_pct, row.avg_hold_hours, row.avg_post_24h_pct, row.median_post_24h_pct]
        cells += [row.min_post_24h_pct, row.max_post_24h_pct]
        text = f"{row.regime:<9}{row.exit_reason:<{REASON_WIDTH}}{row.count:>4}"
        text += "".join(f"{_num(c):>{8 if i not in (2,) else 9}}" for i, c in enumerate(cells))
        text += f"{_num(row.early_exit_rate):>9}{_num(row.over_hold_rate):>8}"
        lines.append(text)
    meanings = legend((row.exit_reason for row in report.table), EXIT_REASONS)
    if meanings:
        lines += ["", _("Exit reasons:"), *(f"  {code}: {text}" for code, text in meanings.items())]
    lines += ["", _("Suggestions:"), *(f"  {line}" for line in report.suggestions.lines)]
    return "\n".join(lines)


def send_weekly_report(end: datetime, days: int | None = None) -> WeeklyReport:
    """Build the report, keep its suggestions for the admin, queue the notification."""
    report = build_weekly_report(end, days)
    store_suggestions(end.astimezone(KST).date(), report.suggestions)
    with alert_language():  # the group lines travel in the payload as text
        notify("weekly-exit-report", payload(report))
    return report
