"""The Telegram bot: python-telegram-bot's Application, fed by our own long-polling loop.

Why our own loop instead of the Updater: the Updater confirms an update (the next getUpdates'
offset) while it may still be handled, so a crash loses it. Here the offset moves past an update
only after it was handled, and a HandledUpdate row skips one Telegram delivers again after a
crash between handling and confirming. Control actions are at most once whatever happens: their
Confirmation is claimed atomically (remote/actions.py).

No inbound port: the bot only calls out. The token is never logged (a filter masks it).
Each reply is written in the language of the chat's Django user (their saved preference, else
COINPILOT_ALERT_LANGUAGE): remote/access.py.
"""

import asyncio
import logging
import warnings
from datetime import timedelta

from asgiref.sync import sync_to_async
from django.conf import settings
from django.contrib.auth import get_user_model
from django.db import DatabaseError, IntegrityError, close_old_connections, connections
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_noop
from telegram import InlineKeyboardButton, InlineKeyboardMarkup, Update
from telegram.error import BadRequest, RetryAfter, TelegramError
from telegram.ext import (
    Application,
    ApplicationHandlerStop,
    BaseRateLimiter,
    CallbackQueryHandler,
    CommandHandler,
    ContextTypes,
    MessageHandler,
    TypeHandler,
    filters,
)
from telegram.warnings import PTBDeprecationWarning

from . import actions, replies
from .access import speaking_to
from .models import HandledUpdate

log = logging.getLogger("remote.telegram")
READ_COMMANDS = ["status", "positions", "profit", "daily", "risk", "ai", "system", "help", "start"]
KEEP_HANDLED = timedelta(days=7)  # Telegram keeps an unconfirmed update for 24 hours
# Fixed replies, translated when they are said (_say), in the user's language.
UNKNOWN = gettext_noop("Not a command I know: /help lists them.")
FAILED = gettext_noop("Sorry, that failed on the server; it is in the log.")


# PTB 22 warns on every RetryAfter that `retry_after` will become a timedelta: both are handled.
warnings.filterwarnings("ignore", message=".*`retry_after` will be of type", category=PTBDeprecationWarning)


def retry_seconds(exc: RetryAfter) -> float:
    value = exc.retry_after  # an int or a timedelta, depending on PTB's settings
    return value.total_seconds() if isinstance(value, timedelta) else float(value)


class RetryAfterLimiter(BaseRateLimiter):
    """Honour Telegram's 429 retry_after on every call the handlers make (getUpdates: see `run`)."""

    def __init__(self, max_retries: int = 3, max_wait: float = 60.0):
        self.max_retries, self.max_wait = max_retries, max_wait

    async def initialize(self) -> None:
        pass

    async def shutdown(self) -> None:
        pass

    async def process_request(self, callback, args, kwargs, endpoint, data, rate_limit_args):
        for attempt in range(self.max_retries + 1):
            try:
                return await callback(*args, **kwargs)
            except RetryAfter as exc:
                wait = retry_seconds(exc)
                if attempt == self.max_retries or wait > self.max_wait:
                    raise
                log.warning("telegram: %s rate limited (429), retrying after %s s", endpoint, wait)
                await asyncio.sleep(wait)
        raise AssertionError("unreachable")


class TokenFilter(logging.Filter):
    """Masks the bot token in every log record (a URL in an exception message would carry it)."""

    def __init__(self, token: str):
        super().__init__()
        self.token = token

    def filter(self, record: logging.LogRecord) -> bool:
        if self.token and self.token in record.getMessage():
            record.msg, record.args = record.getMessage().replace(self.token, "***"), None
        if record.exc_info and self.token:
            text = logging.Formatter().formatException(record.exc_info).replace(self.token, "***")
            record.exc_info, record.exc_text = None, text
        return True


