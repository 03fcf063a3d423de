from django.core.management.base import BaseCommand, CommandError
from django.utils import timezone

from trading.cycle import run_cycle
from trading.executors import get_executor
from trading.markets import live_market


class Command(BaseCommand):
    help = "Run one bot cycle now and print what it did per symbol."

    def add_arguments(self, parser) -> None:
        parser.add_argument("--once", action="store_true", help="run a single cycle (the only mode)")

    def handle(self, *args, **options) -> None:
        if not options["once"]:
            raise CommandError("use --once (the scheduler runs the cycle every minute)")
        now = timezone.now()
        results = run_cycle(
            now=now, slot=now.replace(second=0, microsecond=0), market=live_market(), executor=get_executor()
        )
        for r in results:
            price = f"{r.price:,.8g}" if r.price is not None else "-"
            self.stdout.write(
                f"{r.symbol:<10} {r.action:<8} {r.regime or '-':<9} {price:>14}  {r.reason}: {r.detail}"
            )
