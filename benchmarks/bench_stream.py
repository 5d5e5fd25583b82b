"""Figure 11: Bluesky post events from a live stream, decoded and filtered as `plnfilter watch` does.

Every Bluesky post view of the corpus (grown from the reference network's records) becomes a
Jetstream commit frame in its documented wire format (`network.bsky.jetstream.subscribeEvents`),
so all the events are posts: the worst case (the real stream is mostly likes and follows, skipped
after the JSON decode). plnfilter's work per event: parse the frame, make the post view, normalise
it into a Post and judge it with filters/like69-backchannel.yaml's rules and ranking, for a
timeline that keeps every post (`watch` would first skip posts without its hashtag or author), in
batches of 300 as `watch` saves them.
The baseline is a bare `json.loads` of the same frames. One core, median of a few runs.
"""

from __future__ import annotations

import json
import statistics
import time

from measure import ROOT, Row

TARGET = 5_000
BATCH = 300  # events per batch, as `watch` saves them (plnfilter/watch.py: batch_posts)
FILTER = ROOT / "filters/like69-backchannel.yaml"


def frames_from_corpus(ctx, count: int) -> list[str]:
    """Jetstream commit frames for `count` Bluesky post views of the corpus."""
    frames: list[str] = []
    seq = 1_000_000
    for network, items in ctx.corpus.pages(count * 3):
        if network != "bluesky":
            continue
        for view in items:
            view = view.get("post", view)
            did = view["author"]["did"]
            seq += 1
            payload = {
                "$type": "network.bsky.jetstream.subscribeEvents#commit",
                "did": did,
                "seq": seq,
                "time": view.get("indexedAt") or "2026-11-26T19:18:54.492123Z",
                "collection": "app.bsky.feed.post",
                "operation": "create",
                "rev": "3n3agxwlgps22",
                "rkey": view["uri"].rsplit("/", 1)[1],
                "cid": view.get("cid") or "",
                "record": view["record"],
            }
            frames.append(json.dumps({"$type": "message", "payload": payload}, ensure_ascii=False))
            if len(frames) >= count:
                return frames
    return frames


def measure(ctx) -> list[Row]:
    from plnfilter.filterfile import load
    from plnfilter.judge import judge
    from plnfilter.rules import compile_rules
    from plnfilter.sources.bluesky.fetch import BlueskyTimeline
    from plnfilter.sources.bluesky.stream import Matcher, jetstream_events

    frames = frames_from_corpus(ctx, 5_000 if ctx.quick else 20_000)
    filter_file = load(FILTER)
    ruleset = compile_rules(filter_file)
    everything = Matcher(BlueskyTimeline("bluesky:bench", "bluesky: bench", "bench", "author", ""))
    everything.did = ""  # keep every post: the worst case

    def in_batches(matcher) -> int:
        """As `watch` does: a batch of events decoded and judged, then let go."""
        judged = 0
        for start in range(0, len(frames), BATCH):
            events, _ = jetstream_events(frames[start : start + BATCH], matcher)
            posts = [event.post for event in events if event.post is not None]
            judged += len(judge(posts, ruleset, filter_file.rank, ctx.now))
        return judged

    def ours() -> int:
        return in_batches(everything)

    def bare() -> int:
        return sum(1 for frame in frames if json.loads(frame))

    tagged = Matcher(BlueskyTimeline("bluesky:bench", "bluesky: #like69", "bench", "search", "like69"))

    def one_hashtag() -> int:
        return in_batches(tagged)

    judged = ours()
    matched = one_hashtag()
    runs = 3 if ctx.quick else 5
    ours_rate = statistics.median(_rate(ours, len(frames)) for _ in range(runs))
    bare_rate = statistics.median(_rate(bare, len(frames)) for _ in range(runs))
    tag_rate = statistics.median(_rate(one_hashtag, len(frames)) for _ in range(runs))
    return [
        Row(
            "11 stream: Bluesky post events decoded, normalised and judged",
            "events/s",
            ours_rate,
            bare_rate,
            bare_rate / ours_rate,
            f">= {TARGET:,}/s",
            ours_rate >= TARGET,
            f"{len(frames):,} Jetstream commit frames of posts ({judged:,} judged), "
            f"rules of {FILTER.name}; baseline: bare json.loads of the same frames",
        ),
        Row(
            "11 stream: the same events for one hashtag (#like69)",
            "events/s",
            tag_rate,
            bare_rate,
            bare_rate / tag_rate,
            f">= {TARGET:,}/s",
            tag_rate >= TARGET,
            f"{matched:,} of {len(frames):,} carry the tag and are normalised and judged; the rest are "
            "skipped after the JSON decode and a look at the record",
        ),
    ]


def _rate(work, count: int) -> float:
    start = time.perf_counter()
    work()
    return count / (time.perf_counter() - start)
