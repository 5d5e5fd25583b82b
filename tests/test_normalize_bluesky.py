"""Bluesky wire JSON to Post: responses captured from the reference network (tests/bluesky_net/
capture_samples.py), plus hand-written malformed and hostile items."""

from __future__ import annotations

import copy
import json
from pathlib import Path

import pytest

from plnfilter.sources.bluesky.normalize import MalformedPost, to_post

FIXTURES = Path(__file__).parent / "fixtures" / "bluesky"


def load(name: str) -> list[dict]:
    data = json.loads((FIXTURES / name).read_text(encoding="utf-8"))
    return data.get("posts") or data.get("feed")


def by_text(items: list[dict], start: str) -> dict:
    for item in items:
        view = item.get("post", item)
        if view["record"]["text"].startswith(start):
            return item
    raise AssertionError(f"no post starting {start!r}")


SEARCH = load("searchPosts.json")


def test_every_captured_post_view_and_feed_item_normalises():
    for name in sorted(p.name for p in FIXTURES.glob("*.json")):
        for item in load(name):
            post = to_post(item, "src")
            assert post.network == "bluesky" and post.uri.startswith("at://") and post.source == "src"
            assert post.created_at.endswith("Z") and post.author.endswith(".test")
            assert post.url == f"https://bsky.app/profile/{post.author}/post/{post.uri.rsplit('/', 1)[1]}"
            assert post.raw is item


def test_link_card_counts_and_author():
    post = to_post(by_text(SEARCH, "Slides from my #edtech talk"))
    assert post.author == "kate.test" and post.author_name == "Kate Educator"
    assert post.author_id.startswith("did:plc:")
    assert (post.likes, post.reposts, post.replies, post.quotes) == (4, 2, 1, 2)
    assert post.card_url == "https://example.org/slides" and post.card_title == "Feedback loops that work"
    assert post.links == ("https://example.org/slides",)  # facet link and card are one link
    assert post.tags == ("edtech",) and post.lang == "en"
    assert not post.has_media and not post.reposted_by and not post.reply_to


def test_images_keep_their_alt_text():
    post = to_post(by_text(SEARCH, "New #edtech podcast"))
    assert post.has_media and post.media_alt == ("Podcast cover: a microphone on a desk",)


def test_quotes_with_and_without_media():
    slides = to_post(by_text(SEARCH, "Slides from my"))
    quote = to_post(by_text(SEARCH, "Worth reading"))
    assert quote.quote_of == slides.uri and not quote.has_media
    with_media = to_post(by_text(SEARCH, "Mi resumen visual"))
    assert with_media.quote_of == slides.uri and with_media.has_media
    assert (
        with_media.media_alt == ("Diagrama de retroalimentación en tres pasos",) and with_media.lang == "es"
    )


def test_reply_and_mention():
    reply = to_post(by_text(SEARCH, "@kate.test thanks"))
    assert reply.reply_to == to_post(by_text(SEARCH, "Slides from my")).uri
    assert reply.mentions == ("kate.test",)


def test_tags_from_facets_any_case_and_from_record_tags_only():
    items = load("getPosts-mixed-case.json") + load("getPosts-tags-only.json")
    assert to_post(by_text(items, "Great discussion on #EdTech")).tags == ("edtech",)
    assert to_post(by_text(items, "Shouting about #EDTECH")).tags == ("edtech",)
    tags_only = to_post(by_text(items, "Reading list"))
    assert tags_only.tags == ("edtech", "pln") and "#" not in tags_only.text


def test_tags_are_what_facets_say_not_what_the_text_looks_like():
    assert to_post(by_text(SEARCH, "#edtechnology is not")).tags == ("edtechnology",)
    assert to_post(by_text(SEARCH, "typed by a script")).tags == ()
    stuffed = to_post(by_text(SEARCH, "#edtech #ai #crypto"))
    assert stuffed.tags == ("edtech", "ai", "crypto", "nft", "web3", "learning", "teaching", "pln")


def test_languages():
    langs = {to_post(item).text[:12]: to_post(item).lang for item in SEARCH}
    assert {"es", "ja", "de", "en"} <= set(langs.values())
    assert to_post(by_text(SEARCH, "Bilingual")).lang == "ja"  # the first of record.langs


def test_self_label_marks_sensitive():
    assert to_post(by_text(SEARCH, "Unblurred photos")).sensitive
    assert not to_post(by_text(SEARCH, "Slides from my")).sensitive


