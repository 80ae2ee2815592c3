"""limits 5.8: the SHA of RedisStorage's increment script, to send it in our own pipeline.

A cached read counts its rate limit and reads its cache entry in one round trip
(`marketplace/rate_limits.py`), so the script that `RedisStorage.incr` runs is sent by
hand there, with the storage's own key prefix and arguments.
"""
from __future__ import annotations

from limits.storage import RedisStorage

from marketplace.adapters import gone

PRIVATE = ("RedisStorage.lua_incr_expire",)


def incr_script_sha(storage: RedisStorage) -> str:
    """The SHA1 of the `incr_expire` script (KEYS[1]=counter, ARGV=expiry, amount)."""
    return storage.lua_incr_expire.sha


def check(storage: RedisStorage) -> None:
    """Fail with the attribute's name if an upgrade removed what this adapter reads."""
    script = getattr(storage, "lua_incr_expire", None)
    if script is None or not isinstance(getattr(script, "sha", None), str):
        raise gone("limits.storage.RedisStorage.lua_incr_expire (the INCRBY+EXPIRE script)",
                   "limits", "a new way to count in one round trip")
