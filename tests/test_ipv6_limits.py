"""Per-address limits count an IPv6 client by its /64 (IPV6_PREFIX_LENGTH), an IPv4 client by
its address, and `::ffff:a.b.c.d` as a.b.c.d: holding a /64 multiplies no allowance."""
from __future__ import annotations

from typing import Any

import pytest

from config import ConfigError, load_config
from tests.plugins.projects import PROJECTS

# One /64, written five ways; then another /64 of the same /48.
SAME_64 = ["2001:db8:1:2::5", "2001:db8:1:2::9", "2001:db8:1:2:ffff:ffff:ffff:ffff",
           "2001:DB8:1:2:0:0:0:7", "2001:db8:1:2:abcd::1"]
OTHER_64 = "2001:db8:1:3::5"


def login(client: Any, address: str, i: int) -> int:
    return client.post("/api/v1/auth/login", environ_base={"REMOTE_ADDR": address},
                       json={"email": f"nobody{i}@example.com",
                             "password": "wrong-password"}).status_code


def read(client: Any, address: str) -> int:
    return client.get(f"{PROJECTS}/featured", environ_base={"REMOTE_ADDR": address}).status_code


def test_one_slash_64_shares_the_auth_limit(client: Any, redis: Any) -> None:
    """AUTH_RATE_LIMIT is 5 per 15 minutes: five addresses of one /64 use it up."""
    assert [login(client, address, i) for i, address in enumerate(SAME_64)] == [401] * 5
    assert login(client, "2001:db8:1:2::1234", 10) == 429
    assert login(client, OTHER_64, 11) == 401  # the neighbouring /64 has its own count
    keys = [k.decode() for k in redis.scan_iter(match="rate-limit*")]
    assert any("2001:db8:1:2::/64" in k for k in keys), keys
    assert not [k for k in keys if "::5" in k or "::9" in k or "DB8" in k or "ffff" in k]


def test_one_slash_64_shares_the_projects_limit(make_app: Any, db: Any, redis: Any) -> None:
    client = make_app(PROJECTS_RATE_LIMIT="5 per 15 minutes").test_client()
    assert [read(client, address) for address in SAME_64] == [200] * 5
    assert read(client, "2001:db8:1:2::42") == 429
    assert read(client, OTHER_64) == 200


def test_ipv4_is_per_address_and_mapped_ipv6_is_ipv4(make_app: Any, db: Any,
                                                     redis: Any) -> None:
    client = make_app(PROJECTS_RATE_LIMIT="3 per 15 minutes").test_client()
    assert [read(client, a) for a in ("198.51.100.7", "::ffff:198.51.100.7",
                                      "::ffff:c633:6407")] == [200, 200, 200]
    assert read(client, "198.51.100.7") == 429  # the mapped forms were the same client
    assert read(client, "198.51.100.8") == 200  # IPv4 neighbours are not grouped


def test_the_prefix_length_is_a_setting(make_app: Any, db: Any, redis: Any) -> None:
    client = make_app(PROJECTS_RATE_LIMIT="2 per 15 minutes",
                      IPV6_PREFIX_LENGTH=48).test_client()
    assert [read(client, a) for a in ("2001:db8:1:2::5", OTHER_64)] == [200, 200]
    assert read(client, "2001:db8:1:ffff::1") == 429  # one /48
    assert read(client, "2001:db8:2::1") == 200


def test_a_prefix_length_outside_1_to_128_refuses_to_start() -> None:
    assert load_config({"APP_ENV": "testing"}).IPV6_PREFIX_LENGTH == 64
    for bad in ("0", "129", "-64", "/64"):
        with pytest.raises(ConfigError, match="IPV6_PREFIX_LENGTH"):
            load_config({"APP_ENV": "testing", "IPV6_PREFIX_LENGTH": bad})
