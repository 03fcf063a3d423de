from pathlib import Path

from django.conf import settings
from django.core.management.base import BaseCommand

from trading.config import RegimeParams
from trading.parameters import markdown_table, with_table

README = Path(settings.BASE_DIR) / "README.md"


class Command(BaseCommand):
    help = "Print the strategy parameter table (trading/parameters.py) as Markdown, or put it in the README."

    def add_arguments(self, parser) -> None:
        parser.add_argument("--readme", action="store_true", help="replace the table in README.md")

    def handle(self, *args, readme: bool, **options) -> None:
        table = markdown_table(RegimeParams)
        if readme:
            README.write_text(with_table(README.read_text(), table))
            self.stdout.write(f"wrote the parameter table into {README}")
        else:
            self.stdout.write(table, ending="")
