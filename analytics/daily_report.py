"""Daily report, sent at 22:00 KST.

The report of day D covers the 24 hours that end at D 22:00 KST, [D-1 22:00, D 22:00), so each
SELL is in exactly one report, including those between 22:00 and midnight. Figures: realized
PnL (KRW, net of fees), win rate, trade count, max drawdown of the realized equity, per
exit_reason count and average PnL %, average post-1h change. A figure that cannot be computed
is left out and named in `notes`. The three-line summary is written by OpenAI through
agents/llm.py (analytics -> agents is allowed for this one call); when that fails a plain summary
is used instead: the report is always sent.

Its words are written in the active language: `send_daily_report` builds it in
COINPILOT_ALERT_LANGUAGE (the notes and summary travel in the payload as text), the Telegram
/daily reply in the asking user's language.
"""

import logging
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from decimal import Decimal

from django.utils.translation import get_language, ngettext
from django.utils.translation import gettext as _

from core import formatting
from core.kst import KST, kst_text
from core.notify import alert_language, notify
from trading.glossary import EXIT_REASONS, PARTIAL
from trading.models import DailyRiskState

from .exits import Exit, load_exits
from .fill_drift import one_line
from .models import FillDriftReport

log = logging.getLogger(__name__)

CUTOFF = time(22, 0)
SUMMARY_INSTRUCTIONS = (
    "You summarise a crypto trading bot's daily report for its operator. Write exactly three short "
    "lines of plain text, no bullets or markdown: the result, what drove it, what to watch. Use the "
    "numbers given; amounts are KRW; never invent figures."
)
SHORT = "%m-%d %H:%M"  # report periods: the day is in the title


@dataclass
class DailyReport:
    day: date
    start: datetime
    end: datetime
    trade_count: int = 0
    total_pnl: Decimal = Decimal(0)
    win_rate: float | None = None
    max_drawdown_pct: float | None = None
    by_exit_reason: dict = field(default_factory=dict)
    avg_post_1h_pct: float | None = None
    notes: list[str] = field(default_factory=list)
    summary: str = ""
    summary_source: str = ""  # "openai" or "fallback"
    fill_drift: str = ""  # the newest fill drift report up to this day, one line


def period(day: date) -> tuple[datetime, datetime]:
    """[day-1 22:00 KST, day 22:00 KST) as UTC-aware datetimes."""
    end = datetime.combine(day, CUTOFF, tzinfo=KST)
    return end - timedelta(days=1), end


def day_at(now: datetime) -> date:
    """The report day whose period contains `now` (after 22:00 KST that is tomorrow's)."""
    local = now.astimezone(KST)
    return local.date() + timedelta(days=1) if local.time() >= CUTOFF else local.date()


def max_drawdown_pct(base: Decimal, pnls: list[Decimal]) -> float | None:
    """Largest peak-to-trough fall, % of the peak, of base + cumulative PnL (None if base <= 0)."""
    if base <= 0:
        return None
    equity = peak = base
    worst = Decimal(0)
    for pnl in pnls:
        equity += pnl
        peak = max(peak, equity)
        worst = max(worst, (peak - equity) / peak * 100)
    return round(float(worst), 2)


def by_exit_reason(exits: list[Exit]) -> dict[str, dict]:
    """{exit_reason: {count, avg_pnl_pct}} over the exits whose PnL is known."""
    groups: dict[str, list[Exit]] = defaultdict(list)
    for exit_ in exits:
        groups[exit_.exit_reason].append(exit_)
    table = {}
    for reason in sorted(groups):
        known = [e.pnl_pct for e in groups[reason] if e.pnl_pct is not None]
        table[reason] = {
            "count": len(groups[reason]),
            "avg_pnl_pct": round(sum(known) / len(known), 2) if known else None,
        }
    return table


def starting_equity(start: datetime, exits: list[Exit]) -> Decimal | None:
    """Realized equity (cash + positions at cost) at `start`, from the DailyRiskState rows."""
    midnight = start.astimezone(KST).date() + timedelta(days=1)
    rows = {
        r.date: r for r in DailyRiskState.objects.filter(date__in=[midnight - timedelta(days=1), midnight])
    }
    before_midnight = sum(
        (e.pnl for e in exits if e.pnl is not None and e.at.astimezone(KST).date() < midnight), Decimal(0)
    )
    if midnight in rows and rows[midnight].starting_equity > 0:
        return rows[midnight].starting_equity - before_midnight
    previous = rows.get(midnight - timedelta(days=1))
    if previous is not None and previous.starting_equity > 0:
        return previous.starting_equity + previous.total_pnl - before_midnight
    return None


