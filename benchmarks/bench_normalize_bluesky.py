"""Post views per second: plnfilter's `to_post` against atproto's model parsing of the same page.

    .venv/bin/python benchmarks/bench_normalize_bluesky.py [PAGE.json]

The page defaults to filters/samples/bluesky-search.json (a searchPosts response captured from
the Bluesky reference network). atproto 0.0.73 parses a response with
`models.get_or_create(json, models.AppBskyFeedSearchPosts.Response)`, as
`client.app.bsky.feed.search_posts` does. Median of 5 runs.
"""

from __future__ import annotations

import json
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from plnfilter.sources.bluesky.normalize import to_post  # noqa: E402

TARGET = 20_000
RUNS = 5


def rate(work, page: dict, count: int, min_seconds: float) -> float:
    """Post views per second of `work(page)`, repeated for at least `min_seconds`."""
    done, start = 0, time.perf_counter()
    while True:
        work(page)
        done += count
        elapsed = time.perf_counter() - start
        if elapsed >= min_seconds:
            return done / elapsed


def main() -> int:
    path = Path(sys.argv[1]) if len(sys.argv) > 1 else ROOT / "filters/samples/bluesky-search.json"
    page = json.loads(path.read_text(encoding="utf-8"))
    items = page.get("posts") or page.get("feed")

    from atproto import models

    model = (
        models.AppBskyFeedSearchPosts.Response if "posts" in page else models.AppBskyFeedGetListFeed.Response
    )

    def ours(data):
        for item in data.get("posts") or data.get("feed"):
            to_post(item)

    def theirs(data):
        models.get_or_create(json.loads(json.dumps(data)), model)  # fresh dicts, as from the wire

    ours_rates = [rate(ours, page, len(items), 0.5) for _ in range(RUNS)]
    theirs_rates = [rate(theirs, page, len(items), 1.0) for _ in range(RUNS)]
    ours_median, theirs_median = statistics.median(ours_rates), statistics.median(theirs_rates)
    shown = path.relative_to(ROOT) if path.is_relative_to(ROOT) else path
    print(f"page: {shown} ({len(items)} post views)")
    print(f"plnfilter to_post:      {ours_median:>10,.0f} post views/s (median of {RUNS})")
    print(f"atproto model parsing:  {theirs_median:>10,.0f} post views/s (median of {RUNS})")
    print(
        f"ratio: {ours_median / theirs_median:,.1f}x; target >= {TARGET:,} post views/s: {'met' if ours_median >= TARGET else 'NOT met'}"
    )
    return 0 if ours_median >= TARGET else 1


if __name__ == "__main__":
    sys.exit(main())
