"""Figure 12: `plnfilter watch` soaked at a steady rate: its memory once the first post is in and at the end.

mastodon-mock (from the test suite's tests/servers) serves a hashtag stream; posts are made at 20
a second for 60 s (20 s with --quick) while `watch` follows it; every post must be archived once.
"""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path

from measure import ROOT, Row

sys.path.insert(0, str(ROOT / "tests"))

GROWTH_LIMIT_MB = 10.0


def measure(ctx) -> list[Row]:
    from servers.mastodon_mock import start_mock
    from servers.soak import soak, token_env

    seconds = 20 if ctx.quick else 60
    mock = start_mock()
    try:
        with tempfile.TemporaryDirectory(dir=ctx.work) as work:
            env = token_env(mock.host, ctx.home)
            env.pop("PYTHONDONTWRITEBYTECODE", None)
            result = soak(mock, Path(work), env, seconds=seconds, per_second=20)
    finally:
        mock.stop()
    start_mb, end_mb = result.rss_start_kb / 1024, result.rss_end_kb / 1024
    whole = result.archived == result.distinct == result.posted and result.exit_code == 0
    return [
        Row(
            f"12 watch soak: {result.posted:,} posts over {result.seconds:.0f}s (20/s)",
            "MB RSS at the end",
            end_mb,
            start_mb,
            end_mb / start_mb if start_mb else None,
            f"<= start + {GROWTH_LIMIT_MB:g} MB, all archived once",
            whole and end_mb - start_mb <= GROWTH_LIMIT_MB,
            f"baseline: RSS once the first post was in; archived {result.distinct:,} of {result.posted:,}, "
            f"{result.archived - result.distinct} duplicates, exit {result.exit_code}",
        )
    ]