def build_daily_report(day: date, now: datetime) -> DailyReport:
    """The figures of `day`'s period up to `now` (no summary yet)."""
    start, end = period(day)
    end = min(end, now)
    exits = load_exits(start, end)
    report = DailyReport(day=day, start=start, end=end, trade_count=len(exits))
    known = [e for e in exits if e.pnl is not None]
    if not exits:
        report.notes.append(_("no SELLs in the period: win rate and drawdown not applicable"))
    unknown = [e for e in exits if e.pnl is None]
    if unknown:
        listed = ", ".join(f"#{e.id} {e.symbol}" for e in unknown[:10])
        listed += " ..." if len(unknown) > 10 else ""
        report.notes.append(
            ngettext(
                "%(count)s SELL excluded, PnL unknown (no entry_avg_price, BUY lots do not cover it): "
                "%(listed)s",
                "%(count)s SELLs excluded, PnL unknown (no entry_avg_price, BUY lots do not cover them): "
                "%(listed)s",
                len(unknown),
            )
            % {"count": len(unknown), "listed": listed}
        )
    report.total_pnl = sum((e.pnl for e in known), Decimal(0))
    if known:
        report.win_rate = round(100 * sum(e.pnl > 0 for e in known) / len(known), 1)
        scale_outs = sum(e.exit_reason == PARTIAL for e in known)
        if scale_outs:  # a scale-out is a sale at a profit level, so it lifts a per-SELL win rate
            report.notes.append(
                _(
                    "win rate counts every SELL: %(scale_outs)s of the %(known)s are scale-outs "
                    "(%(code)s), part of a position sold while the rest stayed open"
                )
                % {"scale_outs": scale_outs, "known": len(known), "code": PARTIAL}
            )
        base = starting_equity(start, known)
        if base is None:
            report.notes.append(_("max drawdown: starting equity unknown (no daily risk state row)"))
        else:
            report.max_drawdown_pct = max_drawdown_pct(base, [e.pnl for e in known])
    report.by_exit_reason = by_exit_reason(exits)
    report.fill_drift = fill_drift_line(day)
    post = [e.post_pct("1h") for e in exits if e.post_pct("1h") is not None]
    if post:
        report.avg_post_1h_pct = round(sum(post) / len(post), 2)
        if len(post) < len(exits):
            report.notes.append(
                _("avg post-1h change over %(tracked)s of %(count)s SELLs (rest not tracked yet)")
                % {"tracked": len(post), "count": len(exits)}
            )
    elif exits:
        report.notes.append(_("avg post-1h change: no SELL tracked yet"))
    return report


def fill_drift_line(day: date) -> str:
    """The newest fill drift report of a day before `day` (the job runs after the report)."""
    drift = FillDriftReport.objects.filter(day__lt=day).order_by("-day").first()
    return one_line(drift) if drift else ""


def facts(report: DailyReport) -> str:
    """The report as plain lines (the summary's input, the terminal output and the /daily reply)."""
    lines = [
        _("Daily report %(day)s (KST), %(start)s - %(end)s")
        % {"day": report.day, "start": kst_text(report.start, SHORT), "end": kst_text(report.end, SHORT)},
        _("SELLs: %(count)s") % {"count": report.trade_count},
        _("Realized PnL: %(pnl)s") % {"pnl": formatting.krw(report.total_pnl, sign=True)},
        _("Win rate: %(pct)s") % {"pct": _pct(report.win_rate)},
        _("Max drawdown (realized equity): %(pct)s") % {"pct": _pct(report.max_drawdown_pct)},
        _("Avg post-1h change: %(pct)s") % {"pct": _pct(report.avg_post_1h_pct, signed=True)},
    ]
    for reason, row in report.by_exit_reason.items():
        meaning = EXIT_REASONS.get(reason)  # the summary's model reads the codes, so it is told them
        line = ngettext(
            "  %(reason)s: %(count)s exit, avg PnL %(pct)s",
            "  %(reason)s: %(count)s exits, avg PnL %(pct)s",
            row["count"],
        ) % {"reason": reason, "count": row["count"], "pct": _pct(row["avg_pnl_pct"], signed=True)}
        lines.append(line + (f" ({meaning})" if meaning else ""))
    if report.fill_drift:
        lines.append(_("Fill drift vs backtest, %(line)s") % {"line": report.fill_drift})
    lines += [_("Note: %(note)s") % {"note": note} for note in report.notes]
    return "\n".join(lines)


