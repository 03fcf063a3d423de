"""Connection-holding objects (exchange clients, market sources) kept once per process.

`functools.lru_cache` would do the keeping, but it drops an evicted object without closing it and
keeps the rest open until the interpreter dies: their sockets are left to the garbage collector
("unclosed socket" warnings). A `ClosingCache` closes what it evicts, and everything at exit.
"""

import atexit
import threading
from collections import OrderedDict
from collections.abc import Callable, Hashable
from typing import Protocol, TypeVar


class Closable(Protocol):
    def close(self) -> None: ...


T = TypeVar("T", bound=Closable)


class ClosingCache:
    """At most `size` objects by key; the least recently used is closed when one more is made."""

    def __init__(self, size: int) -> None:
        self.size = size
        self._kept: OrderedDict[Hashable, Closable] = OrderedDict()
        self._lock = threading.Lock()
        atexit.register(self.close_all)

    def get(self, key: Hashable, make: Callable[[], T]) -> T:
        """The object kept for `key`, made by `make()` the first time."""
        with self._lock:
            kept = self._kept.get(key)
            if kept is None:
                kept = self._kept[key] = make()
                while len(self._kept) > self.size:
                    self._kept.popitem(last=False)[1].close()
            self._kept.move_to_end(key)
            return kept

    def close_all(self) -> None:
        with self._lock:
            while self._kept:
                self._kept.popitem()[1].close()
