"""manage.py rebuild_rollups: rebuild the chart's hourly bars from the stored 1m candles."""

from django.core.management.base import BaseCommand, CommandError

from market import rollups


class Command(BaseCommand):
    help = (
        "Rebuild the Market page's hourly bars from the stored 1-minute candles "
        "(PostgreSQL). Needed only after candles were loaded around CoinPilot (e.g. psql COPY)."
    )

    def add_arguments(self, parser) -> None:
        parser.add_argument("--symbols", help="comma-separated, e.g. KRW-BTC,KRW-ETH (default: all)")

    def handle(self, *args, **opts) -> None:
        if not rollups.enabled():
            raise CommandError("the rollup is kept on PostgreSQL only; SQLite charts read the minutes")
        symbols = [s.strip().upper() for s in (opts["symbols"] or "").split(",") if s.strip()]
        rows = rollups.rebuild(symbols or None)
        self.stdout.write(f"rollup rebuilt: {rows} bars stored")
