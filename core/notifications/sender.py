"""Delivery of alerts to Discord and Telegram: the jobs of the `notifications` queue (the only place
that sends).

Every destination (a Discord webhook, each chat of TELEGRAM_ALERT_CHAT_IDS) has its own outbox,
lock and pacing, keyed by a fingerprint (a Telegram chat's is `tg:<hash of token and chat>`), and
runs the same loop below; a Telegram chat gets one alert per message (telegram_text.py), about one
a second, and has no 404 switch (every 4xx but 429 fails the message, as for Discord).

How an alert travels. `notify()` appends an item to its webhook's outbox in Redis (outbox.py) and
queues `send_notification(event, payload)` with the item's id as the job id. The job makes sure
the item is in the outbox (idempotent: a direct call or a retried job pushes it once), then
delivers for that webhook:

- one worker at a time per webhook (a Redis lock), so pacing holds across worker processes;
- the items at the head become one message of up to 10 embeds within 6000 characters, so a
  burst queued while the previous message was paced out is coalesced;
- sending waits for `next_at`: about 2 s after each message (DISCORD_MIN_INTERVAL_SECONDS), a
  429's `retry_after` (body or header), or the retry backoff (1, 2, 4 s);
- items leave the outbox only once Discord accepted the message (`?wait=true`, 2xx), removed
  before anything else happens, or once they failed for good: a 4xx other than 429, a 404
  (which also switches that webhook off, persisted, with one log line), or 3 retries of network
  errors, timeouts and 5xx. Every final outcome is a NotificationLog row and a metric.

A worker that dies mid-send leaves the items in the outbox; rq retries the job (`Retry` set by
notify) and any later alert to the webhook delivers them. The one duplicate that cannot be ruled
out: Discord saved a message but its answer was lost (timeout) - webhooks take no idempotency
key, so the retry posts it again. One job works for at most DISCORD_SLICE_SECONDS (plus one HTTP
timeout) and then queues a continuation, so a worker that also serves the bot queue is never
held for long by a slow Discord.
"""

import json
import logging
import time
from dataclasses import replace
from datetime import datetime
from uuid import uuid4

import django_rq
from django.utils.translation import gettext as _
from redis.exceptions import LockError
from rq import get_current_job

from ..notify import alert_language, notify
from . import config, discord, embeds, limits, outbox, records, telegram, telegram_text

log = logging.getLogger(__name__)
KICK_TTL = 300


def send_notification(event_type: str, payload: dict) -> str:
    """RQ job: make sure this alert is in each destination's outbox, then deliver what is due.

    The first destination (the Discord webhook, else the first Telegram chat) is delivered in this
    job; every other one gets its own continuation job, so a slow channel never holds another.
    """
    hooks = config.destinations(event_type)
    if not hooks:
        records.warn_once("no-url", "Discord alerts are off: DISCORD_WEBHOOK_URL is not set")
        records.count(event_type, "off")
        return "off: no webhook URL"
    job = get_current_job()
    item = outbox.make_item(job.id if job else uuid4().hex, event_type, payload)
    for hook in hooks:
        outbox.push(hook, item | {"id": config.item_id_for(item["id"], hook)})
    for hook in hooks[1:]:
        _kick(hook)
    return deliver(hooks[0])


def drain_webhook(hook: str) -> str:
    """RQ job: go on delivering for one webhook (queued when a job ended with items left)."""
    outbox.clear_kick(hook)
    return deliver(hook)


def deliver(hook: str) -> str:
    """Deliver what is due for one webhook; returns a summary.

    When another worker holds the webhook's lock, wait for it up to one time slice. If it is
    still held (a busy worker, or a dead one whose lock has not expired yet), a continuation
    job comes back later, so items are never stranded behind a worker that died.
    """
    timings = config.Timings.from_settings()
    ttl = int(timings.slice + 3 * timings.timeout) + 5  # a slice, then at most one HTTP attempt
    lock = outbox.get_redis().lock(outbox.lock_key(hook), timeout=ttl, blocking_timeout=timings.slice)
    if not lock.acquire():
        _kick(hook)
        return "another worker is delivering for this webhook"
    try:
        if hook.startswith(config.TELEGRAM_PREFIX):
            chat = config.telegram_chat_of(hook)
            tg_timings = replace(timings, interval=config.TELEGRAM_INTERVAL)
            summary = _TelegramDrain(hook, chat, tg_timings).run() if chat is not None else _drop(hook)
        else:
            url = next((u for u in config.configured_urls() if discord.fingerprint(u) == hook), None)
            summary = _Drain(hook, url, timings).run() if url else _reroute(hook)
    finally:
        try:
            lock.release()
        except LockError:
            log.warning("notifications lock of webhook %s expired while delivering", hook)
    # Checked after the release: a job that pushed while we held the lock and gave up waiting
    # for it has queued a continuation, or its item is seen here.
    if outbox.length(hook):
        _kick(hook)
    return summary


