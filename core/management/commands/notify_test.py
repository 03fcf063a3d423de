"""Send one test alert of each event type to Discord and Telegram (the samples and sender do the work)."""

import django_rq
from django.core.management.base import BaseCommand, CommandError
from django.utils.translation import gettext_lazy
from rq.worker import SimpleWorker

from core.models import NotificationLog
from core.notifications import config
from core.notifications.discord import mask
from core.notifications.samples import SAMPLES
from core.notifications.telegram import label
from core.notify import enqueue_alert


class Command(BaseCommand):
    help = "Queue one test alert of each event type (--now: deliver them from this process and report)."

    def add_arguments(self, parser) -> None:
        parser.add_argument(
            "--now", action="store_true", help="deliver now instead of leaving it to a worker"
        )
        parser.add_argument("--event", choices=sorted(SAMPLES), action="append", help="only these events")

    def handle(self, *args, now: bool, event: list[str] | None, **options) -> None:
        if not config.configured_urls() and not any(config.telegram_chats(e) for e in config.EVENT_TYPES):
            raise CommandError(
                "Discord alerts are off: set DISCORD_WEBHOOK_URL (see .env.example); "
                "for Telegram set TELEGRAM_BOT_TOKEN and TELEGRAM_ALERT_CHAT_IDS."
            )
        ids = {}
        for name in event or sorted(SAMPLES):
            payload = {**SAMPLES[name], "test": gettext_lazy("sent by manage.py notify_test")}
            item_id = enqueue_alert(name, payload)
            url = config.webhook_url(name)
            if url:
                ids[item_id] = name
            for chat in config.telegram_chats(name):
                ids[config.item_id_for(item_id, config.telegram_hook(chat))] = f"{name} -> {label(chat)}"
            where = [mask(url)] if url else []
            where += [label(chat) for chat in config.telegram_chats(name)]
            self.stdout.write(f"{name:<20} queued for {', '.join(where) or 'nothing (no URL)'}")
        if not now:
            self.stdout.write(
                "A worker on the `notifications` queue sends them (manage.py rqworker notifications)."
            )
            return
        django_rq.get_worker("notifications", worker_class=SimpleWorker).work(
            burst=True, with_scheduler=False
        )
        outcomes = {log.ref: log for log in NotificationLog.objects.filter(ref__in=ids)}
        for ref, name in ids.items():
            log = outcomes.get(ref)
            line = (
                f"{name:<20} {log.status} after {log.attempts} attempt(s) {log.last_error}"
                if log
                else (f"{name:<20} still waiting (see the System page)")
            )
            self.stdout.write(line.rstrip())
