"""Django's Redis cache backend, with one client per connection pool instead of one per call.

Django's RedisCacheClient builds a new `redis.Redis` for every get and set; building one fills a
table of about 170 reply handlers, which costs more CPU than the round trip itself (90 us against
55 us measured here), and a page makes 2 to 12 cache calls. The client holds no connection of its
own (the pool does), so one per pool is safe to share between threads.
"""

from django.core.cache.backends.redis import RedisCache, RedisCacheClient


class SharedClientCacheClient(RedisCacheClient):
    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self._clients: dict[int, object] = {}

    def get_client(self, key=None, *, write=False):
        pool = self._get_connection_pool(write)
        client = self._clients.get(id(pool))
        if client is None:
            client = self._clients[id(pool)] = self._client(connection_pool=pool)
        return client


class SharedClientRedisCache(RedisCache):
    """settings.CACHES' BACKEND for the page cache."""

    def __init__(self, server, params) -> None:
        super().__init__(server, params)
        self._class = SharedClientCacheClient
