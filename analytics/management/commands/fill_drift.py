"""`manage.py fill_drift [--day YYYY-MM-DD]`: compare a KST day's fills with its backtest now
(default: yesterday, KST), store the report (replacing that day's) and print it."""

from django.core.management.base import BaseCommand, CommandError
from django.utils import timezone

from analytics import fill_drift
from core.bounds import day_option


class Command(BaseCommand):
    help = "Replay a KST day with the backtester and compare it with the paper/live fills booked that day."

    def add_arguments(self, parser):
        parser.add_argument("--day", type=day_option(), help="KST day (YYYY-MM-DD), default yesterday")

    def handle(self, *args, day=None, **options):
        now = timezone.now()
        try:
            report = fill_drift.run_fill_drift(day or fill_drift.previous_kst_day(now), now)
        except fill_drift.FillDriftError as exc:
            raise CommandError(str(exc), returncode=2) from None
        self.stdout.write(fill_drift.render_text(report))
