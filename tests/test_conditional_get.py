"""Conditional GET on the cached public reads: an ETag made of the entry's generation and key,
304 with no body for the current tag (counted against the rate limit like any read), a new
tag after any write, and never a 304 across a write Redis never heard of."""
from __future__ import annotations

import time
from typing import Any

from scripts.processes import PrivateRedis

PROJECTS = "/api/v1/projects"
NEW = {"title": "Conditional", "description": "ETags", "budget": 100}


def _generation(db: Any) -> int:
    with db.cursor() as cur:
        cur.execute("SELECT value FROM cache_generations WHERE name = 'projects'")
        return int(cur.fetchone()[0])


def test_the_current_tag_is_a_304_without_a_body(client: Any, auth: Any,
                                                 redis: Any) -> None:
    owner = auth.register()
    pid = client.post(f"{PROJECTS}/", json=NEW, headers=owner["headers"]).json["project"]["id"]
    for url in (f"{PROJECTS}/", f"{PROJECTS}/featured", f"{PROJECTS}/{pid}",
                "/api/v1/stats/summary"):
        first = client.get(url)
        tag = first.headers["ETag"]
        assert first.status_code == 200 and first.headers["Cache-Control"] == "no-cache", url
        again = client.get(url, headers={"If-None-Match": tag})
        assert again.status_code == 304 and again.data == b"", url
        assert again.headers["ETag"] == tag and again.headers["X-Cache"] == "HIT", url
        for other in ('"0-00000000"', "W/" + tag.replace('"', "'")):
            assert client.get(url, headers={"If-None-Match": other}).status_code == 200, url
        listed = client.get(url, headers={"If-None-Match": f'"nope", W/{tag}'})
        assert listed.status_code == 304, url  # a list of tags, weakly compared
    # Every read counted, the 304s too: one create and 4 x 5 reads of /projects routes.
    counters = [k for k in redis.scan_iter(match="rate-limit*") if b"projects" in k]
    assert [int(redis.get(k)) for k in counters] == [16]


def test_a_write_changes_the_tag(client: Any, auth: Any) -> None:
    owner = auth.register()
    pid = client.post(f"{PROJECTS}/", json=NEW, headers=owner["headers"]).json["project"]["id"]
    before = {url: client.get(url).headers["ETag"] for url in (f"{PROJECTS}/",
                                                                f"{PROJECTS}/{pid}")}
    assert client.patch(f"{PROJECTS}/{pid}", json={"title": "Changed"},
                        headers=owner["headers"]).status_code == 200
    for url, tag in before.items():
        answer = client.get(url, headers={"If-None-Match": tag})
        assert answer.status_code == 200 and answer.headers["ETag"] != tag, url
        assert "Changed" in answer.get_data(as_text=True), url


def test_never_a_304_across_a_write_redis_missed(make_app: Any, auth: Any, db: Any,
                                                 redis: Any, tmp_path: Any) -> None:
    """A caches the list; C writes through another Redis (as if the shared one had been
    unreachable): A's next conditional read must not answer 304 with the old tag."""
    a = make_app()
    owner = type(auth)(a).register()
    reader = a.test_client()
    pid = reader.post(f"{PROJECTS}/", json=NEW, headers=owner["headers"]).json["project"]["id"]
    reader.get(f"{PROJECTS}/")
    tags = {url: reader.get(url).headers["ETag"] for url in (f"{PROJECTS}/",
                                                             f"{PROJECTS}/{pid}")}
    with PrivateRedis(tmp_path / "other") as other:
        c = make_app(REDIS_URL=other.url)
        assert c.test_client().patch(f"{PROJECTS}/{pid}", json={"title": "Unheard"},
                                     headers=owner["headers"]).status_code == 200
    target = _generation(db)
    deadline = time.monotonic() + 5
    while a.extensions["generations"].required("projects") < target:
        assert time.monotonic() < deadline, "the write's NOTIFY never arrived"
        time.sleep(0.02)
    for url, tag in tags.items():
        answer = reader.get(url, headers={"If-None-Match": tag})
        assert answer.status_code == 200 and answer.headers["ETag"] != tag, url
        assert "Unheard" in answer.get_data(as_text=True), url
