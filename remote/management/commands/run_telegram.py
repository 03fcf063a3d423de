"""Run the Telegram remote-control bot (long polling: no inbound port)."""

import asyncio
import logging
import signal

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError
from django.db import DatabaseError

from remote.access import AccessError, parse_allowed_chats, resolve_users
from remote.bot import TokenFilter, build, forget_old_updates


class Command(BaseCommand):
    help = (
        "Answer the operators' Telegram commands (/status, /killswitch, ...). Needs TELEGRAM_BOT_TOKEN "
        "and TELEGRAM_ALLOWED_CHATS (chat id:Django username pairs); SIGTERM or Ctrl-C stops it."
    )

    def handle(self, *args, **options) -> None:
        token = settings.TELEGRAM_BOT_TOKEN
        if not token:
            raise CommandError("TELEGRAM_BOT_TOKEN is not set: create a bot with @BotFather and set it")
        for handler in logging.getLogger().handlers:
            handler.addFilter(TokenFilter(token))
        try:
            chats = resolve_users(parse_allowed_chats(settings.TELEGRAM_ALLOWED_CHATS))
            forget_old_updates()
        except AccessError as exc:
            raise CommandError(str(exc)) from None
        except DatabaseError as exc:
            raise CommandError(f"the database is not ready ({exc}): run `manage.py migrate` first") from None
        asyncio.run(self._run(build(chats)))
        self.stdout.write("telegram bot stopped")

    async def _run(self, bot) -> None:
        loop = asyncio.get_running_loop()
        for signum in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(signum, bot.stopping.set)
        await bot.run()
