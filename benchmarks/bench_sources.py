"""Figure 8 and the run half of 9: `plnfilter run` over 10 sources behind 300 ms of latency.

Ten Mastodon hashtag sources, each on its own instance (a port of one local server on
127.0.0.1), holding 2 to 5 pages of 40 statuses; every response waits 300 ms. A first run walks
each timeline back to its end (one more request finds the empty page). The baseline is the
slowest of those sources run alone, so a ratio near 1 means the sources were fetched
concurrently. A second row puts the ten timelines on one instance, where plnfilter's per-host
bound (polite to one server) applies.
"""

from __future__ import annotations

import statistics

from latency_server import LatencyServers, Timelines
from measure import PLNFILTER, Row, peak_rss_kb, run_child

LATENCY = 0.3
SOURCES = 10


def _pages(i: int) -> int:
    return 2 + i % 4  # 2..5 pages; source 3 and 7 are the slowest (5 pages + the empty one)


def _filter_yaml(entries: list[tuple[str, list[str]]]) -> str:
    lines = ["name: bench-sources", "sources:"]
    for base, tags in entries:
        lines.append(f"  - mastodon: {base}")
        lines.append(f"    hashtags: [{', '.join(tags)}]")
    lines += ["exclude:", "  - {name: bots, bot: true}"]
    return "\n".join(lines) + "\n"


def _argv(ctx, name: str) -> list[str]:
    """A fresh archive for a first run."""
    db = ctx.work / f"{name}.db"
    for suffix in ("", "-wal", "-shm", ".lock"):
        db.with_name(db.name + suffix).unlink(missing_ok=True)
    return [PLNFILTER, "run", str(ctx.work / f"{name}.yaml"), "--db", str(db), "--since", "365d"]


def _run(ctx, name: str, yaml_text: str, repeat: int | None = None):
    (ctx.work / f"{name}.yaml").write_text(yaml_text, encoding="utf-8")
    run_child(_argv(ctx, name), env=ctx.child_env())  # untimed: bytecode and page caches warm
    results = []
    for _ in range(repeat or ctx.repeat_heavy):
        result = run_child(_argv(ctx, name), env=ctx.child_env())
        if result.returncode != 0:
            raise RuntimeError(f"plnfilter run exited {result.returncode}: {result.stderr.decode()[-800:]}")
        results.append(result)
    return results


def measure(ctx) -> list[Row]:
    tags = [f"bench{i}" for i in range(SOURCES)]
    pages = {tag: _pages(i) for i, tag in enumerate(tags)}
    slowest = max(range(SOURCES), key=_pages)
    timelines = Timelines(ctx.corpus, pages)
    with LatencyServers(timelines, SOURCES, LATENCY) as servers:
        bases = servers.bases
        spread = _run(ctx, "ten-instances", _filter_yaml([(bases[i], [tags[i]]) for i in range(SOURCES)]))
        alone = _run(ctx, "slowest-alone", _filter_yaml([(bases[slowest], [tags[slowest]])]))
        one_host = _run(ctx, "one-instance", _filter_yaml([(bases[0], tags)]), repeat=1)
        ctx.run_rss = (
            peak_rss_kb(_argv(ctx, "ten-instances"), env=ctx.child_env()),
            peak_rss_kb(_argv(ctx, "slowest-alone"), env=ctx.child_env()),
        )
    total_posts = sum(pages.values()) * 40
    spread_s = statistics.median(r.seconds for r in spread)
    alone_s = statistics.median(r.seconds for r in alone)
    one_s = statistics.median(r.seconds for r in one_host)
    requests = sum(pages.values()) + SOURCES
    return [
        Row(
            "8 run: 10 sources on 10 instances",
            "s",
            spread_s,
            alone_s,
            spread_s / alone_s,
            "ratio <= 1.3",
            spread_s / alone_s <= 1.3,
            f"{requests} requests x {LATENCY * 1000:.0f} ms, {total_posts} posts; baseline: the slowest source alone "
            f"({_pages(slowest) + 1} requests)",
        ),
        Row(
            "8 run: 10 timelines on 1 instance",
            "s",
            one_s,
            alone_s,
            one_s / alone_s,
            "",
            None,
            "same sources on one host: the per-host bound keeps plnfilter polite",
        ),
    ]


def memory_rows(ctx) -> list[Row]:
    ours, alone = ctx.run_rss
    return [
        Row(
            "9 peak memory: 10-source run",
            "MB",
            ours / 1024,
            alone / 1024,
            ours / alone,
            "flat",
            None,
            "ru_maxrss of the child (from a ~10 MB launcher); baseline: the slowest source run alone",
        )
    ]
