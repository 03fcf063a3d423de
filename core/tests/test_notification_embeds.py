"""Every event renders as a readable embed that Discord's limits accept (pure functions)."""

from datetime import UTC, datetime

import pytest

from core.notifications import embeds, limits
from core.notifications.discord import mask, redact
from core.notifications.samples import SAMPLES
from core.notify import EVENT_TYPES
from tests.fakes.discord import validate_message

AT = datetime(2026, 11, 20, 13, 5, 9, tzinfo=UTC)  # 22:05:09 KST


def fields(embed: dict) -> dict:
    return {field["name"]: field["value"] for field in embed.get("fields", [])}


@pytest.mark.parametrize("event", sorted(EVENT_TYPES))
def test_every_event_type_renders_a_readable_embed_within_limits(event):
    embed = embeds.render(event, SAMPLES[event], AT)

    assert validate_message({"embeds": [embed]}) == []
    assert embed["title"]
    assert isinstance(embed["color"], int)
    assert embed["footer"]["text"].endswith("2026-11-20 22:05:09 KST")
    assert embed.get("fields") or embed.get("description")


def test_a_profitable_sell_is_green_and_shows_pnl_and_exit_reason():
    embed = embeds.render("trade", SAMPLES["trade"], AT)

    assert embed["title"] == "SELL KRW-BTC filled · TAKE_PROFIT"
    assert embed["color"] == embeds.GREEN
    shown = fields(embed)
    assert shown["Realized PnL"] == "+2,916 KRW (+3.00%)"
    assert shown["Price"] == "95,120,000 KRW"
    assert shown["Quantity"] == "0.00105263"
    assert shown["Exit reason"] == "TAKE_PROFIT"


def test_a_losing_sell_is_red_and_a_buy_is_blue():
    loss = embeds.render(
        "trade", {**SAMPLES["trade"], "pnl": "-1200.5", "pnl_pct": "-1.2", "exit_reason": "STOP_LOSS"}, AT
    )
    buy = embeds.render("trade", {"symbol": "KRW-SOL", "side": "BUY", "price": "250000"}, AT)

    assert loss["color"] == embeds.RED
    assert fields(loss)["Realized PnL"] == "-1,201 KRW (-1.20%)"  # whole won, half away from zero
    assert (buy["title"], buy["color"]) == ("BUY KRW-SOL filled", embeds.BLUE)


def test_ai_reject_reason_is_cut_to_500_characters():
    embed = embeds.render(
        "ai-reject", {"symbol": "KRW-BTC", "regime": "BEAR", "rsi": 31, "reason": "r" * 900}, AT
    )

    assert len(embed["description"]) == 500
    assert embed["description"].endswith(limits.ELLIPSIS)
    assert embed["color"] == embeds.AMBER
    assert fields(embed) == {"Regime": "BEAR", "RSI": "31"}


def test_risk_colours_halts_red_and_warnings_amber():
    halt = embeds.render("risk", {"kind": "kill_switch", "reason": "operator"}, AT)
    cooldown = embeds.render("risk", {"kind": "cooldown_started", "symbol": "KRW-ETH"}, AT)

    assert (halt["title"], halt["color"]) == ("Risk: Kill switch", embeds.RED)
    assert cooldown["title"] == "Risk: Cooldown after consecutive losses · KRW-ETH"
    assert cooldown["color"] == embeds.AMBER


def test_risk_payload_of_the_risk_manager_reads_well():
    # the shape trading/booking.py and trading/cycle.py send: a RiskAudit violation type as kind and title
    payload = {
        "kind": "DAILY_LOSS_HALT",
        "symbol": "KRW-BTC",
        "title": "DAILY_LOSS_HALT",
        "description": "-5.1 %",
    }
    embed = embeds.render("risk", payload, AT)

    assert embed["title"] == "Risk: Daily loss limit hit: trading halted · KRW-BTC"
    assert (embed["color"], embed["description"]) == (embeds.RED, "-5.1 %")
    assert "fields" not in embed


def test_timestamps_in_payloads_are_shown_in_kst():
    embed = embeds.render(
        "trade", {"symbol": "KRW-BTC", "side": "BUY", "executed_at": "2026-11-20T13:00:00+00:00"}, AT
    )

    assert fields(embed)["Executed at"] == "2026-11-20 22:00:00 KST"


def test_an_oversized_report_is_cut_to_every_limit():
    payload = {
        "date": "2026-11-20",
        "title": "T" * 400,
        "summary": "S" * 9000,
        "by_exit_reason": {f"REASON_{n}": "v" * 3000 for n in range(5)},
        **{f"extra_{n}": "x" * 2000 for n in range(40)},
    }
    embed = embeds.render("daily-report", payload, AT)

    assert validate_message({"embeds": [embed]}) == []
    assert limits.embed_size(embed) <= limits.MESSAGE_TOTAL
    assert len(embed["title"]) == 256
    assert len(embed["description"]) >= limits.DESCRIPTION_FLOOR  # the summary keeps its room
    assert embed["fields"][-1]["name"] == "Omitted"


def test_an_embed_with_more_than_25_short_fields_keeps_24_and_counts_the_rest():
    embed = limits.fit_embed({"title": "t", "fields": [{"name": f"f{n}", "value": "v"} for n in range(30)]})

    assert len(embed["fields"]) == 25
    assert embed["fields"][-1] == {
        "name": "Omitted",
        "value": "6 more fields left out to fit Discord's limits",
    }


def test_empty_values_are_left_out_and_unknown_keys_become_fields():
    embed = embeds.render(
        "system", {"title": "Upbit 418", "detail": "banned", "until": "12:00", "empty": ""}, AT
    )

    assert embed["description"] == "banned"
    assert fields(embed) == {"Until": "12:00"}


def test_weekly_report_lists_suggestions_and_one_field_per_group():
    embed = embeds.render("weekly-exit-report", SAMPLES["weekly-exit-report"], AT)

    assert embed["description"].startswith("• BULL trailing stop")
    assert fields(embed)["BULL · TRAILING_STOP"] == "Count 10, Avg pnl pct 1.8"


def test_pack_takes_at_most_10_embeds_within_6000_characters():
    small = [{"title": "x" * 100} for _ in range(12)]
    big = [{"description": "y" * 2500} for _ in range(3)]

    assert limits.pack(small) == 10
    assert limits.pack(big) == 2
    assert limits.pack(big[:1]) == 1


def test_webhook_urls_are_masked():
    url = "https://discord.com/api/webhooks/123456789012345678/AbCdEf-GhIj_kl"

    assert mask(url) == "https://discord.com/api/webhooks/12.../****"
    assert (
        redact(f"POST {url}?wait=true failed")
        == "POST https://discord.com/api/webhooks/12.../****?wait=true failed"
    )
