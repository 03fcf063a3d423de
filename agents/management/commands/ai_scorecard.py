from datetime import timedelta

from django.core.management.base import BaseCommand
from django.utils import timezone

from agents.scorecard import HORIZONS, scorecard

COLUMNS = (
    "approvals",
    "avg after approval %",
    "vetoes",
    "avg after veto %",
    "avoided loss",
    "missed gain",
    "hit %",
)


class Command(BaseCommand):
    help = "Veto scorecard: per regime, how often an AI veto avoided a loss vs missed a gain."

    def add_arguments(self, parser):
        parser.add_argument("--days", type=int, default=30, help="decisions of the last N days (0 = all)")

    def handle(self, *args, days: int, **options):
        since = timezone.now() - timedelta(days=days) if days else None
        card = scorecard(since=since)
        if not card:
            self.stdout.write("No tracked AI decisions yet.")
            return
        self.stdout.write(f"{'regime':<9} {'after':<5} " + " ".join(f"{c:>20}" for c in COLUMNS))
        for regime, by_horizon in card.items():
            for label in HORIZONS:
                row = by_horizon[label]
                values = (
                    row["approvals"],
                    row["avg_move_after_approval_pct"],
                    row["vetoes"],
                    row["avg_move_after_veto_pct"],
                    row["vetoes_avoided_loss"],
                    row["vetoes_missed_gain"],
                    row["veto_hit_rate_pct"],
                )
                cells = " ".join(f"{'-' if v is None else v:>20}" for v in values)
                self.stdout.write(f"{regime:<9} {label:<5} {cells}")