def _kick(hook: str) -> None:
    """Queue one continuation job for this webhook unless one is pending already."""
    if outbox.claim_kick(hook, KICK_TTL):
        queue = django_rq.get_queue("notifications", commit_mode="auto", connection=outbox.get_redis())
        queue.enqueue(drain_webhook, hook, result_ttl=600)


class _Drain:
    """One bounded pass of sending for one webhook (the caller holds its lock)."""

    channel = "Discord"

    def __init__(self, hook: str, url: str, timings: config.Timings):
        self.hook, self.url, self.timings = hook, url, timings
        self.label = discord.mask(url)  # what NotificationLog.webhook shows
        self.deadline = time.monotonic() + timings.slice
        self.sent = self.failed = 0

    def run(self) -> str:
        while time.monotonic() < self.deadline:
            batch = self._next_batch()
            if not batch:
                return self._summary("outbox empty")
            wait = outbox.wait_seconds(self.hook)
            if wait > 0:
                time.sleep(min(wait, max(self.deadline - time.monotonic(), 0.0)))
                continue
            self._post(batch)
        return self._summary("time slice used, continuing in a new job")

    def _summary(self, end: str) -> str:
        return f"sent {self.sent}, failed {self.failed}; {end}"

    def _next_batch(self) -> list[dict]:
        """The items of the next message: at most 10, within 6000 characters, all switched on."""
        switches = records.switches()
        if any(gone == self.hook for _, gone in switches.values()):
            self._fail_everything("webhook switched off: it answered 404 (set a new URL to send again)")
            return []
        while True:
            items = outbox.head(self.hook, limits.EMBEDS_PER_MESSAGE)
            off = next((i for i, item in enumerate(items) if _enabled(switches, item)), len(items))
            if not off:
                break
            outbox.remove_head(self.hook, off)  # switched off in the admin: dropped, counted
            for item in items[:off]:
                records.count(item["event"], "off")
        batch = []
        for item in items:
            if not _enabled(switches, item):
                break
            item["embed"] = _render(item)
            item["title"] = item["embed"].get("title", "")
            batch.append(item)
        return batch[: limits.pack([item["embed"] for item in batch])] if batch else []

    def _send(self, batch: list[dict]) -> discord.Answer:
        message = {
            "username": "CoinPilot",
            "embeds": [item["embed"] for item in batch],
            "allowed_mentions": {"parse": []},  # text from payloads never pings anyone
        }
        return discord.execute_webhook(self.url, message, timeout=self.timings.timeout)

    def _post(self, batch: list[dict]) -> None:
        answer = self._send(batch)
        state = outbox.state(self.hook)
        posts, now = state["posts"] + 1, time.time()
        if answer.kind == discord.ACCEPTED:
            outbox.remove_head(self.hook, len(batch))  # first: whatever happens next, never resent
            self._reset(now + max(self.timings.interval, answer.retry_after))
            records.record(batch, "sent", attempts=posts, webhook=self.label)
            self.sent += len(batch)
        elif answer.kind == discord.RATE_LIMITED:
            self._again(batch, answer, state, posts, now, "rate_limited")
        elif answer.kind == discord.RETRYABLE:
            self._again(batch, answer, state, posts, now, "errors")
        elif answer.kind == discord.GONE:
            self._gone(answer)
        else:
            log.warning("%s refused a message (%s); not retried", self.channel, answer.error)
            self._fail(batch, posts, answer.error)

    def _again(self, batch, answer, state, posts, now, counter: str) -> None:
        """A 429 or a retryable failure: wait and retry, or give up after the allowed number."""
        tries = state[counter] + 1
        allowed = config.MAX_RATE_LIMITED if counter == "rate_limited" else self.timings.max_retries
        if tries > allowed:
            self._fail(batch, posts, f"gave up after {posts} attempts; last: {answer.error}")
            return
        if counter == "rate_limited":
            wait = answer.retry_after
        else:
            wait = self.timings.backoff(tries)
        fields = {"next_at": now + wait, "posts": posts, "last_error": answer.error, counter: tries}
        outbox.save_state(self.hook, **fields)
        for item in batch:
            records.count(item["event"], "rate_limited" if counter == "rate_limited" else "retry")
        log.info("%s: %s; retrying in %.2fs", self.channel, answer.error, wait)

    def _fail(self, batch: list[dict], posts: int, error: str) -> None:
        outbox.remove_head(self.hook, len(batch))
        self._reset(time.time() + self.timings.interval)  # failed requests count against the limit too
        records.record(batch, "failed", attempts=posts, error=error, webhook=self.label)
        self.failed += len(batch)

    def _gone(self, answer: discord.Answer) -> None:
        events = config.events_of(self.url)
        records.mark_gone(events, self.hook)
        log.error(
            "Discord webhook %s answered 404: alerts for %s are off until its URL changes",
            discord.mask(self.url),
            ", ".join(events),
        )
        self._fail_everything(f"webhook answered 404 ({answer.error})")
        system_url = config.webhook_url("system")
        if system_url and discord.fingerprint(system_url) != self.hook:
            with alert_language():
                detail = _(
                    "%(webhook)s answered 404; alerts for %(events)s are off until its URL changes"
                ) % {
                    "webhook": discord.mask(self.url),
                    "events": ", ".join(events),
                }
                notify("system", {"title": _("Discord webhook removed"), "detail": detail})

    def _fail_everything(self, error: str) -> None:
        while items := outbox.head(self.hook, 100):
            records.record(items, "failed", attempts=0, error=error, webhook=self.label)
            outbox.remove_head(self.hook, len(items))
            self.failed += len(items)

    def _reset(self, next_at: float) -> None:
        outbox.save_state(self.hook, next_at=next_at, posts=0, errors=0, rate_limited=0, last_error="")


