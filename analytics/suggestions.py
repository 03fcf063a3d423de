"""Rule-based tuning suggestions from the exit table, and applying one as a new strategy version.

Rules, per trading regime (each needs MIN_RULE_EXITS exits of its kind with data):
- TRAILING_STOP early_exit_rate >= 50 %  -> widen trailing_stop_pct by 0.5 (at most 10)
- TAKE_PROFIT early_exit_rate >= 50 %    -> raise take_profit_pct by 1.0 (at most 30)
- TIME_LIMIT over_hold_rate >= 50 %      -> shorten time_limit_hours to 3/4 (at least 1)
PARTIAL_TAKE_PROFIT (scale-out) exits feed no rule: they keep the rest of the position for the
rise that follows, and never count as take-profit exits for the take_profit_pct rule.
Fewer SELLs than the minimum sample in the period: "suggestions withheld: not enough data";
nothing fired: "keep current settings". A suggestion is never applied automatically.
"""

from dataclasses import asdict, dataclass
from datetime import date

from django.conf import settings
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext, ngettext

from core.formatting import number
from trading.config import TRADING_REGIMES, load_strategy, save_strategy_version

from .exit_performance import MIN_RULE_EXITS, RATE_TRIGGER, GroupStats
from .exits import Exit
from .models import TuningSuggestion

WITHHELD, KEEP, SUGGEST = "withheld", "keep", "suggest"


@dataclass(frozen=True)
class Rule:
    exit_reason: str
    rate: str  # "early" or "over"
    parameter: str
    what: str  # how the evidence reads: "{hits} of {base} <what>" (stored with the suggestion, in English)

    def propose(self, current: float) -> float:
        if self.parameter == "trailing_stop_pct":
            return min(round(current + 0.5, 2), 10.0)
        if self.parameter == "take_profit_pct":
            return min(round(current + 1.0, 2), 30.0)
        return max(round(current * 0.75, 1), 1.0)  # time_limit_hours


RULES = (
    Rule("TRAILING_STOP", "early", "trailing_stop_pct", "trailing exits rose >= 2 % within 24 h"),
    Rule("TAKE_PROFIT", "early", "take_profit_pct", "take-profit exits rose >= 2 % within 24 h"),
    Rule("TIME_LIMIT", "over", "time_limit_hours", "time-limit exits closed at a loss"),
)


def evidence(exit_reason: str, hits: int, base: int) -> str:
    """A rule's evidence in the reader's language: "7 of 10 trailing exits rose >= 2 % within 24 h"."""
    figures = {"hits": number(hits), "base": number(base)}
    if exit_reason == "TRAILING_STOP":
        text = ngettext(
            "%(hits)s of %(base)s trailing exit rose >= 2 %% within 24 h",
            "%(hits)s of %(base)s trailing exits rose >= 2 %% within 24 h",
            base,
        )
    elif exit_reason == "TAKE_PROFIT":
        text = ngettext(
            "%(hits)s of %(base)s take-profit exit rose >= 2 %% within 24 h",
            "%(hits)s of %(base)s take-profit exits rose >= 2 %% within 24 h",
            base,
        )
    else:
        text = ngettext(
            "%(hits)s of %(base)s time-limit exit closed at a loss",
            "%(hits)s of %(base)s time-limit exits closed at a loss",
            base,
        )
    return text % figures


def suggestion_text(item: dict) -> str:
    """One suggestion (Suggestion's fields) as a line in the reader's language."""
    reason = (
        evidence(item["exit_reason"], item["hits"], item["base"])
        if item.get("exit_reason")
        else item["reason"]
    )
    return gettext("%(regime)s %(parameter)s %(current)s -> %(proposed)s: %(reason)s") % {
        "regime": item["regime"],
        "parameter": item["parameter"],
        "current": show(item["parameter"], item["current"]),
        "proposed": show(item["parameter"], item["proposed"]),
        "reason": reason,
    }


def suggestion_lines(data: dict) -> list[str]:
    """The lines of Suggestions.as_dict() in the reader's language (a cached page's data may have
    been built for a reader of the other language)."""
    if data["status"] == WITHHELD:
        return [
            gettext("suggestions withheld: not enough data (%(sells)s SELLs, minimum %(minimum)s)")
            % {"sells": number(data.get("sells", 0)), "minimum": number(data.get("minimum", 0))}
        ]
    if data["status"] == KEEP:
        return [gettext("keep current settings")]
    return [suggestion_text(item) for item in data["items"]]


@dataclass(frozen=True)
class Suggestion:
    regime: str
    parameter: str
    current: float
    proposed: float
    reason: str  # English, as stored for the admin
    exit_reason: str = ""  # the rule's evidence, to say it in the reader's language
    hits: int = 0
    base: int = 0

    @property
    def text(self) -> str:
        return suggestion_text(asdict(self))


