from django.core.management.base import BaseCommand, CommandError
from django.utils import timezone
from rq import Worker

from core.redis_conn import get_redis


class Command(BaseCommand):
    help = "Exit 0 when the named RQ worker is registered and heart-beating (for health checks)."

    def add_arguments(self, parser) -> None:
        parser.add_argument("name", help="worker name given with rqworker --name")
        parser.add_argument("--max-age", type=int, default=600, help="seconds since its last heartbeat")

    def handle(self, *args, name: str, max_age: int, **options) -> None:
        worker = Worker.find_by_key(Worker.redis_worker_namespace_prefix + name, connection=get_redis())
        if worker is None:
            raise CommandError(f"worker {name!r} is not registered")
        age = (timezone.now() - worker.last_heartbeat).total_seconds() if worker.last_heartbeat else None
        if age is None or age > max_age:
            raise CommandError(f"worker {name!r} last heart-beat {age}s ago")
        self.stdout.write(f"worker {name} {worker.get_state()}, heartbeat {age:.0f}s ago")
