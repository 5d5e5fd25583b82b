"""A small archive for the digest, links and explain tests, judged and saved as `plnfilter run` would.

Posts are built directly (their authors, counts and links are what the tests are about); one
Bluesky page captured from the reference network is added when its fixture is present.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

from plnfilter.filterfile import parse
from plnfilter.post import Post
from plnfilter.rank import score
from plnfilter.rules import compile_rules
from plnfilter.store import Judged, open_archive, save_page
from plnfilter.times import parse_iso, to_iso

NOW = parse_iso("2026-11-26T12:00:00Z")
FIXTURES = Path(__file__).parent / "fixtures"

FILTER_YAML = """\
name: digest-test
exclude:
  - {name: giveaways, words: [giveaway]}
include:
  - {name: topics, tags: [edtech, pln], boost: 1}
  - {name: kate, authors: [kate@edu.example], boost: 0.5}
voices:
  trusted: [kate@edu.example]
  outside_sector: [nurse.bsky.social]
  dissenting: [skeptic@other.example]
rank:
  half_life: 12h
  max_per_author: 2
  mix: {outside_sector: 1, dissenting: 1}
"""

ARTICLE = "https://blog.example.org/2026/11/open-pedagogy/"


@dataclass(frozen=True)
class Timeline:
    name: str
    network: str
    spec: str


def ago(hours: float, now: datetime = NOW) -> str:
    return to_iso(now - timedelta(hours=hours))


def seed_posts(now: datetime = NOW) -> list[Post]:
    """Eleven posts: a prolific trusted author, voices from outside, a giveaway, an old post, shared links."""

    def m(uri_id: str, author: str, hours: float, **kw) -> Post:
        host = author.split("@")[1]
        return Post(
            uri=f"https://{host}/users/{author.split('@')[0]}/statuses/{uri_id}",
            network="mastodon",
            url=f"https://{host}/@{author.split('@')[0]}/{uri_id}",
            author=author,
            created_at=ago(hours, now),
            **kw,
        )

    def b(rkey: str, handle: str, hours: float, **kw) -> Post:
        return Post(
            uri=f"at://did:plc:{handle.split('.')[0]}/app.bsky.feed.post/{rkey}",
            network="bluesky",
            url=f"https://bsky.app/profile/{handle}/post/{rkey}",
            author=handle,
            created_at=ago(hours, now),
            **kw,
        )

    return [
        m(
            "101",
            "kate@edu.example",
            1,
            text="Peer feedback that works #edtech",
            tags=("edtech",),
            likes=40,
            reposts=10,
        ),
        m(
            "102",
            "kate@edu.example",
            2,
            text="Slides are up #edtech",
            tags=("edtech",),
            likes=30,
            reposts=5,
            links=(ARTICLE + "?utm_source=mastodon",),
        ),
        m("103", "kate@edu.example", 3, text="A third from Kate #pln", tags=("pln",), likes=20, reposts=5),
        m(
            "201",
            "ana@edu.example",
            2,
            text="Open pedagogy, a reading list #pln #edtech",
            tags=("pln", "edtech"),
            likes=12,
            reposts=2,
            links=("https://www.blog.example.org/2026/11/open-pedagogy#notes",),
        ),
        b(
            "3kb1",
            "bo.bsky.social",
            4,
            text="This piece on open pedagogy #edtech",
            tags=("edtech",),
            likes=8,
            links=(ARTICLE,),
            card_url=ARTICLE,
            card_title="Open pedagogy in practice",
        ),
        b(
            "3kn1",
            "nurse.bsky.social",
            5,
            text="What nursing education taught me about feedback #edtech",
            tags=("edtech",),
            likes=1,
        ),
        m(
            "301",
            "skeptic@other.example",
            6,
            text="I doubt most #edtech claims",
            tags=("edtech",),
            likes=2,
            links=("http://blog.example.org/2026/11/open-pedagogy/?fbclid=abc",),
        ),
        m(
            "401",
            "promo@spam.example",
            1,
            text="Huge giveaway! #edtech",
            tags=("edtech",),
            likes=90,
            reposts=50,
        ),
        m(
            "501",
            "old@edu.example",
            72,
            text="Three days old #edtech",
            tags=("edtech",),
            likes=300,
            reposts=100,
        ),
        m("601", "cat@misc.example", 1, text="My cat, no tags", likes=50),
        b(
            "3kd1",
            "dana.example",
            2,
            text="Same article, from Bluesky #pln",
            tags=("pln",),
            links=("https://blog.example.org/2026/11/open-pedagogy",),
        ),
    ]


def captured_bluesky_posts() -> list[Post]:
    """The reference network's list feed, as the Bluesky source would normalise it ([] when absent)."""
    path = FIXTURES / "bluesky" / "getListFeed.json"
    if not path.exists():
        return []
    from plnfilter.sources.bluesky.normalize import to_post

    return [to_post(item) for item in json.loads(path.read_text())["feed"]]


def build_archive(
    path: Path, posts: list[Post] | None = None, now: datetime = NOW, filter_yaml: str = FILTER_YAML
) -> Path:
    """Judge every post with the filter, score it an hour before `now`, and save it in one page."""
    filter_file = parse(filter_yaml, "digest-test.yaml")
    rules = compile_rules(filter_file)
    fetched = now - timedelta(hours=1)
    judged = []
    for post in seed_posts(now) if posts is None else posts:
        verdict = rules.evaluate(post, fetched)
        judged.append(
            Judged(
                post,
                verdict.kept,
                score(post, verdict, fetched, filter_file.rank).total,
                verdict.matched,
                verdict.dropped_by,
            )
        )
    db = open_archive(path)
    # The verdicts are the filter's own, under its `name:` (each filter keeps its own).
    save_page(db, Timeline("file:seed", "file", "seed"), judged, None, fetched, filter_name=filter_file.name)
    db.conn.close()
    return path


def write_filter(directory: Path) -> Path:
    path = directory / "digest-test.yaml"
    path.write_text(FILTER_YAML)
    return path
