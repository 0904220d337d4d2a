"""Rate limits hold across app processes when their counters live in Redis.

Two gunicorn processes (as on two app hosts) share the database and a real
redis-server. Sign-in allows 5 attempts a minute per address: 3 on one
process and 3 on the other make the sixth a 429. With the default in-memory
storage each process counts alone, and the same six attempts all get through.
"""

from __future__ import annotations

import pytest
import redis

from tests.conftest import NOW, csrf_token
from tests.gunicorn_server import Gunicorn
from tests.test_concurrency import Browser

LIMIT = "5 per minute"


def _attempt(browser: Browser, server: Gunicorn) -> int:
    status, page = browser.request(f"{server.url}/staff/login")
    assert status == 200, page
    status, _ = browser.request(
        f"{server.url}/staff/login",
        {"csrf_token": csrf_token(page), "email": "nobody@example.com", "password": "wrong " * 3},
    )
    return status


@pytest.fixture
def two_processes(app_env, request):
    """Start two single-worker gunicorns with ``storage`` as the limiter storage."""
    servers: list[Gunicorn] = []

    def start(storage: str) -> tuple[Gunicorn, Gunicorn]:
        env = {
            **app_env,
            "PORTAL_TEST_NOW": NOW.isoformat(),
            "PORTAL_RATELIMIT_STORAGE_URI": storage,
            "PORTAL_SIGNIN_RATE_LIMIT": LIMIT,
        }
        for _ in range(2):
            servers.append(Gunicorn(env, workers=1).start())
        return servers[0], servers[1]

    yield start
    for server in servers:
        server.stop()


def test_the_sign_in_limit_holds_across_two_processes_sharing_redis(two_processes, redis_server):
    with redis.Redis.from_url(redis_server.url) as counters:
        counters.flushdb()
    first, second = two_processes(redis_server.url)
    browser = Browser()
    statuses = [_attempt(browser, server) for server in (first, first, first, second, second)]
    assert 429 not in statuses
    assert _attempt(browser, second) == 429
    assert _attempt(browser, first) == 429


def test_with_in_memory_counters_each_process_counts_alone(two_processes):
    first, second = two_processes("memory://")
    browser = Browser()
    statuses = [_attempt(browser, server) for server in (first, first, first, second, second)]
    statuses.append(_attempt(browser, second))
    assert 429 not in statuses
