"""The Mastodon stream decoder on hostile and odd input: server-sent events split anywhere, heartbeats,
malformed events skipped with a reason, events the REST timeline would not show left out."""

from __future__ import annotations

import json
from pathlib import Path

from plnfilter.sources.mastodon.fetch import MastodonTimeline
from plnfilter.sources.mastodon.stream import decode_event, sse_events

FIXTURES = Path(__file__).parent / "fixtures" / "mastodon"
TAG = MastodonTimeline(
    "mastodon:example.social/tag/edtech", "example.social", "s", "example.social", "tag", "edtech"
)


def a_status() -> dict:
    return json.loads((FIXTURES / "mock-tag-edtech.json").read_text(encoding="utf-8"))[0]


def test_events_split_across_chunks_with_heartbeats_and_multiline_data():
    status = json.dumps(a_status())
    stream = f":connected\n\n:thump\n\nevent: update\ndata: {status}\n\nevent: delete\r\ndata: 12\r\n\r\ndata: a\ndata: b\n\n"
    raw = stream.encode()
    chunks = [raw[i : i + 7] for i in range(0, len(raw), 7)]
    events = list(sse_events(iter(chunks)))
    assert events == [("update", status), ("delete", "12"), ("message", "a\nb")]


def test_post_events_become_posts_and_the_rest_is_left_out():
    status = a_status()
    event = decode_event(TAG, "example.social", "update", json.dumps(status))
    assert event is not None and event.post is not None and event.post.uri == status["uri"]
    assert event.post.source == TAG.name
    assert decode_event(TAG, "example.social", "notification", json.dumps({"type": "mention"})) is None
    assert decode_event(TAG, "example.social", "delete", "12") is None
    unlisted = {**status, "visibility": "unlisted"}
    assert decode_event(TAG, "example.social", "update", json.dumps(unlisted)) is None


def test_malformed_events_are_skipped_with_a_reason():
    for data in ("{not json", "[1, 2]", '"text"', json.dumps({"id": "9", "account": "nobody"})):
        event = decode_event(TAG, "example.social", "update", data)
        assert event is not None and event.post is None
        assert event.problem.startswith("skipped")
