"""Every periodic job of CoinPilot, in one table (SPEC section 3).

Cron expressions are evaluated in each job's own time zone; 6-field expressions put seconds last.
"""

from .scheduling import Schedule

SCHEDULES = [
    Schedule(
        name="heartbeat",
        func="coinpilot_site.jobs.heartbeat",
        cron="* * * * *",
        queue="default",
        grace=55,
        timeout=30,
        description="proves a worker picks up scheduled work",
    ),
    Schedule(
        name="update_regime",
        func="market.analysis_jobs.update_regime",
        cron="0 * * * * 30",  # 30 s past the hour: the collector has stored the hour's last bar
        queue="default",
        grace=300,
        timeout=600,
        description="BULL/SIDEWAYS/BEAR/UNKNOWN per active symbol from hourly MA50 vs MA200",
    ),
    Schedule(
        name="retrain_volatility",
        func="market.analysis_jobs.retrain_volatility",
        cron="5 0 * * *",
        queue="default",
        grace=3600,
        timeout=600,
        description="GARCH(1,1) volatility state of the bellwether symbol",
    ),
]
