"""A request-rate limiter in Redis, shared by every process that calls Upbit.

Each rate-limit group is a GCRA bucket (the "theoretical arrival time" form of a token bucket):
one Lua script atomically checks the IP-wide ban, reserves the caller's send time and returns
how long to sleep. Reserving instead of polling costs one round trip per request and serves
callers in arrival order. With burst 1 and 9.5 requests/s no 1-second window ever holds more
than 10 requests, Upbit's quotation limit, however many workers share the bucket.
"""

import time
from dataclasses import dataclass

from redis import Redis

BUCKET_KEY = "upbit:ratelimit:{group}"
BAN_KEY = "upbit:ban_until"

# KEYS[1] bucket hash, KEYS[2] ban key; ARGV now, interval (s per request), tolerance (s), ttl (s).
# Returns the seconds to wait before sending (>= 0), or "banned:<seconds left>".
# Numbers go back as strings: Redis truncates Lua numbers to integers.
_RESERVE = """
local now = tonumber(ARGV[1])
local banned = tonumber(redis.call('GET', KEYS[2]) or '0')
if banned > now then
  return 'banned:' .. tostring(banned - now)
end
local interval = tonumber(ARGV[2])
local tolerance = tonumber(ARGV[3])
local tat = tonumber(redis.call('HGET', KEYS[1], 'tat') or '0')
local hold = tonumber(redis.call('HGET', KEYS[1], 'hold') or '0')
if tat < now then tat = now end
local go = math.max(now, tat - tolerance, hold)
if go > tat then tat = go end
redis.call('HSET', KEYS[1], 'tat', tostring(tat + interval))
redis.call('EXPIRE', KEYS[1], tonumber(ARGV[4]))
return tostring(go - now)
"""

# KEYS[1] bucket hash; ARGV until (unix seconds), ttl. Nobody sends before `until`.
_HOLD = """
local hold = tonumber(redis.call('HGET', KEYS[1], 'hold') or '0')
local untill = tonumber(ARGV[1])
if untill > hold then
  redis.call('HSET', KEYS[1], 'hold', tostring(untill))
  redis.call('EXPIRE', KEYS[1], tonumber(ARGV[2]))
end
return 1
"""


class Banned(Exception):
    """The exchange banned this IP (HTTP 418); no request may be sent before `until`."""

    def __init__(self, seconds_left: float):
        self.seconds_left = seconds_left
        super().__init__(f"Upbit ban in force for another {seconds_left:.0f}s")


@dataclass
class RateLimiter:
    """Shared per-group request pacing plus the IP-wide ban, both in Redis."""

    redis: Redis
    rate: float = 9.5  # requests per second per group
    burst: int = 1

    def __post_init__(self):
        self._reserve = self.redis.register_script(_RESERVE)
        self._hold = self.redis.register_script(_HOLD)

    def reserve(self, group: str, now: float | None = None) -> float:
        """Reserve a send slot in `group`; return the seconds to sleep first. Raises Banned."""
        now = time.time() if now is None else now
        interval = 1.0 / self.rate
        result = self._reserve(
            keys=[BUCKET_KEY.format(group=group), BAN_KEY],
            args=[repr(now), repr(interval), repr(interval * (self.burst - 1)), 60],
        )
        result = result.decode() if isinstance(result, bytes) else str(result)
        if result.startswith("banned:"):
            raise Banned(float(result.split(":", 1)[1]))
        return max(0.0, float(result))

    def acquire(self, group: str) -> None:
        """Block until this process may send one request in `group`."""
        wait = self.reserve(group)
        if wait > 0:
            time.sleep(wait)

    def hold(self, group: str, until: float) -> None:
        """Let no process send in `group` before the unix time `until` (after 429 or sec=0)."""
        self._hold(keys=[BUCKET_KEY.format(group=group)], args=[repr(until), 60])

    def ban(self, until: float) -> bool:
        """Record an IP-wide ban until `until`; True if this call started it (so alert once)."""
        seconds = max(1, int(until - time.time()) + 1)
        return bool(self.redis.set(BAN_KEY, repr(until), nx=True, ex=seconds))

    def banned_for(self) -> float:
        """Seconds left of the current ban (0 when none)."""
        value = self.redis.get(BAN_KEY)
        return max(0.0, float(value) - time.time()) if value else 0.0
