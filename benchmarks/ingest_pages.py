"""Where an ingest's writes go: the WAL frames (4 KB pages) that saving corpus posts writes, by table
and index, as `run` saves them (bench_ingest's `ingest`: two fetch threads, one writer).

    .venv/bin/python benchmarks/ingest_pages.py [--into ARCHIVE] [--start N] [--posts N] [--pages]

`--into` saves into a copy of ARCHIVE (e.g. one `scale.py --grow` built), else into an empty one;
`--start` is the first corpus post (the archive's size, so the posts are new to it). A reader holds
the WAL open meanwhile, so no checkpoint empties it and every frame written is counted; dbstat maps
each frame's page to its table or index. A page rewritten by each transaction counts each time,
which is what random keys cost: see benchmarks/README.md (branch `ingest2`) for what it showed.
"""

from __future__ import annotations

import argparse
import collections
import shutil
import sqlite3
import struct
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path[:0] = [str(HERE), str(HERE.parent)]

import bench_ingest  # noqa: E402


def wal_pages(path: Path) -> list[int]:
    """The page number of every frame in the WAL file beside `path`, in the order written."""
    data = Path(f"{path}-wal").read_bytes()
    page_size = struct.unpack(">I", data[8:12])[0]
    frame = 24 + page_size
    return [struct.unpack(">I", data[at : at + 4])[0] for at in range(32, len(data) - frame + 1, frame)]


def owners(path: Path) -> dict[int, str]:
    """Each page's table or index (dbstat), read from a copy with its WAL, as the writer left it."""
    conn = sqlite3.connect(path)
    try:
        return dict(conn.execute("SELECT pageno, name FROM dbstat"))
    finally:
        conn.close()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--into", type=Path, help="an archive to copy and save into (default: an empty one)")
    parser.add_argument("--start", type=int, default=0, help="the first corpus post saved")
    parser.add_argument("--posts", type=int, default=10_000, help="how many posts to save")
    parser.add_argument("--pages", action="store_true", help="one transaction per page, not per batch")
    args = parser.parse_args(argv)

    from scale import _claim, _corpus

    from plnfilter import store

    with tempfile.TemporaryDirectory(prefix="ingest-pages-") as work:
        path = Path(work) / "archive.db"
        ctx, filter_file = _corpus(Path(work))
        if args.into:
            shutil.copyfile(args.into, path)
        else:
            _claim(path, filter_file)
        holder: list[sqlite3.Connection] = []
        opened = store.open_archive

        def open_and_hold(*a, **k):  # a reader in a transaction: no checkpoint can empty the WAL
            db = opened(*a, **k)
            reader = sqlite3.connect(path)
            reader.execute("BEGIN")
            reader.execute("SELECT count(*) FROM sources").fetchall()
            holder.append(reader)
            return db

        store.open_archive = open_and_hold
        try:
            pages = ctx.corpus.pages(args.posts, start=args.start)
            bench_ingest.ingest(pages, path, filter_file, ctx.now, page_by_page=args.pages)
        finally:
            store.open_archive = opened
        written = wal_pages(path)
        copy = Path(work) / "copy.db"
        shutil.copyfile(path, copy)
        shutil.copyfile(f"{path}-wal", f"{copy}-wal")
        for reader in holder:
            reader.close()
        names = owners(copy)
    counts = collections.Counter(names.get(page, "(freed since)") for page in written)
    print(f"{len(written):,} WAL frames ({len(written) * 4 / 1024:.0f} MB at 4 KB) for {args.posts:,} posts")
    for name, count in counts.most_common():
        print(f"{count:9,} {name}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
