"""Presence counts across workers: each worker's count in Redis, summed, dead workers dropped."""

from __future__ import annotations

import time
import uuid

import pytest

from participation.realtime.shared_presence import STALE_AFTER, SharedPresence, shared_presence
from tests.conftest import REDIS_URL

needs_redis = pytest.mark.skipif(not REDIS_URL, reason="PARTICIPATION_TEST_REDIS_URL is not set")


@needs_redis
def test_counts_of_every_worker_are_summed_and_a_worker_at_zero_drops_out():
    channel = f"test-{uuid.uuid4().hex[:12]}"
    first, second = SharedPresence(REDIS_URL, channel), SharedPresence(REDIS_URL, channel)
    other_site = SharedPresence(REDIS_URL, f"other-{uuid.uuid4().hex[:12]}")
    try:
        first.publish(7, 3)
        second.publish(7, 2)
        other_site.publish(7, 100)
        assert first.total(7) == second.total(7) == 5
        assert first.total(8) == 0
        first.publish(7, 0)
        assert second.total(7) == 2
        assert first.redis.hkeys(first.key(7)) == [second.worker.encode()]
    finally:
        for shared in (first, second, other_site):
            shared.redis.delete(shared.key(7))
            shared.redis.close()


@needs_redis
def test_a_worker_that_stopped_refreshing_is_no_longer_counted():
    channel = f"test-{uuid.uuid4().hex[:12]}"
    alive, dead = SharedPresence(REDIS_URL, channel), SharedPresence(REDIS_URL, channel)
    try:
        alive.publish(3, 4)
        dead.redis.hset(dead.key(3), dead.worker, f"9:{time.time() - STALE_AFTER - 1:.3f}")
        dead.redis.hset(dead.key(3), "garbled", "not-a-count")
        assert alive.total(3) == 4
        assert alive.redis.hkeys(alive.key(3)) == [alive.worker.encode()]
        stamp_before = alive.redis.hget(alive.key(3), alive.worker).decode().split(":")[1]
        time.sleep(0.01)
        alive.refresh()
        stamp_after = alive.redis.hget(alive.key(3), alive.worker).decode().split(":")[1]
        assert float(stamp_after) > float(stamp_before)
    finally:
        alive.redis.delete(alive.key(3))
        alive.redis.close()
        dead.redis.close()


def test_one_process_without_a_redis_queue_shares_nothing(make_app):
    assert shared_presence(make_app()) is None
