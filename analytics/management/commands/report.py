"""`manage.py report daily|weekly [--date YYYY-MM-DD] [--days N] [--send]`: print a report (KRW, KST).

`manage.py report track [--days N]` runs the post-exit tracker now; --days N retries windows up
to N days old (a catch-up after a replay of history or a long outage).
"""

from datetime import datetime, time, timedelta

from django.core.management.base import BaseCommand
from django.utils import timezone
from django.utils.translation import gettext as _

from analytics import daily_report, post_exit, weekly_report
from core.bounds import day_option, int_option
from core.notify import alert_language

DAY = day_option()
MAX_DAYS = 365


class Command(BaseCommand):
    help = "Print the daily or weekly exit report as it is sent; --send also queues it to Discord."

    def add_arguments(self, parser):
        parser.add_argument("kind", choices=["daily", "weekly", "track"])
        parser.add_argument(
            "--date", type=DAY, help="KST day (YYYY-MM-DD): the period ending that day at 22:00 KST"
        )
        parser.add_argument(
            "--days",
            type=int_option(1, MAX_DAYS, "days"),
            help=f"weekly: days covered (ANALYTICS_WEEKLY_DAYS); track: days to catch up; 1 to {MAX_DAYS}",
        )
        parser.add_argument(
            "--send", action="store_true", help="also send it (daily-report / weekly-exit-report)"
        )

    def handle(self, *args, kind, date=None, days=None, send=False, **options):
        now = timezone.now()
        if kind == "track":
            retry_for = timedelta(days=days) if days else post_exit.STALE_AFTER
            self.stdout.write(post_exit.track_post_exit_prices(now, retry_for=retry_for).summary())
            return
        day = date or daily_report.day_at(now)
        if kind == "daily":
            with alert_language():  # printed as it is sent
                report = daily_report.build_daily_report(day, now)
                daily_report.summarize(report)
                self.stdout.write(daily_report.facts(report) + "\n\n" + _("Summary:") + "\n" + report.summary)
                if send:
                    daily_report.notify("daily-report", daily_report.payload(report))
        else:
            end = min(now, datetime.combine(day, time(22, 0), tzinfo=daily_report.KST))
            if send:
                report = weekly_report.send_weekly_report(end, days)
            else:
                report = weekly_report.build_weekly_report(end, days)
            self.stdout.write(weekly_report.render_text(report))
        if send:
            self.stdout.write(self.style.SUCCESS(f"{kind} report queued for Discord"))