class _TelegramDrain(_Drain):
    """The same pass for one Telegram chat: one alert per message, about one message a second."""

    channel = "Telegram"

    def __init__(self, hook: str, chat_id: int, timings: config.Timings):
        super().__init__(hook, "", timings)
        self.chat_id, self.label = chat_id, telegram.label(chat_id)

    def _next_batch(self) -> list[dict]:
        """The oldest item switched on in the admin (the ones before it switched off are dropped)."""
        switches = records.switches()
        while items := outbox.head(self.hook, 1):
            item = items[0]
            if _enabled(switches, item):
                item["embed"] = _render(item, telegram=True)
                item["title"] = item["embed"].get("title", "")
                return [item]
            outbox.remove_head(self.hook, 1)
            records.count(item["event"], "off")
        return []

    def _send(self, batch: list[dict]) -> discord.Answer:
        text = batch[0]["text"]
        return telegram.send_message(self.chat_id, text, timeout=self.timings.timeout)


def _drop(hook: str) -> str:
    """Items of a Telegram chat no longer configured (removed, or a new token): counted as off."""
    dropped = 0
    while items := outbox.head(hook, 100):
        for item in items:
            records.count(item["event"], "off")
        outbox.remove_head(hook, len(items))
        dropped += len(items)
    return f"Telegram chat no longer configured: dropped {dropped} item(s)"


def _enabled(switches: dict, item: dict) -> bool:
    return switches.get(item["event"], (True, ""))[0]


def _render(item: dict, *, telegram: bool = False) -> dict:
    """The item's embed (and for a Telegram chat its text in item["text"]); a payload the renderer
    chokes on still goes out, as plain JSON.

    This is the one place an alert's words are written. The outbox keeps the payload, not text
    (outbox.make_item), so the message is composed here, at send time, for every channel: in
    COINPILOT_ALERT_LANGUAGE, whatever language the worker or the caller had active.
    """
    with alert_language():
        try:
            embed = embeds.render(item["event"], item["payload"], datetime.fromisoformat(item["at"]))
        except Exception:
            log.exception("could not render a %s alert; sending its raw payload", item.get("event"))
            embed = limits.fit_embed(
                {
                    # Translators: the title of an alert that could not be laid out; %(event)s is its type.
                    "title": _("%(event)s (raw)") % {"event": item.get("event", "alert")},
                    "color": embeds.GREY,
                    "description": json.dumps(item.get("payload"), default=str)[: limits.DESCRIPTION],
                }
            )
        if telegram:
            item["text"] = telegram_text.render(embed)
    return embed


def _reroute(hook: str) -> str:
    """Items of a webhook whose URL was changed move to the outbox of their event's current URL."""
    moved, targets = 0, set()
    while items := outbox.head(hook, 100):
        for item in items:
            url = config.webhook_url(item["event"])
            if url:
                outbox.append(discord.fingerprint(url), item)
                targets.add(discord.fingerprint(url))
                moved += 1
            else:
                records.count(item["event"], "off")
        outbox.remove_head(hook, len(items))
    for target in targets:
        _kick(target)
    return f"webhook URL changed: moved {moved} item(s) to the current one"
