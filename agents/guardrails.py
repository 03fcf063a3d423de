"""AI guardrails in Redis: global block, per-symbol cooldown, call caps, error streak.

Key names and TTLs are part of the contract (the System page reads them). Every counter is
changed with INCR/DECR, so several processes asking at once can never exceed a cap. Usage counts
agent runs (an Analyst + Guardian pair), per UTC hour and day, claimed before the run starts.
"""

from datetime import datetime

from django.conf import settings

from core.redis_conn import get_redis

BLOCK_KEY = "ai:guard:global:block"
COOLDOWN_KEY = "ai:guard:symbol:{symbol}:cooldown"
REJECT_COUNT_KEY = "ai:guard:symbol:{symbol}:reject_count"
ERROR_STREAK_KEY = "ai:guard:error_streak"
HOUR_KEY = "ai:usage:hour:{stamp}"
DAY_KEY = "ai:usage:day:{stamp}"
ERROR_STREAK_TTL = 3600
HOUR_TTL = 7200
DAY_TTL = 172800

# global block reasons (the value of BLOCK_KEY)
LOW_CREDIT, SPEND_LIMIT, ERROR_STREAK, BUDGET = "low_credit", "spend_limit", "error_streak", "budget"


def hour_key(now: datetime) -> str:
    return HOUR_KEY.format(stamp=f"{now:%Y%m%d%H}")


def day_key(now: datetime) -> str:
    return DAY_KEY.format(stamp=f"{now:%Y%m%d}")


def blocked(symbol: str) -> str | None:
    """Why the agent may not be asked about `symbol` now (global block or cooldown), else None."""
    redis = get_redis()
    block, cooldown = redis.mget(BLOCK_KEY, COOLDOWN_KEY.format(symbol=symbol))
    if block:
        return f"global_block:{_text(block)}"
    if cooldown:
        return f"cooldown:{_text(cooldown)}min"
    return None


def claim_call(now: datetime) -> str | None:
    """Count one agent run against the hourly and daily caps; the cap hit (nothing counted), else None."""
    redis = get_redis()
    hour, day = hour_key(now), day_key(now)
    pipe = redis.pipeline()
    pipe.incr(hour)
    pipe.expire(hour, HOUR_TTL)
    pipe.incr(day)
    pipe.expire(day, DAY_TTL)
    hourly, _, daily, _ = pipe.execute()
    cap = (
        "hourly_cap"
        if hourly > settings.AI_HOURLY_CAP
        else "daily_cap"
        if daily > settings.AI_DAILY_CAP
        else None
    )
    if cap:  # give the claim back: usage shows the runs that happened
        pipe = redis.pipeline()
        pipe.decr(hour)
        pipe.decr(day)
        pipe.execute()
    return cap


def set_block(reason: str) -> None:
    """Stop every agent call for AI_BLOCK_MINUTES (low credit, spend limit, error streak, budget)."""
    get_redis().set(BLOCK_KEY, reason, ex=settings.AI_BLOCK_MINUTES * 60)


def record_approval(symbol: str) -> None:
    """An approval ends the symbol's reject series and the error streak."""
    get_redis().delete(REJECT_COUNT_KEY.format(symbol=symbol), ERROR_STREAK_KEY)


def record_rejection(symbol: str, *, error: bool) -> int:
    """Escalate the symbol's cooldown (5/10/15 min); count an error toward the streak. Returns minutes."""
    redis = get_redis()
    count_key = REJECT_COUNT_KEY.format(symbol=symbol)
    pipe = redis.pipeline()
    pipe.incr(count_key)
    pipe.expire(count_key, settings.AI_REJECT_COUNT_TTL_MINUTES * 60)
    if error:
        pipe.incr(ERROR_STREAK_KEY)
        pipe.expire(ERROR_STREAK_KEY, ERROR_STREAK_TTL)
    else:
        pipe.delete(ERROR_STREAK_KEY)  # the model answered: the streak of failures is over
    results = pipe.execute()
    steps = settings.AI_COOLDOWN_MINUTES
    minutes = steps[min(results[0], len(steps)) - 1]
    redis.set(COOLDOWN_KEY.format(symbol=symbol), minutes, ex=minutes * 60)
    if error and results[2] >= settings.AI_ERROR_STREAK_LIMIT:
        set_block(ERROR_STREAK)
    return minutes


def state(symbols: list[str], now: datetime) -> dict:
    """Blocks, cooldowns and usage vs caps, for the System page (built-in types only)."""
    redis = get_redis()
    names = [BLOCK_KEY, ERROR_STREAK_KEY, hour_key(now), day_key(now)]
    for symbol in symbols:
        names += [COOLDOWN_KEY.format(symbol=symbol), REJECT_COUNT_KEY.format(symbol=symbol)]
    pipe = redis.pipeline()
    pipe.mget(names)
    pipe.ttl(BLOCK_KEY)
    for symbol in symbols:
        pipe.ttl(COOLDOWN_KEY.format(symbol=symbol))
    values, block_ttl, *cooldown_ttls = pipe.execute()
    block, streak, hourly, daily = values[:4]
    cooldowns = {}
    for i, symbol in enumerate(symbols):
        minutes, rejects = values[4 + 2 * i], values[5 + 2 * i]
        if minutes:
            cooldowns[symbol] = {
                "minutes": int(minutes),
                "seconds_left": max(int(cooldown_ttls[i]), 0),
                "reject_count": int(rejects or 0),
            }
    return {
        "global_block": _text(block) if block else None,
        "global_block_seconds_left": max(int(block_ttl), 0) if block else 0,
        "error_streak": int(streak or 0),
        "error_streak_limit": settings.AI_ERROR_STREAK_LIMIT,
        "cooldowns": cooldowns,
        "usage_hour": int(hourly or 0),
        "cap_hour": settings.AI_HOURLY_CAP,
        "usage_day": int(daily or 0),
        "cap_day": settings.AI_DAILY_CAP,
    }


def _text(value) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)
