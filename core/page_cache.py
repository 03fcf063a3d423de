"""Django's Redis cache backend, with one client per connection pool instead of one per call.

Django's RedisCacheClient builds a new `redis.Redis` for every get and set; building one fills a
table of about 170 reply handlers, which costs more CPU than the round trip itself (90 us against
55 us measured here), and a page makes 2 to 12 cache calls. The client holds no connection of its
own (the pool does), so one per pool is safe to share between threads.
"""

import threading

from django.core.cache.backends.redis import RedisCache, RedisCacheClient


class SharedClientCacheClient(RedisCacheClient):
    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self._clients: dict[int, object] = {}
        self._building = threading.Lock()

    def get_client(self, key=None, *, write=False):
        index = self._get_connection_pool_index(write)
        client = self._clients.get(index)
        if client is None:
            # The first requests of a process arrive on several threads at once: without the lock
            # each could build a pool (Django's check-then-set) and a client of its own.
            with self._building:
                client = self._clients.get(index)
                if client is None:
                    pool = self._pools.get(index)
                    if pool is None:
                        pool = self._pools[index] = self._pool_class.from_url(
                            self._servers[index], **self._pool_options
                        )
                    client = self._clients[index] = self._client(connection_pool=pool)
        return client


class SharedClientRedisCache(RedisCache):
    """settings.CACHES' BACKEND for the page cache."""

    def __init__(self, server, params) -> None:
        super().__init__(server, params)
        self._class = SharedClientCacheClient
