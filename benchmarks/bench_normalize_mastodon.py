"""Statuses per second: plnfilter's `to_post` against Mastodon.py's entity casting of the same page.

    .venv/bin/python benchmarks/bench_normalize_mastodon.py [PAGE.json]

The page defaults to filters/samples/mastodon-tags.json (captured from mastodon-mock's HTTP API).
Mastodon.py casts every response with `mastodon.types_base.try_cast_recurse(return_type, json)`;
here it casts the same list as `List[Status]`, as `timeline_hashtag` would. Median of 5 runs.
"""

from __future__ import annotations

import json
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from plnfilter.sources.mastodon.normalize import to_post  # noqa: E402

TARGET = 20_000
RUNS = 5


def rate(work, statuses: list[dict], min_seconds: float) -> float:
    """Statuses per second of `work(statuses)`, repeated for at least `min_seconds`."""
    done, start = 0, time.perf_counter()
    while True:
        work(statuses)
        done += len(statuses)
        elapsed = time.perf_counter() - start
        if elapsed >= min_seconds:
            return done / elapsed


def main() -> int:
    path = Path(sys.argv[1]) if len(sys.argv) > 1 else ROOT / "filters/samples/mastodon-tags.json"
    page = json.loads(path.read_text(encoding="utf-8"))
    instance = page[0]["uri"].split("/@")[0]

    from mastodon.return_types import Status
    from mastodon.types_base import try_cast_recurse

    def ours(statuses):
        for status in statuses:
            to_post(status, instance)

    def theirs(statuses):
        try_cast_recurse(list[Status], json.loads(json.dumps(statuses)))  # fresh dicts, as from the wire

    ours_rates = [rate(ours, page, 0.5) for _ in range(RUNS)]
    theirs_rates = [rate(theirs, page, 1.0) for _ in range(RUNS)]
    ours_median, theirs_median = statistics.median(ours_rates), statistics.median(theirs_rates)
    print(f"page: {path.relative_to(ROOT) if path.is_relative_to(ROOT) else path} ({len(page)} statuses)")
    print(f"plnfilter to_post:          {ours_median:>10,.0f} statuses/s (median of {RUNS})")
    print(f"Mastodon.py entity casting: {theirs_median:>10,.0f} statuses/s (median of {RUNS})")
    print(
        f"ratio: {ours_median / theirs_median:,.0f}x; target >= {TARGET:,} statuses/s: {'met' if ours_median >= TARGET else 'NOT met'}"
    )
    return 0 if ours_median >= TARGET else 1


if __name__ == "__main__":
    sys.exit(main())
