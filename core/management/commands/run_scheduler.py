import signal

from django.core.management.base import BaseCommand

from core.errors import tag_process
from core.scheduling import SlotScheduler, enqueue_now, get_schedules


class Command(BaseCommand):
    help = "Run the slot scheduler: enqueue each due job slot once (safe to run several)."

    def add_arguments(self, parser) -> None:
        parser.add_argument(
            "--warm-up",
            default="",
            metavar="JOB,JOB",
            help="run these jobs once at start, e.g. after Redis lost its cached regimes",
        )

    def handle(self, *args, warm_up: str, **options) -> None:
        tag_process("scheduler")
        stop = {"requested": False}

        def request_stop(signum, frame) -> None:
            stop["requested"] = True

        signal.signal(signal.SIGTERM, request_stop)
        signal.signal(signal.SIGINT, request_stop)
        schedules = get_schedules()
        for s in schedules:
            self.stdout.write(f"  {s.name:<24} {s.cron:<16} {s.tz:<11} -> {s.queue}")
        for name in filter(None, warm_up.split(",")):
            self.stdout.write(f"  warm-up: {name} -> {enqueue_now(name).id}")
        self.stdout.write(self.style.SUCCESS(f"scheduler running with {len(schedules)} jobs"))
        SlotScheduler(schedules).run_forever(should_stop=lambda: stop["requested"])
        self.stdout.write("scheduler stopped")
