"""The client address every per-address limit is keyed by (after ProxyFix, see create_app).

An IPv4 client is counted per address. An IPv6 client is counted per network: a home or
a server gets a whole /64 (often a /56 or /48), so counting per address would let one
client multiply every per-address allowance by the addresses it holds. IPv6 addresses are
grouped by their first IPV6_PREFIX_LENGTH bits, and an IPv4-mapped IPv6 address
(`::ffff:1.2.3.4`) is its IPv4 address. Only this normalised form reaches Redis key names:
anything that is not an IP address counts as one shared client, `unknown`.
"""
from __future__ import annotations

import ipaddress
from functools import lru_cache

from flask import current_app, request

UNKNOWN = "unknown"


def client_address() -> str:
    """The client's rate-limit identity: its IPv4 address or its IPv6 network."""
    return rate_limit_key(request.remote_addr, current_app.config["IPV6_PREFIX_LENGTH"])


@lru_cache(maxsize=4096)
def rate_limit_key(address: str | None, ipv6_prefix_length: int) -> str:
    """`203.0.113.7`, or `2001:db8:1:2::/64` for any address of that /64."""
    try:
        ip = ipaddress.ip_address((address or "").split("%", 1)[0])  # no zone index
    except ValueError:
        return UNKNOWN
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    if isinstance(ip, ipaddress.IPv4Address):
        return str(ip)
    return str(ipaddress.IPv6Network((ip, ipv6_prefix_length), strict=False))
