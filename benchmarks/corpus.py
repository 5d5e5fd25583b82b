"""A realistic stream of API pages for the benchmarks, grown from the captured fixtures' shapes.

Every generated Mastodon status or Bluesky post view is a captured one (filters/samples/,
tests/fixtures/) with a new identity, author, time, counts and an extra sentence of words,
hashtags and links drawn from the fixtures' own vocabulary, so the rules, the FTS index and the
exporters see the mix of sizes, markup, embeds, replies and reposts the real APIs send.
Deterministic for a given seed.
"""

from __future__ import annotations

import json
import random
import re
from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
MASTODON_FILES = [
    ROOT / "filters/samples/mastodon-tags.json",
    ROOT / "filters/samples/mastodon-list.json",
    ROOT / "tests/fixtures/mastodon/mock-tag-edtech.json",
    ROOT / "tests/fixtures/mastodon/mock-list-learning-tech.json",
    ROOT / "tests/fixtures/mastodon/mastodon-4x-cassettes.json",
]
BLUESKY_FILES = [
    ROOT / "filters/samples/bluesky-search.json",
    ROOT / "filters/samples/bluesky-listfeed.json",
    ROOT / "filters/samples/bluesky-timeline.json",
    *sorted((ROOT / "tests/fixtures/bluesky").glob("*.json")),
]
INSTANCES = [
    "mastodon.social",
    "fosstodon.org",
    "scholar.social",
    "edu.social.example",
    "med-mastodon.com",
    "glammr.us",
    "hachyderm.io",
    "mstdn.ca",
    "eduhub.example",
    "like69.example",
]
# Hashtags the example filters care about, common ones more often; a few spam tags.
TAGS = (
    ["edtech"] * 8
    + ["pln"] * 4
    + ["oer"] * 3
    + ["like69"] * 3
    + ["edchat"] * 3
    + ["librarytwitter", "openeducation", "meded", "nursing", "libraries", "criticaledtech"]
    + ["ai", "teaching", "highered", "research", "accessibility", "k12", "udl", "assessment"] * 2
    + ["crypto", "nft", "web3"]
)
LINK_HOSTS = [
    "https://blog.example.org/2026/11/",
    "https://zenodo.org/records/",
    "https://slides.com/kate/",
    "https://docs.google.com/presentation/d/",
    "https://www.youtube.com/watch?v=",
    "https://oer.example.edu/units/",
    "https://news.example.com/story/",
    "https://claim.example.com/free/",
]
EXTRA_WORDS = (
    "feedback rubric template guide toolkit slides panel keynote workshop talk session notes recording "
    "assessment curriculum students teachers library open textbook pedagogy research question anyone "
    "tips ideas recommendations looking privacy surveillance data hype giveaway webinar conference"
).split()
_WORD = re.compile(r"[^\W\d_][\w'-]{2,}")
_TAG_MARKUP = re.compile(r"<[^>]+>")


def _load(path: Path) -> list[dict[str, Any]]:
    data = json.loads(path.read_text(encoding="utf-8"))
    if isinstance(data, list):
        return [item for item in data if isinstance(item, dict)]
    for key in ("posts", "feed", "statuses"):
        if isinstance(data.get(key), list):
            return [item for item in data[key] if isinstance(item, dict)]
    return [item for item in data.values() if isinstance(item, dict) and "uri" in item]


