"""Weekly exit report, sent on Sunday at 22:00 KST: the table and the suggestions."""

from dataclasses import dataclass
from datetime import datetime, timedelta

from django.conf import settings

from core.kst import KST, kst_text
from core.notify import notify
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
    return "n/a" if value is None else f"{value:g}{unit}"


def group_line(row: GroupStats) -> dict:
    """One table row for the embed: short keys, None left out."""
    line = {
        "regime": row.regime,
        "exit_reason": row.exit_reason,
        "n": row.count,
        "pnl": _num(row.avg_pnl_pct, " %"),
        "hold": _num(row.avg_hold_hours, " h"),
        "post_24h": f"avg {_num(row.avg_post_24h_pct)} / med {_num(row.median_post_24h_pct)} / "
        f"{_num(row.min_post_24h_pct)}..{_num(row.max_post_24h_pct)} %",
    }
    if row.early_exit_rate is not None:
        line["early_exit"] = f"{row.early_exit_rate:g} % ({row.early_exits}/{row.early_base})"
    if row.over_hold_rate is not None:
        line["over_hold"] = f"{row.over_hold_rate:g} % ({row.over_holds}/{row.over_base})"
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
    lines = [
        f"Weekly exit report, {payload(report)['period']} ({report.days} days, {report.sells} SELLs)",
        "",
    ]
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
        lines += ["", "Exit reasons:", *(f"  {code}: {text}" for code, text in meanings.items())]
    lines += ["", "Suggestions:", *(f"  {line}" for line in report.suggestions.lines)]
    return "\n".join(lines)


def send_weekly_report(end: datetime, days: int | None = None) -> WeeklyReport:
    """Build the report, keep its suggestions for the admin, queue the notification."""
    report = build_weekly_report(end, days)
    store_suggestions(end.astimezone(KST).date(), report.suggestions)
    notify("weekly-exit-report", payload(report))
    return report