class Bot:
    def __init__(self, *, token: str, base_url: str, chats: dict[int, int], poll_seconds: int):
        self.chats = chats  # chat id -> user pk
        self.poll_seconds = poll_seconds
        self.app = (
            Application.builder()
            .token(token)
            .base_url(base_url)
            .updater(None)
            .rate_limiter(RetryAfterLimiter())
            .get_updates_read_timeout(poll_seconds + 10)
            .read_timeout(15)
            .connect_timeout(10)
            .build()
        )
        self.app.add_handler(TypeHandler(Update, self.gate), group=-1)
        for name in READ_COMMANDS:
            self.app.add_handler(CommandHandler(name, self.read))
        for name in sorted(actions.COMMANDS):
            self.app.add_handler(CommandHandler(name, self.control))
        self.app.add_handler(CallbackQueryHandler(self.pressed))
        self.app.add_handler(MessageHandler(filters.ALL, self.unknown))
        self.app.add_error_handler(self.failed)
        self.stopping = asyncio.Event()

    async def gate(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        """Only the configured chats get an answer; others are logged and ignored."""
        chat = update.effective_chat
        if chat is None or chat.id not in self.chats:
            log.warning(
                "telegram: ignored an update from chat %s (not in TELEGRAM_ALLOWED_CHATS)",
                chat.id if chat else "?",
            )
            raise ApplicationHandlerStop

    async def read(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        name = update.message.text.split()[0].lstrip("/").split("@")[0]
        name = "help" if name == "start" else name
        user_pk = self.chats[update.effective_chat.id]
        text = await sync_to_async(_answer_read)(name, list(context.args or []), user_pk)
        await update.message.reply_text(text)

    async def control(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        name = update.message.text.split()[0].lstrip("/").split("@")[0]
        chat_id = update.effective_chat.id
        reply = await sync_to_async(_propose)(name, list(context.args or []), chat_id, self.chats[chat_id])
        markup = None
        if reply.buttons:
            row = [InlineKeyboardButton(label, callback_data=data) for label, data in reply.buttons]
            markup = InlineKeyboardMarkup([row])
        await update.message.reply_text(reply.text, reply_markup=markup)

    async def pressed(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        query = update.callback_query
        chat_id = update.effective_chat.id
        outcome = await sync_to_async(_press)(query.data or "", chat_id, self.chats[chat_id])
        await query.answer(outcome[:190])  # the toast; the message below shows all of it
        try:
            await query.edit_message_text(outcome, reply_markup=None)
        except BadRequest as exc:  # e.g. "message is not modified" on a second tap
            log.info("telegram: message not edited: %s", exc)

    async def unknown(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        if update.message:
            user_pk = self.chats[update.effective_chat.id]
            text = await sync_to_async(_say)(user_pk, UNKNOWN)
            await update.message.reply_text(text)

    async def failed(self, update: object, context: ContextTypes.DEFAULT_TYPE) -> None:
        log.error("telegram: handling an update failed: %s", context.error, exc_info=context.error)
        if isinstance(update, Update) and update.effective_chat and update.effective_chat.id in self.chats:
            chat_id = update.effective_chat.id
            try:
                text = await sync_to_async(_say)(
                    self.chats[chat_id], "Sorry, that failed on the server; it is in the log."
                )
            except Exception:  # the database may be what failed: say it in English
                text = FAILED
            try:
                await context.bot.send_message(chat_id, text)
            except TelegramError:
                pass

    async def run(self) -> None:
        """Long-poll until `stopping` is set; an update is confirmed only once it was handled."""
        try:
            await self._poll_until_stopped()
        finally:
            # the ORM ran in sync_to_async's thread: its connection is closed there, not left open
            await sync_to_async(connections.close_all)()

    async def _poll_until_stopped(self) -> None:
        offset = None
        backoff = db_backoff = 0.5
        async with self.app:
            log.info("telegram: bot @%s polling for %d chat(s)", self.app.bot.username, len(self.chats))
            while not self.stopping.is_set():
                try:
                    updates = await self._poll(offset)
                except RetryAfter as exc:
                    wait = retry_seconds(exc)
                    log.warning("telegram: getUpdates rate limited (429), waiting %s s", wait)
                    await self._sleep(wait)
                    continue
                except TelegramError as exc:  # 5xx, a timeout, a body that is not JSON
                    log.warning("telegram: getUpdates failed (%s); retrying in %.0f s", exc, backoff)
                    await self._sleep(backoff)
                    backoff = min(backoff * 2, 30.0)
                    continue
                backoff = 0.5
                if updates is None:
                    break  # stopping: the long poll was dropped, nothing was handled
                for update in updates:
                    try:
                        await self.handle(update)
                    except DatabaseError as exc:  # a restart, a dropped connection, a locked file
                        log.warning(
                            "telegram: database failed before update %s was handled (%s); retry in %.0f s",
                            update.update_id,
                            exc,
                            db_backoff,
                        )
                        await self._sleep(db_backoff)
                        db_backoff = min(db_backoff * 2, 30.0)
                        break  # not confirmed: the next poll brings it again
                    db_backoff = 0.5
                    offset = update.update_id + 1

    async def _poll(self, offset: int | None) -> tuple[Update, ...] | None:
        """One long poll (None: dropped because the bot is asked to stop)."""
        poll = asyncio.ensure_future(
            self.app.bot.get_updates(
                offset=offset, timeout=self.poll_seconds, allowed_updates=["message", "callback_query"]
            )
        )
        stop = asyncio.ensure_future(self.stopping.wait())
        await asyncio.wait({poll, stop}, return_when=asyncio.FIRST_COMPLETED)
        stop.cancel()
        if not poll.done():
            poll.cancel()
            return None
        return poll.result()

    async def handle(self, update: Update) -> None:
        if await sync_to_async(_handled)(update.update_id):
            log.info("telegram: update %s was handled before; skipped", update.update_id)
            return
        await self.app.process_update(update)
        try:
            await sync_to_async(_mark_handled)(update.update_id)
        except DatabaseError as exc:  # answered already: handling it again would answer twice
            log.warning("telegram: update %s was handled but not recorded (%s)", update.update_id, exc)

    async def _sleep(self, seconds: float) -> None:
        try:
            await asyncio.wait_for(self.stopping.wait(), timeout=seconds)
        except TimeoutError:
            pass


# --- the synchronous parts (ORM), run in a thread by sync_to_async ------------------------------


def _say(user_pk: int, message: str) -> str:
    close_old_connections()
    with speaking_to(user_pk):
        return _(message)


def _answer_read(name: str, args: list[str], user_pk: int | None = None) -> str:
    close_old_connections()
    with speaking_to(user_pk):
        try:
            return replies.read_command(name, args, timezone.now())
        except replies.BadArgument as exc:
            return str(exc)


def _propose(name: str, args: list[str], chat_id: int, user_pk: int) -> actions.Reply:
    close_old_connections()
    with speaking_to(user_pk):
        try:
            request = actions.parse(name, args)
        except replies.BadArgument as exc:
            return actions.Reply(str(exc))
        user = get_user_model().objects.get(pk=user_pk)
        return actions.propose(request, chat_id=chat_id, user=user, now=timezone.now())


def _press(data: str, chat_id: int, user_pk: int | None = None) -> str:
    close_old_connections()
    with speaking_to(user_pk):
        return actions.press(data, chat_id=chat_id, now=timezone.now())


def _handled(update_id: int) -> bool:
    close_old_connections()
    return HandledUpdate.objects.filter(update_id=update_id).exists()


def _mark_handled(update_id: int) -> None:
    try:
        HandledUpdate.objects.create(update_id=update_id)
    except IntegrityError:
        pass  # another bot process handled it too (reads only: actions are claimed)


def forget_old_updates() -> int:
    return HandledUpdate.objects.filter(handled_at__lt=timezone.now() - KEEP_HANDLED).delete()[0]


def build(chats: dict[int, int]) -> Bot:
    return Bot(
        token=settings.TELEGRAM_BOT_TOKEN,
        base_url=settings.TELEGRAM_API_BASE_URL,
        chats=chats,
        poll_seconds=settings.TELEGRAM_POLL_SECONDS,
    )
