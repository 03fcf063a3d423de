"""Scale-outs (PARTIAL_TAKE_PROFIT) in Exit analysis and the reports: their own group with the PnL
booking computed, no tuning rule fed by them, their meaning given wherever codes are listed."""

import json
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

import pytest
from django.contrib.auth import get_user_model
from django.utils import timezone

from analytics.daily_report import build_daily_report, facts
from analytics.exit_performance import exit_table
from analytics.exits import Exit, load_exits
from analytics.suggestions import KEEP, SUGGEST, suggest
from analytics.weekly_report import build_weekly_report, render_text
from tests.scale_out import book_scale_out
from trading.config import default_strategy
from trading.glossary import EXIT_REASONS

DAY = date(2026, 11, 21)
CLOSE = datetime(2026, 11, 21, 13, 0, tzinfo=UTC)  # 22:00 KST: the end of DAY's report
BOUGHT = datetime(2026, 11, 21, 2, 0, tzinfo=UTC)  # 11:00 KST; the sales follow hourly
PARTIAL = "PARTIAL_TAKE_PROFIT"

pytestmark = pytest.mark.django_db


@pytest.fixture
def scaled():
    return book_scale_out(at=BOUGHT, price=Decimal(100_000_000))


def test_scale_outs_are_their_own_group_with_bookings_pnl(scaled):
    exits = load_exits(BOUGHT, CLOSE)
    partial = [e for e in exits if e.exit_reason == PARTIAL]
    assert [e.id for e in partial] == [t.pk for t in scaled.partials]
    for exit_, sale in zip(partial, scaled.partials, strict=True):
        assert abs(exit_.pnl - Decimal(sale.signal_info["pnl"])) < Decimal("1e-6")  # booking's figure
        assert exit_.pnl_pct == pytest.approx(float(sale.signal_info["pnl_pct"]), abs=1e-4)
    rows = {(r.regime, r.exit_reason): r for r in exit_table(exits)}
    assert set(rows) == {("BULL", PARTIAL), ("BULL", "TAKE_PROFIT")}
    group = rows[("BULL", PARTIAL)]
    pnl_pcts = [float(t.signal_info["pnl_pct"]) for t in scaled.partials]
    assert (group.count, group.avg_hold_hours) == (2, 1.5)  # sold 1 h and 2 h after the entry
    assert group.avg_pnl_pct == pytest.approx(sum(pnl_pcts) / 2, abs=0.01) and group.avg_pnl_pct > 0
    assert group.early_exit_rate is None and group.over_hold_rate is None  # judged by no rule
    assert rows[("BULL", "TAKE_PROFIT")].count == 1


def _exits(reason: str, n: int = 6) -> list[Exit]:
    return [
        Exit(
            id=i,
            symbol="KRW-BTC",
            regime="BULL",
            exit_reason=reason,
            at=BOUGHT,
            price=Decimal(102),
            quantity=Decimal(1),
            fee=Decimal(0),
            pnl=Decimal(2),
            pnl_pct=2.0,
            hold_hours=1.0,
            post_changes={"24h": 5.0},
        )
        for i in range(n)
    ]


def test_a_rise_after_scale_outs_suggests_no_wider_take_profit():
    strategy = default_strategy()
    partials = _exits(PARTIAL)
    kept = suggest(partials, exit_table(partials), strategy=strategy, min_sample=0)
    assert kept.status == KEEP and kept.items == ()
    full = _exits("TAKE_PROFIT")  # the same evidence on full exits does move the take profit
    moved = suggest(full, exit_table(full), strategy=strategy, min_sample=0)
    assert moved.status == SUGGEST and [i.parameter for i in moved.items] == ["take_profit_pct"]


def test_exit_analysis_page_shows_the_group_and_each_sale_by_level(client):
    client.force_login(get_user_model().objects.create_user("op", password="pw-123456789"))
    book_scale_out(at=timezone.now() - timedelta(hours=6), price=Decimal(100_000_000))
    html = client.get("/exits/?days=7").content.decode()
    data = json.loads(html.split('id="exit-data" type="application/json">')[1].split("</script>")[0])
    assert [(r["exit_reason"], r["count"]) for r in data["table"]] == [(PARTIAL, 2), ("TAKE_PROFIT", 1)]
    assert len(data["pnl_by_exit_reason"][PARTIAL]) == 2
    table = html.split('id="exit-table"')[1].split("</section>")[0]
    assert table.count(">not judged</span>") == 1  # only the scale-out row
    details = html.split('id="exit-details"')[1].split("</section>")[0]
    assert details.index("Partial take profit (level 2)") < details.index("Partial take profit (level 1)")
    assert ">TAKE_PROFIT</td>" in details


def test_the_daily_report_counts_scale_outs_and_says_what_they_are(scaled):
    report = build_daily_report(DAY, CLOSE)
    assert report.by_exit_reason[PARTIAL]["count"] == 2 and report.trade_count == 3
    expected = sum(Decimal(t.signal_info["pnl"]) for t in [*scaled.partials, scaled.final])
    assert abs(report.total_pnl - expected) < Decimal("1e-6")
    text = facts(report)
    line = next(line for line in text.splitlines() if line.strip().startswith(PARTIAL))
    assert line.startswith(f"  {PARTIAL}: 2 exits, avg PnL +") and EXIT_REASONS[PARTIAL] in line
    assert any("2 of the 3 are scale-outs (PARTIAL_TAKE_PROFIT)" in note for note in report.notes)


def test_the_weekly_text_keeps_its_columns_and_explains_the_codes(scaled):
    text = render_text(build_weekly_report(CLOSE, days=7))
    lines = text.splitlines()
    header = next(line for line in lines if line.startswith("regime"))
    row = next(line for line in lines if line.startswith("BULL") and PARTIAL in line)
    assert row.split()[:3] == ["BULL", PARTIAL, "2"]
    count_column = header.index("   n") + 3
    assert row[count_column] == "2" and row[count_column + 1] == " "  # the count sits under its header
    assert (
        f"  {PARTIAL}: {EXIT_REASONS[PARTIAL]}" in lines
        and f"  TAKE_PROFIT: {EXIT_REASONS['TAKE_PROFIT']}" in lines
    )
