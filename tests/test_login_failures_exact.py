"""The failed-login limit is exact under concurrency: an attempt is counted before its
password is checked (and given back if it succeeds), so simultaneous wrong passwords from
many addresses cannot get more than LOGIN_FAILURE_LIMIT answers."""
from __future__ import annotations

import threading
from collections import Counter
from typing import Any

import pytest

from scripts.processes import GunicornService, http
from tests.helpers import service_env

ATTEMPTS = 12
LIMIT = 5


@pytest.mark.slow
def test_twelve_simultaneous_wrong_passwords_get_exactly_the_limit(
        database_url: str, redis_url: str, db: Any, redis: Any, tmp_path: Any) -> None:
    env = service_env(database_url, redis_url, TRUSTED_PROXY_COUNT="1",
                      AUTH_RATE_LIMIT="100000 per minute",
                      LOGIN_FAILURE_LIMIT=f"{LIMIT} per 15 minutes")
    with GunicornService(env, tmp_path, workers=2, threads=8) as service:
        for round_no in range(3):  # three accounts, each stuffed at once from 12 addresses
            email = f"stuffed{round_no}@example.com"
            created = http("POST", f"{service.url}/api/v1/auth/register", body={
                "email": email, "password": "the-right-horse-1", "name": "S"},
                headers={"X-Forwarded-For": f"198.51.100.{round_no}"})
            assert created.status == 201
            start = threading.Barrier(ATTEMPTS)
            statuses: Counter[int] = Counter()

            def attempt(n: int, email: str = email, start: Any = start,
                        statuses: Counter[int] = statuses) -> None:
                start.wait()
                answer = http("POST", f"{service.url}/api/v1/auth/login",
                              body={"email": email, "password": f"wrong-horse-{n}"},
                              headers={"X-Forwarded-For": f"203.0.113.{n}"}, timeout=30)
                statuses[answer.status] += 1

            threads = [threading.Thread(target=attempt, args=(n,)) for n in range(ATTEMPTS)]
            for thread in threads:
                thread.start()
            for thread in threads:
                thread.join()
            assert statuses == {401: LIMIT, 429: ATTEMPTS - LIMIT}, (round_no, statuses)
            # ...and the account stays closed to the right password for the window.
            right = http("POST", f"{service.url}/api/v1/auth/login",
                         body={"email": email, "password": "the-right-horse-1"},
                         headers={"X-Forwarded-For": "192.0.2.1"})
            assert right.status == 429
