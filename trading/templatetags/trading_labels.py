"""Template filters that name trading codes for people: `{% load trading_labels %}`."""

from django import template

from trading import glossary
from trading.models import Trade

register = template.Library()


@register.filter
def exit_label(sale: Trade | dict) -> str:
    """`{{ trade|exit_label }}`: a scale-out reads "Partial take profit (level N)", other reasons
    keep their code. `sale` is a Trade, or a row dict with exit_reason and partial_levels_done
    (analytics.exits.sell_details)."""
    if isinstance(sale, dict):
        reason, level = sale.get("exit_reason"), sale.get("partial_levels_done")
    else:
        reason, level = sale.exit_reason, (sale.signal_info or {}).get("partial_levels_done")
    return glossary.exit_label(reason or "", level)


@register.filter
def exit_meaning(reason: str) -> str:
    """The one-line meaning of an exit reason ("" for none or an unknown code)."""
    return glossary.EXIT_REASONS.get(reason or "", "")


@register.filter
def risk_meaning(violation_type: str) -> str:
    """The one-line meaning of a risk audit type ("" for an unknown one)."""
    return glossary.RISK_EVENTS.get(violation_type or "", "")


@register.filter
def code_name(code: str) -> str:
    """`{{ trade.side|code_name }}`, `{{ trade.regime|code_name }}`: BUY / 매수, BULL / 상승장."""
    return glossary.code_name(code)
