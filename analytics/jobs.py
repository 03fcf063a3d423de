"""Scheduled analytics jobs (declared in coinpilot_site/schedule.py); thin: they call plain code."""

from datetime import datetime

from django.utils import timezone

from .daily_report import send_daily_report
from .fill_drift import one_line, previous_kst_day, run_fill_drift
from .post_exit import track_post_exit_prices as track
from .weekly_report import KST, send_weekly_report


def track_post_exit_prices(*, slot: datetime) -> str:
    """Every due post-exit window of the recent SELLs."""
    return track(timezone.now()).summary()


def daily_report(*, slot: datetime) -> str:
    """The report of the period ending at this slot, 22:00 KST; always sent."""
    report = send_daily_report(slot.astimezone(KST).date(), min(timezone.now(), slot))
    pnl = f"{report.total_pnl:+,.0f} KRW"
    return f"{report.day}: {report.trade_count} SELLs, {pnl}, summary {report.summary_source}"


def weekly_exit_report(*, slot: datetime) -> str:
    """Exit performance of the 7 days before this slot, Sunday 22:00 KST."""
    report = send_weekly_report(slot)
    return f"{report.sells} SELLs, {len(report.table)} groups, suggestions {report.suggestions.status}"


def fill_drift(*, slot: datetime) -> str:
    """The previous KST day's fills against its backtest (stored, alerted above the threshold)."""
    return one_line(run_fill_drift(previous_kst_day(slot)))
