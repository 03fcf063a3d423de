"""System checks of the stores every process shares: PostgreSQL and a Redis that never evicts."""

from django.conf import settings
from django.core import checks
from redis import Redis
from redis.exceptions import RedisError


def _database_is_sqlite() -> bool:
    return settings.DATABASES["default"]["ENGINE"].endswith("sqlite3")


@checks.register(checks.Tags.security, deploy=False)
def production_stores(app_configs=None, **kwargs) -> list[checks.CheckMessage]:
    """Without the embedded default, REDIS_URL and a PostgreSQL DATABASE_URL are required.

    Otherwise every process would quietly use its own in-memory Redis and a SQLite file: the
    scheduler would fill a queue no worker sees and locks would hold only inside one process.
    """
    if settings.COINPILOT_EMBEDDED:
        return []
    errors = []
    if not settings.REDIS_URL:
        errors.append(
            checks.Error(
                "REDIS_URL is empty: each process would use its own in-memory Redis (queues no "
                "worker sees, locks that hold inside one process only).",
                hint="Set REDIS_URL=redis://host:6379/0. For a one-machine demo run `python3 dev.py` "
                "(or set COINPILOT_EMBEDDED=1).",
                id="coinpilot.E003",
            )
        )
    if _database_is_sqlite():
        errors.append(
            checks.Error(
                "DATABASE_URL is empty (or SQLite): production needs PostgreSQL shared by every process.",
                hint="Set DATABASE_URL=postgres://user:password@host:5432/coinpilot. For a one-machine "
                "demo run `python3 dev.py` (or set COINPILOT_EMBEDDED=1).",
                id="coinpilot.E004",
            )
        )
    return errors


def redis_eviction_policy(url: str) -> str:
    """The `maxmemory-policy` of the Redis at `url` (raises redis.RedisError when it cannot tell)."""
    client = Redis.from_url(url, socket_timeout=3, socket_connect_timeout=3)
    try:
        return str(client.config_get("maxmemory-policy")["maxmemory-policy"])
    finally:
        client.close()


@checks.register(checks.Tags.security, deploy=True)
def redis_never_evicts(app_configs=None, **kwargs) -> list[checks.CheckMessage]:
    """Slot claims, locks and queued jobs live in Redis: it must refuse writes, never evict them."""
    if not settings.REDIS_URL:
        return []
    try:
        policy = redis_eviction_policy(settings.REDIS_URL)
    except (RedisError, KeyError) as exc:
        policy, problem = "", f"could not be read ({type(exc).__name__}: {exc})"
    else:
        problem = f"is {policy!r}"
    if policy == "noeviction":
        return []
    return [
        checks.Warning(
            f"Redis maxmemory-policy {problem}: under memory pressure Redis could evict locks, "
            "slot claims and queued jobs.",
            hint="Run Redis with --maxmemory-policy noeviction (docker-compose.yml does), or "
            "`CONFIG SET maxmemory-policy noeviction` and persist it in redis.conf.",
            id="coinpilot.W001",
        )
    ]
