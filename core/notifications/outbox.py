"""The per-webhook outbox in Redis: what waits to be sent, and the pacing state shared by workers.

Keys (`{hook}` is the webhook's fingerprint, never its URL; a Telegram chat's is `tg:<hash>`):
- `notify:outbox:{hook}`  list of JSON items {id, event, payload, at}; appended by `push`, and the
  head is removed only by the lock holder, only after Discord accepted it (or it failed for good);
- `notify:item:{id}`      marks an item as pushed, so a retried job never queues it twice;
- `notify:lock:{hook}`    the one worker delivering for this webhook;
- `notify:state:{hook}`   hash: next_at (epoch seconds before which nothing is sent: pacing, 429s
  and backoff); for the message at the head: posts, errors (retryable failures), rate_limited
  (429s) and last_error;
- `notify:kick:{hook}`    a continuation job for this webhook is queued;
- `notify:outboxes`       set of every `{hook}` that has had an outbox: what the System page
  counts (a SCAN for the outbox keys would read the whole keyspace, page cache included, on
  every view).
Redis holds nothing else of notifications; NotificationLog in the database is the record.
"""

import json
import time
from datetime import datetime

from django.utils import timezone
from redis import Redis

from ..redis_conn import get_redis as _new_client

ITEM_TTL = 2 * 86400
OUTBOXES_KEY = "notify:outboxes"
# Append the item unless this id was pushed before (atomic: a crash cannot split the steps).
_PUSH = """
if redis.call('set', KEYS[1], '1', 'NX', 'EX', ARGV[2]) then
  redis.call('sadd', KEYS[3], ARGV[3])
  return redis.call('rpush', KEYS[2], ARGV[1])
end
return 0
"""


def make_item(item_id: str, event: str, payload: dict, at: datetime | None = None) -> dict:
    """An outbox item: plain JSON, the payload rendered only when it is sent."""
    return {"id": item_id, "event": event, "payload": payload, "at": (at or timezone.now()).isoformat()}


_client: Redis | None = None


def get_redis() -> Redis:
    """One Redis client per process for alerts (redis-py resets its pool after a fork).

    `redis_conn.get_redis()` builds a new client, so a new TCP connection, on every call; notify()
    runs in the bot cycle and must not pay that several times per alert.
    """
    global _client
    if _client is None:
        _client = _new_client()
    return _client


def outbox_key(hook: str) -> str:
    return f"notify:outbox:{hook}"


def lock_key(hook: str) -> str:
    return f"notify:lock:{hook}"


def state_key(hook: str) -> str:
    return f"notify:state:{hook}"


def kick_key(hook: str) -> str:
    return f"notify:kick:{hook}"


def push(hook: str, item: dict) -> bool:
    """Append `item` to the webhook's outbox unless an item with its id was pushed already."""
    conn = get_redis()
    keys = (f"notify:item:{item['id']}", outbox_key(hook), OUTBOXES_KEY)
    return bool(conn.eval(_PUSH, len(keys), *keys, json.dumps(item), ITEM_TTL, hook))


def append(hook: str, item: dict) -> None:
    """Append an item that was pushed before (moved from another outbox)."""
    pipe = get_redis().pipeline()  # MULTI: both or neither
    pipe.sadd(OUTBOXES_KEY, hook)
    pipe.rpush(outbox_key(hook), json.dumps(item))
    pipe.execute()


def head(hook: str, count: int) -> list[dict]:
    """The oldest `count` items, oldest first."""
    return [json.loads(raw) for raw in get_redis().lrange(outbox_key(hook), 0, count - 1)]


def remove_head(hook: str, count: int) -> None:
    """Drop the oldest `count` items (only the lock holder calls this; pushes only append)."""
    get_redis().ltrim(outbox_key(hook), count, -1)


def length(hook: str) -> int:
    return get_redis().llen(outbox_key(hook))


def state(hook: str) -> dict:
    """Pacing and retry state: next_at, and for the head message posts, errors, rate_limited."""
    raw = get_redis().hgetall(state_key(hook))
    text = {k.decode(): v.decode() for k, v in raw.items()}
    return {
        "next_at": float(text.get("next_at", 0)),
        "posts": int(text.get("posts", 0)),
        "errors": int(text.get("errors", 0)),
        "rate_limited": int(text.get("rate_limited", 0)),
        "last_error": text.get("last_error", ""),
    }


def save_state(hook: str, **fields) -> None:
    get_redis().hset(state_key(hook), mapping={k: str(v) for k, v in fields.items()})


def wait_seconds(hook: str) -> float:
    """Seconds until the next send to this webhook is allowed (0 when it is allowed now)."""
    return max(state(hook)["next_at"] - time.time(), 0.0)


def claim_kick(hook: str, ttl: int) -> bool:
    """True when no continuation job is pending for this webhook (and now one is, for `ttl` s)."""
    return bool(get_redis().set(kick_key(hook), "1", nx=True, ex=ttl))


def clear_kick(hook: str) -> None:
    get_redis().delete(kick_key(hook))


def pending() -> dict[str, int]:
    """{hook: items waiting} for every non-empty outbox (the System page)."""
    conn = get_redis()
    hooks = sorted(member.decode() for member in conn.smembers(OUTBOXES_KEY))
    pipe = conn.pipeline(transaction=False)
    for hook in hooks:
        pipe.llen(outbox_key(hook))
    return {hook: waiting for hook, waiting in zip(hooks, pipe.execute(), strict=True) if waiting}
