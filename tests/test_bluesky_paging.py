"""The Bluesky walk follows the server's cursor, never the size of a page (no network: captured pages).

An AppView drops posts it will not show (blocked or muted authors) after taking a page, so a page can
come back empty while its cursor leads on; a server that repeats a cursor must not make a loop.
"""

from __future__ import annotations

import json
from pathlib import Path

from plnfilter.sources.bluesky.fetch import walk
from plnfilter.times import parse_iso

FIXTURES = Path(__file__).parent / "fixtures" / "bluesky"


class Scripted:
    name = "bluesky:test"

    def __init__(self, pages: list[dict]) -> None:
        self.pages = pages
        self.calls: list[dict] = []

    def get(self, nsid: str, params: dict, hint: str = "") -> dict:
        self.calls.append(params)
        return self.pages[min(len(self.calls), len(self.pages)) - 1]


def walked(pages: list[dict]) -> tuple[Scripted, list]:
    conn = Scripted(pages)
    found = list(
        walk(
            conn,
            "app.bsky.feed.searchPosts",
            {"q": "x"},
            "posts",
            None,
            since=parse_iso("2000-01-01T00:00:00Z"),
            max_pages=10,
            keep=lambda post, item: True,
        )
    )
    return conn, found


def posts() -> list[dict]:
    return json.loads((FIXTURES / "searchPosts.json").read_text())["posts"]


def test_an_empty_page_with_a_cursor_does_not_end_the_walk():
    every = posts()
    conn, pages = walked(
        [{"posts": every[:3], "cursor": "a"}, {"posts": [], "cursor": "b"}, {"posts": every[3:]}]
    )
    assert [call.get("cursor") for call in conn.calls] == [None, "a", "b"]
    assert sorted(post.uri for page in pages for post in page.posts) == sorted(p["uri"] for p in every)
    assert [page.cursor is None for page in pages] == [True, True, False]


def test_a_repeated_cursor_ends_the_walk():
    every = posts()
    conn, pages = walked([{"posts": every[:3], "cursor": "a"}, {"posts": every[3:6], "cursor": "a"}])
    assert [call.get("cursor") for call in conn.calls] == [None, "a"]
    assert pages[-1].cursor  # the walk ended there, with its cursor