def show(parameter: str, value: float) -> str:
    """2.0 for a percentage (reads as a setting), 24 for hours."""
    if not parameter.endswith("_pct"):
        return f"{value:g}"
    text = f"{value:.2f}".rstrip("0")
    return text + "0" if text.endswith(".") else text


@dataclass(frozen=True)
class Suggestions:
    status: str  # withheld / keep / suggest
    items: tuple[Suggestion, ...]
    strategy_version: int
    sells: int = 0  # SELLs in the period, and the minimum sample (a withheld status says both)
    minimum: int = 0

    @property
    def lines(self) -> tuple[str, ...]:
        """What to say, in the active language (the page, or a report's ALERT_LANGUAGE)."""
        return tuple(suggestion_lines(self._data()))

    def _data(self) -> dict:
        return {
            "status": self.status,
            "strategy_version": self.strategy_version,
            "sells": self.sells,
            "minimum": self.minimum,
            "items": [asdict(item) for item in self.items],
        }

    def as_dict(self) -> dict:
        data = self._data()
        return data | {
            "lines": suggestion_lines(data),
            "items": [item | {"text": suggestion_text(item)} for item in data["items"]],
        }


def suggest(
    exits: list[Exit], table: list[GroupStats], *, strategy=None, min_sample: int | None = None
) -> Suggestions:
    """The suggestions for a period's exits and their table (strategy: the active one by default)."""
    strategy = strategy or load_strategy()
    minimum = settings.ANALYTICS_MIN_SAMPLE if min_sample is None else min_sample
    if len(exits) < minimum:
        return Suggestions(WITHHELD, (), strategy.version, sells=len(exits), minimum=minimum)
    rows = {(row.regime, row.exit_reason): row for row in table}
    items = []
    for regime in TRADING_REGIMES:
        params = strategy.for_regime(regime)
        for rule in RULES:
            row = rows.get((regime, rule.exit_reason))
            if params is None or row is None:
                continue
            hits, base = (
                (row.early_exits, row.early_base) if rule.rate == "early" else (row.over_holds, row.over_base)
            )
            if base < MIN_RULE_EXITS or 100 * hits / base < RATE_TRIGGER:
                continue
            current = float(getattr(params, rule.parameter))
            proposed = rule.propose(current)
            if proposed != current:
                items.append(
                    Suggestion(
                        regime,
                        rule.parameter,
                        current,
                        proposed,
                        f"{hits} of {base} {rule.what}",
                        exit_reason=rule.exit_reason,
                        hits=hits,
                        base=base,
                    )  # fmt: skip
                )
    if not items:
        return Suggestions(KEEP, (), strategy.version, sells=len(exits), minimum=minimum)
    return Suggestions(SUGGEST, tuple(items), strategy.version, sells=len(exits), minimum=minimum)


def store_suggestions(report_date: date, suggestions: Suggestions) -> list[TuningSuggestion]:
    """Keep a weekly report's suggestions for the admin (a re-run of the same day adds nothing)."""
    rows = []
    for item in suggestions.items:
        row, _ = TuningSuggestion.objects.get_or_create(
            report_date=report_date,
            regime=item.regime,
            parameter=item.parameter,
            defaults={
                "current_value": item.current,
                "proposed_value": item.proposed,
                "reason": item.reason[:300],
                "strategy_version": suggestions.strategy_version,
            },
        )
        rows.append(row)
    return rows


class SuggestionError(Exception):
    """The suggestion cannot be applied (already applied, or the setting changed since)."""


def apply_suggestion(suggestion: TuningSuggestion, user=None):
    """Store the active strategy with this one parameter changed as a new version; return it."""
    with transaction.atomic():
        suggestion = TuningSuggestion.objects.select_for_update().get(pk=suggestion.pk)
        if suggestion.applied_at is not None:
            raise SuggestionError(
                f"suggestion #{suggestion.pk} was already applied (v{suggestion.applied_version})"
            )
        strategy = load_strategy()
        params = {regime: block.model_dump() for regime, block in strategy.regimes.items()}
        now_value = params[suggestion.regime][suggestion.parameter]
        if abs(float(now_value) - suggestion.current_value) > 1e-9:
            raise SuggestionError(
                f"{suggestion.regime} {suggestion.parameter} is {now_value:g} now, the suggestion was made "
                f"for {suggestion.current_value:g}: not applied, wait for the next report"
            )
        params[suggestion.regime][suggestion.parameter] = suggestion.proposed_value
        note = f"suggestion #{suggestion.pk} ({suggestion.report_date}): {suggestion}"
        version = save_strategy_version(symbols=list(strategy.symbols), params=params, user=user, note=note)
        suggestion.applied_at = timezone.now()
        suggestion.applied_by = user
        suggestion.applied_version = version.version
        suggestion.save(update_fields=["applied_at", "applied_by", "applied_version"])
    return version
