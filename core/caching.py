"""Short-lived caches for dashboard aggregates that are costly and change rarely.

Keys carry what makes a value stale at once (e.g. the newest trade id: a new trade changes the
figures); the time limit bounds the rest (a price filled in later by a tracker job). The cache is
per process (LocMem, settings.CACHES): a worker computes each value at most once per limit.
"""

from collections.abc import Callable
from typing import TypeVar

from django.core.cache import cache
from django.db.models import Max, Model

T = TypeVar("T")


def cached(key: str, compute: Callable[[], T], *, seconds: int = 60) -> T:
    """`compute()` at most once per `seconds` for `key` (in this process)."""
    value = cache.get(key)
    if value is None:
        value = compute()
        cache.set(key, value, seconds)
    return value


def newest_id(model: type[Model]) -> int:
    """The highest primary key of a table (an index probe): part of a key that new rows must break."""
    return model.objects.aggregate(newest=Max("pk"))["newest"] or 0
