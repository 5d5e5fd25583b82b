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


def a_jetstream_frame(seq: int = 7, **changes) -> str:
    view = json.loads((FIXTURES.parent / "bluesky" / "searchPosts.json").read_text(encoding="utf-8"))[
        "posts"
    ][0]
    payload = {
        "$type": "network.bsky.jetstream.subscribeEvents#commit",
        "did": view["author"]["did"],
        "seq": seq,
        "time": "2026-11-26T19:18:54.492123Z",
        "collection": "app.bsky.feed.post",
        "operation": "create",
        "rev": "3n3agxwlgps22",
        "rkey": view["uri"].rsplit("/", 1)[1],
        "cid": view["cid"],
        "record": view["record"],
        **changes,
    }
    return json.dumps({"$type": "message", "payload": payload})


def edtech_matcher():
    from plnfilter.sources.bluesky.fetch import BlueskyTimeline
    from plnfilter.sources.bluesky.stream import Matcher

    return Matcher(BlueskyTimeline("bluesky:search/edtech", "bluesky: #edtech", "x", "search", "edtech"))


def test_a_jetstream_post_becomes_the_post_its_view_would_with_its_position():
    from plnfilter.sources.bluesky.stream import jetstream_events

    (event,), read = jetstream_events([a_jetstream_frame(seq=41)], edtech_matcher())
    assert read == 1 and event.position == "41" and not event.problem
    post = event.post
    assert post.uri.startswith("at://did:plc:") and post.tags == ("edtech",) and post.lang == "en"
    assert post.author == post.author_id  # a stream names no handle: the DID stands in
    assert post.sensitive  # its self-label, as the AppView would show it


def test_jetstream_events_of_other_kinds_tags_and_collections_are_left_out():
    from plnfilter.sources.bluesky.stream import jetstream_events

    others = [
        a_jetstream_frame(collection="app.bsky.feed.like"),
        a_jetstream_frame(operation="delete", record=None),
        a_jetstream_frame(operation="update"),
        a_jetstream_frame(**{"$type": "network.bsky.jetstream.subscribeEvents#identity"}),
        a_jetstream_frame(record={"text": "nothing tagged here", "$type": "app.bsky.feed.post"}),
    ]
    events, read = jetstream_events(others, edtech_matcher())
    assert read == 5 and events == []


def test_malformed_jetstream_frames_are_skipped_with_a_reason_and_the_rest_kept():
    from plnfilter.sources.bluesky.stream import jetstream_events

    hostile = [
        "{not json",
        b"\xff\xfe\x00",
        "[]",
        '{"$type": "message", "payload": "text"}',
        '{"$type": "error", "error": "ConsumerTooSlow"}',
        "[" * 100_000 + "]" * 100_000,  # nesting far past any parser's limit
        a_jetstream_frame(did=None),
        a_jetstream_frame(rkey="../../etc"),
        a_jetstream_frame(record="a string"),
        a_jetstream_frame(record={"text": 42, "facets": [{"features": [{"tag": "edtech"}]}]}),
        a_jetstream_frame(seq=99),
    ]
    events, read = jetstream_events(hostile, edtech_matcher())
    problems = [event.problem for event in events if event.problem]
    posts = [event.post for event in events if event.post is not None]
    assert read == len(hostile)
    assert len(problems) == len(hostile) - 1 and all(problem.startswith("skipped") for problem in problems)
    assert len(posts) == 1 and events[-1].position == "99"


def test_firehose_records_become_json_as_the_appview_shows_them():
    from plnfilter.sources.bluesky.events import jsonable

    class Cid:
        def __str__(self) -> str:
            return "bafkreib"

    record = {"embed": {"images": [{"image": {"ref": Cid(), "size": 3}, "alt": "a"}]}, "sig": b"\x01\x02"}
    assert jsonable(record) == {
        "embed": {"images": [{"image": {"ref": {"$link": "bafkreib"}, "size": 3}, "alt": "a"}]},
        "sig": {"$bytes": "AQI="},
    }