def test_repost_is_the_original_with_the_reposter_recorded():
    items = load("getAuthorFeed-reposts.json")
    assert all(item["reason"]["by"]["handle"] == "curator.test" for item in items)
    post = to_post(by_text(items, "Slides from my"))
    assert post.author == "kate.test" and post.reposted_by == ("curator.test",)
    assert post.uri == to_post(by_text(SEARCH, "Slides from my")).uri


def test_feed_item_with_reply_context_is_the_post_itself():
    item = by_text(load("getAuthorFeed-replies.json"), "@kate.test thanks")
    assert "reply" in item
    post = to_post(item)
    assert post.author == "adjoa.test" and post.reply_to == item["post"]["record"]["reply"]["parent"]["uri"]


# --- hand-written: malformed and hostile input -------------------------------------------------


def view() -> dict:
    return copy.deepcopy(by_text(SEARCH, "Slides from my"))


@pytest.mark.parametrize(
    "damage",
    [
        lambda v: v.pop("uri"),
        lambda v: v.__setitem__("uri", "https://example.com/not-at"),
        lambda v: v.pop("author"),
        lambda v: v["author"].pop("did"),
        lambda v: v.__setitem__("record", "text"),
        lambda v: v["record"].__setitem__("text", 42),
        lambda v: v["record"].__setitem__("facets", {"not": "a list"}),
    ],
)
def test_malformed_post_views_raise_one_specific_error(damage):
    item = view()
    damage(item)
    with pytest.raises(MalformedPost) as caught:
        to_post(item)
    assert isinstance(caught.value, ValueError)


def test_malformed_items_that_are_not_objects():
    for item in (None, [], "at://x", {"post": "nope"}):
        with pytest.raises(MalformedPost):
            to_post(item)


def test_malformed_error_names_the_uri():
    item = view()
    item.pop("author")
    with pytest.raises(MalformedPost) as caught:
        to_post(item)
    assert caught.value.uri == item["uri"] and item["uri"] in str(caught.value)


def test_hostile_facets_and_counts_are_tolerated():
    item = view()
    item["record"]["facets"] = [
        {
            "index": {"byteStart": 500, "byteEnd": 900},
            "features": [{"$type": "app.bsky.richtext.facet#mention", "did": "did:plc:x"}],
        },
        {
            "index": {"byteStart": 0, "byteEnd": 6},
            "features": [{"$type": "app.bsky.richtext.facet#tag", "tag": "#DoubleHash"}],
        },
        {"index": "junk", "features": ["junk", {"$type": "app.bsky.richtext.facet#link", "uri": 5}]},
        "junk",
    ]
    item["record"]["tags"] = ["EdTech", 7, None, "edtech"]
    item["likeCount"], item["repostCount"], item["replyCount"] = -3, True, "9"
    item["labels"] = [{"val": "porn", "neg": True}, "junk"]
    item["author"]["handle"] = "handle.invalid"
    post = to_post(item)
    assert post.mentions == ("did:plc:x",)  # the slice is out of range: the DID stands in
    assert post.tags == ("doublehash", "edtech")
    assert (post.likes, post.reposts, post.replies) == (0, 0, 0)
    assert not post.sensitive  # a negated label does not count
    assert post.author == post.author_id and post.url.startswith(
        f"https://bsky.app/profile/{post.author_id}/"
    )


def test_hidden_quote_and_video_and_missing_times():
    item = view()
    item["embed"] = {
        "$type": "app.bsky.embed.recordWithMedia#view",
        "record": {
            "record": {
                "$type": "app.bsky.embed.record#viewBlocked",
                "uri": "at://did:plc:z/app.bsky.feed.post/1",
            }
        },
        "media": {"$type": "app.bsky.embed.video#view", "alt": "A classroom demo"},
    }
    item["record"]["createdAt"] = "not a time"
    item["indexedAt"] = "2026-01-02T03:04:05.678Z"
    post = to_post(item)
    assert post.quote_of == "at://did:plc:z/app.bsky.feed.post/1"
    assert post.has_media and post.media_alt == ("A classroom demo",)
    assert post.created_at == "2026-01-02T03:04:05Z"  # fell back to indexedAt


def test_posts_are_hashable_values():
    first, again = to_post(view()), to_post(view())
    assert first == again and len({first, again}) == 1
