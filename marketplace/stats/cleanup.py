"""The `temp:` keyspace: scratch data that the hourly cleanup command removes."""
from __future__ import annotations

import redis

TEMP_PREFIX = "temp:"
SCAN_COUNT = 500  # keys looked at per SCAN step, and at most this many per UNLINK


def remove_temp_keys(client: redis.Redis) -> int:
    """SCAN MATCH temp:* and UNLINK each batch; the number of keys actually removed."""
    removed = 0
    cursor = 0
    while True:
        cursor, keys = client.scan(cursor, match=f"{TEMP_PREFIX}*", count=SCAN_COUNT)
        if keys:
            removed += int(client.unlink(*keys))
        if cursor == 0:
            return removed
