"""Short-lived caches for what pages compute that is costly and changes rarely.

Keys carry what makes a value stale at once (e.g. the newest trade id: a new trade changes the
figures); the time limit bounds the rest (a price filled in later by a tracker job). The cache is
Redis (settings.CACHES), shared by every web process: a value is computed about once per key and
limit for all of them, not once per process. Values are the same for every operator: nothing
user-specific or secret goes under these keys. A key's name stands for the shape of its value:
when a deploy changes what a key holds, rename the key, or old and new processes read each
other's values for up to a minute.

The cache only saves time. When Redis does not answer, the page computes its value and is served
as if nothing were cached. The failure is logged once (and the recovery once), and the cache is
not asked again for RETRY_SECONDS, so pages do not each wait on a dead server's timeout.
"""

import dataclasses
import hashlib
import logging
import time
from collections.abc import Callable, Iterable
from datetime import date, datetime
from decimal import Decimal
from typing import TypeVar

from django.core.cache import cache
from django.core.paginator import Page, Paginator
from django.db.models import Model, QuerySet
from django.utils.translation import get_language
from redis.exceptions import RedisError

from .fixed_reads import first_row

T = TypeVar("T")
log = logging.getLogger(__name__)
RETRY_SECONDS = 10.0
WAIT_SECONDS = 10.0  # how long a request waits for the value another one is computing
POLL_SECONDS = 0.02
_MISSING = object()
_down_until = 0.0  # monotonic time before which this process does not ask the cache
_failing = False  # the last attempt failed (logged once until the cache answers again)


def cached(key: str, compute: Callable[[], T], *, seconds: int = 60) -> T:
    """`compute()` at most about once per `seconds` for `key`, across all processes.

    When the value is missing, one request computes it; the others asking meanwhile wait for it
    (up to WAIT_SECONDS, then compute it themselves) rather than all compute the same value at
    once: a page that everyone watches goes stale for everyone at the same new row.

    The active language is part of the key: a value may hold translated text (chart titles, reasons).
    """
    key = _language_key(key)
    value = _get(key)
    if value is not _MISSING:
        return value
    claim = f"{key}:computing"
    claimed = _claim(claim)
    if not claimed:
        value = _wait_for(key, claim)
        if value is not _MISSING:
            return value
    try:
        value = compute()
        _set(key, value, seconds)
    finally:
        if claimed:
            _release(claim)
    return value


def put(key: str, value, *, seconds: int = 60) -> None:
    """Store `value` where `cached(key, ...)` finds it: for a value computed alongside another."""
    _set(_language_key(key), value, seconds)


def _language_key(key: str) -> str:
    return f"{key}:{get_language() or 'none'}"


def newest_id(model: type[Model]) -> int:
    """The highest primary key of a table (an index probe): part of a key that new rows must break.
    One fixed statement (`fixed_reads`): the ORM's aggregate cost 0.25 ms of CPU to build, on most pages."""
    return first_row(model, "SELECT MAX({pk}) FROM {table}")[0] or 0


def digest(*parts) -> str:
    """A short fingerprint of `parts` for a cache key, equal exactly when every part is equal.

    A model instance counts by every field it was loaded with, annotations included (a status
    filled in later changes it; related rows do not count: name them too), a page, queryset, list
    or tuple by each of its items, a dict or dataclass by each of its values, anything else by its
    repr."""
    hasher = hashlib.blake2b(digest_size=12)
    for text in _fingerprint_parts(parts):
        hasher.update(text.encode())
        hasher.update(b"\x1f")
    return hasher.hexdigest()


# Values whose repr() is complete: a dict, list or tuple of only these is fingerprinted by its own
# repr at once (the rows of a .values() query: a third to a fifth of the time of walking them item
# by item).
_PLAIN = frozenset({str, int, float, bool, Decimal, datetime, date, type(None)})


def _fingerprint_parts(parts: Iterable) -> Iterable[str]:
    for part in parts:
        kind = type(part)
        if kind in _PLAIN:
            yield repr(part)
        elif (kind is list or kind is tuple) and all(type(item) in _PLAIN for item in part):
            yield repr(part)
        elif kind is dict and all(type(k) in _PLAIN and type(v) in _PLAIN for k, v in part.items()):
            yield repr(part)
        elif isinstance(part, Model):
            # Fields in the order the row was loaded in (the same for every row of one query); a
            # row loaded another way only misses the cache.
            loaded = [item for item in vars(part).items() if item[0][0] != "_"]
            yield f"{part._meta.label}:{loaded!r}"
        elif isinstance(part, Page | QuerySet | list | tuple):
            yield f"[{len(part)}"
            yield from _fingerprint_parts(part)
            yield "]"
        elif isinstance(part, dict):
            yield f"{{{len(part)}"
            for name, value in part.items():
                yield repr(name)
                yield from _fingerprint_parts([value])
            yield "}"
        elif dataclasses.is_dataclass(part) and not isinstance(part, type):
            yield type(part).__qualname__
            yield from _fingerprint_parts([getattr(part, field.name) for field in dataclasses.fields(part)])
        else:
            yield repr(part)


def cached_page(
    rows: QuerySet, per_page: int, number, *, count_key: str, rows_key: str | None = None
) -> Page:
    """Page `number` of `rows`; the total (a COUNT over everything the filter matches) is cached
    under `count_key`, which must break when that count can change (e.g. the newest row id).

    With `rows_key` the page's rows are cached too (under it and the page number): for rows that
    only a new row can change, such as an aggregate over an append-only log."""
    paginator = Paginator(rows, per_page)
    paginator.count = cached(count_key, rows.count)  # a cached_property: set here, never computed
    page = paginator.get_page(number)
    if rows_key is not None:
        page.object_list = cached(f"{rows_key}:page-{page.number}", lambda: list(page.object_list))
    return page


def _ask(call: Callable[[], T], fallback: T) -> T:
    """`call()` on the cache, or `fallback` while it is down or when it fails."""
    if time.monotonic() < _down_until:
        return fallback
    try:
        answer = call()
    except (RedisError, OSError) as error:
        _cache_failed(error)
        return fallback
    _cache_answered()
    return answer


def _get(key: str):
    return _ask(lambda: cache.get(key, _MISSING), _MISSING)


def _claim(claim: str) -> bool:
    """True if this request is the one to compute (or the cache cannot say)."""
    return _ask(lambda: cache.add(claim, 1, WAIT_SECONDS), True)


def _wait_for(key: str, claim: str):
    """The value once the request holding `claim` has stored it; _MISSING when it gave up (its
    compute failed), the cache failed, or WAIT_SECONDS passed."""
    deadline = time.monotonic() + WAIT_SECONDS
    while time.monotonic() < deadline:
        time.sleep(POLL_SECONDS)
        value = _get(key)
        if value is not _MISSING or time.monotonic() < _down_until:
            return value
        if _get(claim) is _MISSING:
            return _get(key)  # stored just before the claim went, or never
    return _MISSING


def _release(claim: str) -> None:
    _ask(lambda: cache.delete(claim), None)


def _set(key: str, value, seconds: int) -> None:
    _ask(lambda: cache.set(key, value, seconds), None)


def _cache_failed(error: Exception) -> None:
    global _down_until, _failing
    _down_until = time.monotonic() + RETRY_SECONDS
    if not _failing:
        log.warning("page cache unavailable, pages compute without it until it answers: %s", error)
    _failing = True


def _cache_answered() -> None:
    global _failing
    if _failing:
        log.info("page cache answers again")
    _failing = False