def fallback_summary(report: DailyReport) -> str:
    """Three plain lines from the numbers alone."""
    if not report.trade_count:
        return "\n".join(
            [
                _("No SELLs in this period."),
                _("Realized PnL %(pnl)s.") % {"pnl": formatting.krw(0)},
                _("Nothing to review."),
            ]
        )
    first = ngettext(
        "%(count)s SELL, realized %(pnl)s, win rate %(win_rate)s.",
        "%(count)s SELLs, realized %(pnl)s, win rate %(win_rate)s.",
        report.trade_count,
    ) % {
        "count": report.trade_count,
        "pnl": formatting.krw(report.total_pnl, sign=True),
        "win_rate": _pct(report.win_rate),
    }
    ranked = sorted(
        (
            (row["avg_pnl_pct"], reason)
            for reason, row in report.by_exit_reason.items()
            if row["avg_pnl_pct"] is not None
        )
    )
    second = (
        _("Best exit reason %(best)s (%(best_pct)s), worst %(worst)s (%(worst_pct)s).")
        % {
            "best": ranked[-1][1],
            "best_pct": _pct(ranked[-1][0], signed=True),
            "worst": ranked[0][1],
            "worst_pct": _pct(ranked[0][0], signed=True),
        }
        if ranked
        else _("PnL per exit reason unknown.")
    )
    third = _("Max drawdown %(drawdown)s; avg post-1h change %(post)s.") % {
        "drawdown": _pct(report.max_drawdown_pct),
        "post": _pct(report.avg_post_1h_pct, signed=True),
    }
    return "\n".join([first, second, third])


def summarize(report: DailyReport) -> None:
    """Fill in the summary: OpenAI's three lines, else the fallback (never raises)."""
    from agents import llm  # analytics -> agents: only for this summary (see the module docstring)

    try:
        instructions = SUMMARY_INSTRUCTIONS
        if (get_language() or "").startswith("ko"):  # the report's readers read Korean
            instructions += " Write the three lines in Korean."
        lines = [
            line.strip() for line in llm.summarize(facts(report), instructions=instructions).splitlines()
        ]
        report.summary = "\n".join([line for line in lines if line][:3])
        report.summary_source = "openai"
    except Exception as exc:  # any failure (API, timeout, bad body): the report goes out regardless
        log.warning("daily report summary by OpenAI failed: %s", exc)
        report.summary = fallback_summary(report)
        report.summary_source = "fallback"
        report.notes.append(_("summary: plain fallback (OpenAI: %(error)s)") % {"error": str(exc)[:120]})


def payload(report: DailyReport) -> dict:
    """The `daily-report` notification payload (see core/notifications/embeds.py)."""
    return {
        "date": report.day.isoformat(),
        "summary": report.summary,
        "total_pnl": str(report.total_pnl.quantize(Decimal(1))),
        "win_rate": report.win_rate,
        "trade_count": report.trade_count,
        "max_drawdown_pct": report.max_drawdown_pct,
        "avg_post_1h_pct": report.avg_post_1h_pct,
        "by_exit_reason": {
            reason: {"count": row["count"], "avg_pnl_pct": _pct(row["avg_pnl_pct"], signed=True)}
            for reason, row in report.by_exit_reason.items()
        },
        "period": f"{kst_text(report.start, SHORT)} - {kst_text(report.end, SHORT)} KST",
        "notes": report.notes,
        "fill_drift": report.fill_drift,
    }


def send_daily_report(day: date, now: datetime) -> DailyReport:
    """Build, summarise and queue the `daily-report` notification.

    Built in the alerts' language: the notes and summary are text in the payload, written now.
    """
    with alert_language():
        report = build_daily_report(day, now)
        summarize(report)
        notify("daily-report", payload(report))
    return report


def _pct(value: float | None, *, signed: bool = False) -> str:
    return _("n/a") if value is None else formatting.percent(value, 2, sign=signed)
