"""Every periodic job of CoinPilot, in one table (the descriptions are the System page's tooltips).

Cron expressions are evaluated in each job's own time zone; 6-field expressions put seconds last.
"""

from django.utils.translation import gettext_lazy as _

from core.scheduling import Schedule

SCHEDULES = [
    Schedule(
        name="heartbeat",
        func="core.jobs.heartbeat",
        cron="* * * * *",
        queue="default",
        grace=55,
        timeout=30,
        description=_("proves a worker picks up scheduled work"),
    ),
    Schedule(
        name="collect_candles",
        func="market.jobs.collect_candles",
        cron="* * * * * 3",  # 3 s after the minute: the bar that just closed is final on Upbit
        queue="market",
        grace=55,
        timeout=120,  # a long gap is filled 36 pages per symbol per run; later slots are skipped meanwhile
        description=_("newest closed 1m candles of every active symbol; fills the gap after downtime"),
    ),
    Schedule(
        name="bot_cycle",
        func="trading.jobs.bot_cycle",
        # 20 s after the minute: the collector (at :03, rate-limited to about 10 s for 100
        # symbols) has stored the bar that just closed; a cycle that starts later is skipped.
        cron="* * * * * 20",
        queue="bot",
        grace=30,
        timeout=55,
        description=_("the trading loop: exits, entries, risk, AI gate, execution, bot status"),
    ),
    Schedule(
        name="update_regime",
        func="market.analysis_jobs.update_regime",
        cron="0 * * * * 30",  # 30 s past the hour: the collector has stored the hour's last bar
        queue="default",
        grace=300,
        timeout=600,
        description=_("BULL/SIDEWAYS/BEAR/UNKNOWN per active symbol from hourly MA50 vs MA200"),
    ),
    Schedule(
        name="retrain_volatility",
        func="market.analysis_jobs.retrain_volatility",
        cron="5 0 * * *",
        queue="default",
        grace=3600,
        timeout=600,
        description=_("GARCH(1,1) volatility state of the bellwether symbol"),
    ),
    Schedule(
        name="refresh_upbit_markets",
        func="market.listing_jobs.refresh_upbit_markets",
        cron="10 0 * * *",  # daily; Upbit lists and flags markets during its working day
        tz="Asia/Seoul",
        queue="market",
        grace=3600,
        timeout=120,
        description=_(
            "Upbit's market list: real KRW markets, warning/caution flags, delistings (upbit source)"
        ),
    ),
    Schedule(
        name="track_post_exit_prices",
        func="analytics.jobs.track_post_exit_prices",
        cron="*/10 * * * *",
        queue="default",
        grace=300,
        timeout=300,
        description=_("price 1h/4h/12h/24h after each SELL (post_exit_prices)"),
    ),
    Schedule(
        name="daily_report",
        func="analytics.jobs.daily_report",
        cron="0 22 * * *",
        tz="Asia/Seoul",
        queue="default",
        grace=3600,
        timeout=300,  # the OpenAI summary is bounded by OPENAI_TIMEOUT_SECONDS
        description=_("daily report of the 24 h ending 22:00 KST, with a three-line summary"),
    ),
    Schedule(
        name="fill_drift",
        func="analytics.jobs.fill_drift",
        cron="30 22 * * *",  # after the daily report
        tz="Asia/Seoul",
        queue="default",
        grace=3600,
        timeout=600,  # one backtest of a day per config version, over every symbol
        description=_("the previous KST day's paper/live fills against its backtest (fill drift)"),
    ),
    Schedule(
        name="weekly_exit_report",
        func="analytics.jobs.weekly_exit_report",
        cron="0 22 * * 0",
        tz="Asia/Seoul",
        queue="default",
        grace=3600,
        timeout=300,
        description=_("exit performance by regime x exit reason, with tuning suggestions"),
    ),
    Schedule(
        name="forget_old_job_runs",
        func="core.jobs.forget_old_job_runs",
        cron="20 4 * * *",  # 04:20 KST: no report or retraining runs then
        tz="Asia/Seoul",
        queue="default",
        grace=3600,
        timeout=600,
        description=_("deletes job run records older than JOB_RUNS_KEEP_DAYS (each job's latest is kept)"),
    ),
    Schedule(
        name="track_ai_decision_prices",
        func="agents.jobs.track_decision_prices",
        cron="5-59/10 * * * *",  # every 10 minutes, 5 minutes after the post-exit tracker
        queue="default",
        grace=300,
        timeout=300,
        description=_("price 1h/4h/24h after each AI decision (the veto scorecard)"),
    ),
]
