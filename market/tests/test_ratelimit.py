import threading
import time

import pytest

from market.ratelimit import Banned, RateLimiter


def test_reservations_are_spaced_by_the_rate(redis_conn):
    limiter = RateLimiter(redis_conn, rate=10)
    waits = [limiter.reserve("candle", now=1000.0) for _ in range(5)]
    assert waits == pytest.approx([0.0, 0.1, 0.2, 0.3, 0.4])


def test_groups_are_independent_and_idle_time_does_not_bank_a_burst(redis_conn):
    limiter = RateLimiter(redis_conn, rate=10)
    assert limiter.reserve("candle", now=1000.0) == 0
    assert limiter.reserve("ticker", now=1000.0) == 0
    # After 5 idle seconds only one request may go at once (burst 1), not 50.
    assert limiter.reserve("candle", now=1005.0) == 0
    assert limiter.reserve("candle", now=1005.0) == pytest.approx(0.1)


def test_burst_allows_that_many_at_once(redis_conn):
    limiter = RateLimiter(redis_conn, rate=10, burst=3)
    waits = [limiter.reserve("candle", now=50.0) for _ in range(4)]
    assert waits == pytest.approx([0, 0, 0, 0.1])


def test_two_limiters_share_one_bucket(redis_conn):
    first, second = RateLimiter(redis_conn, rate=10), RateLimiter(redis_conn, rate=10)
    assert first.reserve("candle", now=10.0) == 0
    assert second.reserve("candle", now=10.0) == pytest.approx(0.1)


def test_hold_pauses_the_group_for_everyone(redis_conn):
    limiter = RateLimiter(redis_conn, rate=10)
    limiter.hold("candle", until=20.5)
    assert limiter.reserve("candle", now=20.0) == pytest.approx(0.5)
    assert limiter.reserve("ticker", now=20.0) == 0


def test_ban_refuses_every_group_until_it_ends(redis_conn):
    limiter = RateLimiter(redis_conn, rate=10)
    assert limiter.ban(time.time() + 30) is True
    assert limiter.ban(time.time() + 30) is False  # already banned: only the first alerts
    with pytest.raises(Banned) as err:
        limiter.reserve("ticker")
    assert 28 < err.value.seconds_left <= 30
    assert 28 < limiter.banned_for() <= 30


def test_threads_never_exceed_the_rate(redis_conn):
    limiter = RateLimiter(redis_conn, rate=20)
    sent = []
    lock = threading.Lock()

    def worker():
        for _ in range(5):
            limiter.acquire("candle")
            with lock:
                sent.append(time.monotonic())

    threads = [threading.Thread(target=worker) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    sent.sort()
    # 20 requests at 20/s with burst 1: at least 19 intervals of 50 ms (minus scheduling slack).
    assert sent[-1] - sent[0] >= 19 * 0.05 * 0.9
