"""`make bench`: each figure of plnfilter beside a baseline measured in the same run.

    .venv/bin/python benchmarks/run.py [--quick] [--only 1,4,5] [--posts N] [--keep DIR]

Generates a realistic archive (100k posts; 10k with --quick) and API pages from the captured
fixtures' shapes (benchmarks/corpus.py), then measures:
  1 ingest            normalise + evaluate + score + save with FTS vs sqlite-utils upsert_all
  2 mastodon          Mastodon page normalisation vs Mastodon.py entity casting
  3 bluesky           Bluesky page normalisation vs atproto model parsing
  4 rules             rule evaluation with example filters vs hand-written loops
  5 startup           `plnfilter --help` / `query --limit 20` vs a bare click + sqlite3 script
  6 search            `plnfilter query TEXT` vs the raw FTS5 SQL
  7 export            export to CSV / JSONL vs the sqlite3 shell
  8 sources           a run over 10 sources at 300 ms latency vs the slowest source alone
  9 memory            peak RSS of the export (needs 7) and of the 10-source run (needs 8)
  10 voices           `voices suggest` / `voices report` vs a plain SQL aggregate of the same rows
 11 stream            Bluesky post events decoded, normalised and judged (watch) vs bare json.loads
 12 soak              `watch` following a mastodon-mock hashtag at 20 posts/s: memory at start and end
Ratio = plnfilter's cost / the baseline's (time per post, or seconds): below 1 is faster.
No figure fails the command; the `met` column says which targets hold.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import os
import platform
import re
import subprocess
import sys
import time
from datetime import datetime
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path[:0] = [str(HERE), str(HERE.parent)]

from measure import ROOT, Row, finish, work_dir  # noqa: E402

FIGURES = {
    "1": "ingest",
    "2": "mastodon",
    "3": "bluesky",
    "4": "rules",
    "5": "startup",
    "6": "search",
    "7": "export",
    "8": "sources",
    "9": "memory",
    "10": "voices",
    "11": "stream",
    "12": "soak",
}
NEEDS_ARCHIVE = {"1", "4", "5", "6", "7", "9", "10"}


class Context:
    """Settings and shared products: the corpus, the archive figure 1 leaves, measured memory."""

    def __init__(self, args: argparse.Namespace, work: Path) -> None:
        from corpus import Corpus

        from plnfilter.times import parse_iso

        self.quick = args.quick
        self.posts = args.posts or (10_000 if args.quick else 100_000)
        self.repeat_heavy = 1 if args.quick else 3
        self.repeat_light = 3 if args.quick else 5
        self.repeat_process = 5 if args.quick else 20
        self.repeat_ingest = 1 if self.posts >= 50_000 else 3  # a 100k ingest is long enough to be steady
        self.now = parse_iso("2026-11-27T00:00:00Z")
        self.corpus = Corpus(self.now)
        self.work = work
        self.archive = work / "archive.db"
        self.export_rss: dict[str, tuple[int, int]] = {}
        self.run_rss: tuple[int, int] | None = None
        self._posts = None
        self.home = work / "home"
        self.home.mkdir(exist_ok=True)

    def child_env(self) -> dict[str, str]:
        """No real user directory, tokens or archive for the children.

        Bytecode is cached (in the work directory), as for an installed plnfilter: compiling every
        module on each start would add ~40 ms that no user pays.
        """
        env = {k: v for k, v in os.environ.items() if not k.startswith("PLNFILTER_")}
        env.pop("PYTHONDONTWRITEBYTECODE", None)
        env["PYTHONPYCACHEPREFIX"] = str(self.work / "pycache")
        env["PLNFILTER_HOME"] = str(self.home)
        return env

    def posts_list(self):
        """The corpus as Posts (normalised once, for the rule figures)."""
        if self._posts is None:
            from plnfilter.sources.bluesky import normalize as bluesky
            from plnfilter.sources.mastodon import normalize as mastodon

            self._posts = [
                mastodon.to_post(item, "mastodon.social") if network == "mastodon" else bluesky.to_post(item)
                for network, items in self.corpus.pages(self.posts)
                for item in items
            ]
        return self._posts

    def archive_mb(self) -> float:
        return self.archive.stat().st_size / 1e6


def ensure_archive(ctx: Context) -> None:
    """Figures reading the archive need figure 1's; build it once (untimed) when 1 is not asked for."""
    if ctx.archive.exists():
        return
    import bench_ingest

    from plnfilter.filterfile import load

    bench_ingest.ingest(ctx.corpus.pages(ctx.posts), ctx.archive, load(bench_ingest.FILTER), ctx.now)


def normaliser_figure(module_name: str, number: str, ctx: Context) -> list[Row]:
    """Run a colleague's normaliser benchmark and read its two medians from what it prints."""
    import importlib

    module = importlib.import_module(module_name)
    if ctx.quick:
        module.RUNS = 3
    printed = io.StringIO()
    saved = sys.argv
    sys.argv = [module.__file__]
    try:
        with contextlib.redirect_stdout(printed):
            module.main()
    finally:
        sys.argv = saved
    text = printed.getvalue()
    numbers = [float(n.replace(",", "")) for n in re.findall(r":\s+([\d,]+) (?:statuses|post views)/s", text)]
    page = re.search(r"page: (.*)", text)
    ours, theirs = numbers[0], numbers[1]
    unit = "statuses/s" if number == "2" else "post views/s"
    baseline = "Mastodon.py entity casting" if number == "2" else "atproto model parsing"
    return [
        Row(
            f"{number} normalise {'Mastodon' if number == '2' else 'Bluesky'} pages",
            unit,
            ours,
            theirs,
            theirs / ours,
            ">= 20,000/s",
            ours >= 20_000,
            f"baseline: {baseline}; {page.group(1) if page else ''}; via {Path(module.__file__).name}",
        )
    ]


