from django.core.management.base import BaseCommand

from trading.control import flatten_all, set_kill_switch
from trading.risk import KST


class Command(BaseCommand):
    help = "Turn the kill switch on (no new entries) or off; --flatten also sells every position now."

    def add_arguments(self, parser) -> None:
        parser.add_argument("state", choices=["on", "off", "status"])
        parser.add_argument("--flatten", action="store_true", help="with 'on': sell every position at market")
        parser.add_argument("--reason", default="", help="why (kept with the switch and in the audit log)")

    def handle(self, *args, state: str, flatten: bool, reason: str, **options) -> None:
        if state == "status":
            from trading.models import TradingControl

            self.stdout.write(status_line(TradingControl.current()))
            return
        control = set_kill_switch(state == "on", reason=reason or "manage.py killswitch")
        self.stdout.write(self.style.WARNING(str(control)) if control.kill_switch else str(control))
        if flatten and state == "on":
            for line in flatten_all():
                self.stdout.write(line)


def status_line(control) -> str:
    """The switch, who set it, when (KST) and why: 'kill switch ON, set by admin at ... KST: news'."""
    who = control.changed_by.get_username() if control.changed_by else "a command or the system"
    line = f"{control}, set by {who} at {control.changed_at.astimezone(KST):%Y-%m-%d %H:%M} KST"
    return line + (f": {control.reason}" if control.reason else "")
