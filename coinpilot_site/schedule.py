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
]
