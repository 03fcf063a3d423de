from django.core.management.base import BaseCommand

from trading.control import flatten_all, set_kill_switch


class Command(BaseCommand):
    help = "Turn the kill switch on (no new entries) or off; --flatten also sells every position now."

    def add_arguments(self, parser) -> None:
        parser.add_argument("state", choices=["on", "off", "status"])
        parser.add_argument("--flatten", action="store_true", help="with 'on': sell every position at market")
        parser.add_argument("--reason", default="", help="why (kept with the switch and in the audit log)")

    def handle(self, *args, state: str, flatten: bool, reason: str, **options) -> None:
        if state == "status":
            from trading.models import TradingControl

            self.stdout.write(str(TradingControl.current()))
            return
        control = set_kill_switch(state == "on", reason=reason or "manage.py killswitch")
        self.stdout.write(self.style.WARNING(str(control)) if control.kill_switch else str(control))
        if flatten and state == "on":
            for line in flatten_all():
                self.stdout.write(line)
