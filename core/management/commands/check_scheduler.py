from django.core.management.base import BaseCommand, CommandError

from core.system import scheduler_status


class Command(BaseCommand):
    help = "Exit 0 when the scheduler's heartbeat is recent (for health checks)."

    def handle(self, *args, **options) -> None:
        status = scheduler_status()
        if not status["alive"]:
            raise CommandError(f"scheduler not alive (last heartbeat: {status['at'] or 'never'})")
        self.stdout.write(f"scheduler alive, pid {status['pid']}, heartbeat {status['age_s']}s ago")
