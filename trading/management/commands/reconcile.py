from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from market.upbit import UpbitError
from trading import reconcile
from trading.models import TradingControl


class Command(BaseCommand):
    help = "Reconcile the live books with Upbit: book or fail unbooked orders, compare balances."

    def add_arguments(self, parser) -> None:
        parser.add_argument(
            "--resume", action="store_true", help="clear a recorded mismatch (once fixed), then check again"
        )

    def handle(self, *args, **options) -> None:
        if not settings.COINPILOT_LIVE_TRADING:
            raise CommandError("live trading is off (COINPILOT_LIVE_TRADING): there is nothing to reconcile")
        from trading.executors.live import LiveExecutor

        if options["resume"]:
            reconcile.resume()
            self.stdout.write("mismatch cleared; checking again")
        try:
            report = reconcile.reconcile(LiveExecutor.from_settings().client)
        except UpbitError as exc:
            raise CommandError(f"reconciliation failed: {exc}") from exc
        for line in report.lines():
            self.stdout.write(self.style.ERROR(line) if line.startswith(("MISMATCH", "entries")) else line)
        mismatch = "; ".join(report.mismatches) or TradingControl.current().reconcile_mismatch
        if mismatch:  # scripts and cron must see it fail
            raise CommandError(f"the books do not match Upbit (entries refused until fixed): {mismatch}")