def measure(number: str, ctx: Context) -> list[Row]:
    if number == "1":
        import bench_ingest

        return bench_ingest.measure(ctx)
    if number == "2":
        return normaliser_figure("bench_normalize_mastodon", "2", ctx)
    if number == "3":
        return normaliser_figure("bench_normalize_bluesky", "3", ctx)
    if number == "4":
        import bench_rules

        return bench_rules.measure(ctx)
    import bench_cli

    if number == "5":
        return bench_cli.measure_startup(ctx)
    if number == "6":
        return bench_cli.measure_search(ctx)
    if number == "7":
        return bench_cli.measure_export(ctx)
    if number == "8":
        import bench_sources

        return bench_sources.measure(ctx)
    if number == "10":
        import bench_voices

        return bench_voices.measure(ctx)
    if number == "11":
        import bench_stream

        return bench_stream.measure(ctx)
    if number == "12":
        import bench_watch_soak

        return bench_watch_soak.measure(ctx)
    if number == "9":
        import bench_sources

        rows = bench_cli.memory_rows(ctx)
        if ctx.run_rss:
            rows += bench_sources.memory_rows(ctx)
        return rows
    raise ValueError(number)


def machine() -> str:
    model = ""
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    sqlite_version = __import__("sqlite3").sqlite_version
    commit = ""
    with contextlib.suppress(OSError, subprocess.SubprocessError):
        commit = subprocess.run(
            ["git", "-C", str(ROOT), "rev-parse", "--short", "HEAD"],
            capture_output=True,
            text=True,
            timeout=5,
        ).stdout.strip()
    return (
        f"machine: {os.cpu_count()} CPUs (nproc {len(os.sched_getaffinity(0))}), {model or platform.processor()}; "
        f"{platform.system()} {platform.release()}; Python {platform.python_version()}; SQLite {sqlite_version}; "
        f"plnfilter {commit or '?'}"
    )


def _number(value: float | None) -> str:
    if value is None:
        return "-"
    if value >= 1000:
        return f"{value:,.0f}"
    if value >= 10:
        return f"{value:.1f}"
    return f"{value:.3g}" if value < 1 else f"{value:.2f}"


def table(rows: list[Row]) -> str:
    head = ("figure", "unit", "plnfilter", "baseline", "ratio", "target", "met", "note")
    cells = [
        (
            r.figure,
            r.unit,
            _number(r.ours),
            _number(r.baseline),
            "-" if r.ratio is None else f"{r.ratio:.2f}",
            r.target or "-",
            "-" if r.met is None else ("yes" if r.met else "NO"),
            r.note,
        )
        for r in rows
    ]
    widths = [max(len(h), *(len(c[i]) for c in cells)) if cells else len(h) for i, h in enumerate(head)]
    right = {2, 3, 4}

    def line(values) -> str:
        parts = [
            v.rjust(w) if i in right else v.ljust(w)
            for i, (v, w) in enumerate(zip(values, widths, strict=True))
        ]
        return "| " + " | ".join(parts) + " |"

    rule = "|" + "|".join("-" * (w + 2) for w in widths) + "|"
    return "\n".join([line(head), rule, *(line(c) for c in cells)])


def parse_args(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--quick", action="store_true", help="10k posts and fewer repetitions (~1-2 minutes)")
    parser.add_argument("--only", default="", help="comma-separated figure numbers, e.g. 1,4,5")
    parser.add_argument("--posts", type=int, default=0, help="archive size (default 100000, 10000 quick)")
    parser.add_argument("--keep", type=Path, help="work in DIR and keep the archive there")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(sys.argv[1:] if argv is None else argv)
    wanted = [n.strip() for n in args.only.split(",") if n.strip()] or list(FIGURES)
    unknown = [n for n in wanted if n not in FIGURES]
    if unknown:
        print(f"unknown figure {unknown[0]}; choose from {', '.join(FIGURES)}", file=sys.stderr)
        return 2
    with work_dir(args.keep, "plnfilter-bench-") as work:
        ctx = Context(args, work)
        print(machine())
        print(
            f"run: {datetime.now().astimezone():%Y-%m-%d %H:%M %Z}; {ctx.posts:,} posts"
            f"{' (--quick)' if ctx.quick else ''}; figures {','.join(wanted)}",
            flush=True,
        )
        rows: list[Row] = []
        started = time.perf_counter()
        for number in wanted:
            if number in NEEDS_ARCHIVE and number != "1" and "1" not in wanted[: wanted.index(number)]:
                ensure_archive(ctx)
            if number == "9" and not ctx.export_rss:
                rows += measure("7", ctx) if "7" not in wanted else []
            if number == "9" and ctx.run_rss is None and "8" not in wanted:
                rows += measure("8", ctx)
            figure_started = time.perf_counter()
            rows += measure(number, ctx)
            print(
                f"  figure {number} ({FIGURES[number]}) took {time.perf_counter() - figure_started:.0f}s",
                file=sys.stderr,
                flush=True,
            )
        return finish(started, table(rows))


if __name__ == "__main__":
    sys.exit(main())