class Corpus:
    """Generates statuses and post views by index: item `i` is always the same for one seed."""

    def __init__(self, now: datetime, seed: int = 69, gap: float = 12.0) -> None:
        self.now = now
        self.seed = seed
        self.gap = gap  # seconds between consecutive posts: 100k posts span two weeks
        self.mastodon = [s for path in MASTODON_FILES if path.exists() for s in _load(path) if s.get("uri")]
        self.bluesky = [i for path in BLUESKY_FILES if path.exists() for i in _load(path)]
        words: set[str] = set(EXTRA_WORDS)
        for status in self.mastodon:
            words.update(w.lower() for w in _WORD.findall(_TAG_MARKUP.sub(" ", status.get("content") or "")))
        for item in self.bluesky:
            record = (item.get("post") or item).get("record") or {}
            words.update(w.lower() for w in _WORD.findall(str(record.get("text") or "")))
        self.words = sorted(words)

    # The shared parts of one generated post
    def _extras(self, rng: random.Random) -> tuple[list[str], list[str], list[str]]:
        words = rng.choices(self.words, k=rng.randint(6, 24))
        tags = list(dict.fromkeys(rng.choices(TAGS, k=rng.choice((0, 1, 1, 2, 2, 3, 7)))))
        links = [rng.choice(LINK_HOSTS) + str(rng.randint(1, 5000))] if rng.random() < 0.3 else []
        return words, tags, links

    def _when(self, i: int, rng: random.Random) -> datetime:
        """Newest first, as timelines page: item i is about i * gap seconds old."""
        return self.now - timedelta(seconds=(i + rng.random()) * self.gap)

    def mastodon_status(self, i: int) -> dict[str, Any]:
        """A Mastodon status as `/api/v1/timelines/tag/...` returns it."""
        rng = random.Random(self.seed * 1_000_003 + i)
        template = self.mastodon[i % len(self.mastodon)]
        original = template.get("reblog") or template
        instance = INSTANCES[rng.randrange(len(INSTANCES))]
        user = f"user{rng.randrange(3000)}"
        base = f"https://{instance}"
        status_id = str(110_000_000_000_000_000 + i)
        words, tags, links = self._extras(rng)
        html = " ".join(words)
        for tag in tags:
            html += f' <a href="{base}/tags/{tag}" class="mention hashtag" rel="tag">#<span>{tag}</span></a>'
        for link in links:
            html += f' <a href="{link}" target="_blank" rel="nofollow noopener noreferrer">{link}</a>'
        account = dict(original.get("account") or {})
        account.update(
            id=str(rng.randrange(10**12)),
            username=user,
            acct=user if instance == "mastodon.social" else f"{user}@{instance}",
            display_name=f"User {user[4:]}",
            url=f"{base}/@{user}",
            uri=f"{base}/users/{user}",
            bot=rng.random() < 0.02,
            followers_count=int(rng.paretovariate(1.2) * 20),
        )
        created = self._when(i, rng)
        status = dict(original)
        status.update(
            id=status_id,
            uri=f"{base}/users/{user}/statuses/{status_id}",
            url=f"{base}/@{user}/{status_id}",
            account=account,
            content=(original.get("content") or "") + f"<p>{html}</p>",
            created_at=created.strftime("%Y-%m-%dT%H:%M:%S.") + f"{created.microsecond // 1000:03d}Z",
            tags=list(original.get("tags") or []) + [{"name": t, "url": f"{base}/tags/{t}"} for t in tags],
            favourites_count=int(rng.paretovariate(1.5)) - 1,
            reblogs_count=int(rng.paretovariate(2.0)) - 1,
            replies_count=int(rng.paretovariate(2.5)) - 1,
            reblog=None,
        )
        if rng.random() < 0.1:  # a boost: the original inside, someone else's wrapper outside
            booster = f"user{rng.randrange(3000)}"
            wrapper = dict(status, id=str(int(status_id) + 1), reblog=status, content="")
            wrapper["account"] = dict(account, acct=booster, username=booster, url=f"{base}/@{booster}")
            return wrapper
        return status

    def bluesky_item(self, i: int) -> dict[str, Any]:
        """A Bluesky PostView (search) or FeedViewPost (feeds), camelCase as XRPC sends it."""
        rng = random.Random(self.seed * 2_000_003 + i)
        template = self.bluesky[i % len(self.bluesky)]
        view = dict(template.get("post") or template)
        handle_number = rng.randrange(3000)
        did = f"did:plc:bench{handle_number:020d}"
        author = dict(view.get("author") or {})
        author.update(
            did=did, handle=f"member{handle_number}.bsky.social", displayName=f"Member {handle_number}"
        )
        record = dict(view.get("record") or {})
        words, tags, links = self._extras(rng)
        text = str(record.get("text") or "")
        facets = list(record.get("facets") or [])
        pieces = [text, " ".join(words)]
        position = len((" ".join(pieces)).encode("utf-8"))
        marked = [("#" + tag, {"$type": "app.bsky.richtext.facet#tag", "tag": tag}) for tag in tags]
        marked += [(link, {"$type": "app.bsky.richtext.facet#link", "uri": link}) for link in links]
        for piece, feature in marked:
            start = position + 1  # after the joining space
            end = start + len(piece.encode())
            facets.append(
                {
                    "$type": "app.bsky.richtext.facet",
                    "index": {"byteStart": start, "byteEnd": end},
                    "features": [feature],
                }
            )
            pieces.append(piece)
            position = end
        created = self._when(i, rng)
        stamp = created.strftime("%Y-%m-%dT%H:%M:%S.") + f"{created.microsecond // 1000:03d}Z"
        record.update(text=" ".join(p for p in pieces if p), facets=facets, createdAt=stamp)
        view.update(
            uri=f"at://{did}/app.bsky.feed.post/3bench{i:010d}",
            author=author,
            record=record,
            indexedAt=stamp,
            likeCount=int(rng.paretovariate(1.5)) - 1,
            repostCount=int(rng.paretovariate(2.0)) - 1,
            replyCount=int(rng.paretovariate(2.5)) - 1,
        )
        if "post" in template:
            return dict(template, post=view)
        return view

    def pages(
        self, count: int, page_size: int = 40, start: int = 0
    ) -> Iterator[tuple[str, list[dict[str, Any]]]]:
        """(network, page) pairs holding `count` items from item `start` on: three Mastodon pages for
        every two Bluesky ones. A `start` that is a multiple of `page_size` continues the very pages
        a run from 0 would have made (an archive can be grown in steps)."""
        made = start
        number = start // page_size
        while made < start + count:
            size = min(page_size, start + count - made)
            network = "bluesky" if number % 5 in (1, 3) else "mastodon"
            make = self.bluesky_item if network == "bluesky" else self.mastodon_status
            yield network, [make(made + k) for k in range(size)]
            made += size
            number += 1
