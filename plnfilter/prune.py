"""Retention (`plnfilter prune`, a filter file's `retain:`): old posts no filter keeps leave the archive.

The rules of what goes are in plnfilter/store/prune.py; this module walks the batches and reports.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from plnfilter.times import to_iso

BATCH = 1000  # posts per transaction: a kill loses at most one batch's work, a reader waits for none


@dataclass
class PruneReport:
    before: str
    everything: bool = False
    dry_run: bool = False
    posts: int = 0  # removed (or, in a dry run, to be removed)
    findings: int = 0
    raw: int = 0
    verdicts: int = 0
    kept: int = 0  # old posts that stay because a filter keeps them
    behind: dict[str, int] = field(default_factory=dict)  # filter -> old posts it has not judged as they are
    bytes_before: int | None = None  # with --vacuum: the archive's size before and after
    bytes_after: int | None = None

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def prune_posts(
    db,
    before: datetime,
    *,
    everything: bool = False,
    dry_run: bool = False,
    batch: int = BATCH,
    on_batch: Callable[[int], None] = lambda removed: None,
) -> PruneReport:
    """Remove the posts older than `before` that no filter keeps (every old post with `everything`),
    a batch per transaction, on an open archive."""
    from plnfilter.store.prune import Removed, batches, finding_sources, old_posts, remove_posts

    report = PruneReport(to_iso(before), everything=everything, dry_run=dry_run)
    found = old_posts(db, report.before, everything)
    report.kept, report.behind = found.kept, dict(sorted(found.behind.items()))
    if dry_run:
        report.posts = len(found.removable)
        return report
    sources = finding_sources(db)
    total = Removed()
    for ids in batches(found.removable, batch):
        total.add(remove_posts(db, ids, sources, everything))
        on_batch(total.posts)
    report.posts, report.findings, report.raw, report.verdicts = (
        total.posts,
        total.findings,
        total.raw,
        total.verdicts,
    )
    return report


def prune_archive(
    db_path: Path,
    before: datetime,
    *,
    everything: bool = False,
    dry_run: bool = False,
    vacuum: bool = False,
    lock_wait: float = 60.0,
    batch: int = BATCH,
) -> PruneReport:
    """`plnfilter prune`: open the archive, prune it and, with `vacuum`, give the space back.

    No run lock: each batch holds the archive's write lock for its own transaction, so runs and
    `watch` write between them. The vacuum holds the write lock throughout. A dry run reads through
    a read-only connection and takes no lock."""
    from plnfilter import store
    from plnfilter.errors import ArchiveError, ArchiveLocked
    from plnfilter.store.prune import archive_bytes, compact, knows_filters

    if dry_run:
        conn = store.open_readonly(db_path)
        try:
            if not knows_filters(conn):
                raise ArchiveError(
                    f"{db_path} was made by an older plnfilter and has not been upgraded yet",
                    "a run of any filter, or prune without --dry-run, upgrades it in place",
                )
            return prune_posts(conn, before, everything=everything, dry_run=True)
        finally:
            conn.close()
    db = store.open_archive(db_path, lock_wait)
    try:
        report = prune_posts(db, before, everything=everything, batch=batch)
        if vacuum:
            report.bytes_before = archive_bytes(str(db_path))
            try:
                compact(db)
            except ArchiveLocked as exc:
                raise ArchiveLocked(
                    f"--vacuum needs the archive to itself, and another plnfilter process (a run, watch or "
                    f"prune) kept writing to {db_path} for longer than --wait ({lock_wait:g}s); "
                    f"{report.posts} posts were removed, the space was not given back",
                    "run `plnfilter prune --vacuum` again when no run or watch is writing (stop `watch` "
                    "for the while), or raise --wait",
                ) from exc
            report.bytes_after = archive_bytes(str(db_path))
        return report
    finally:
        db.conn.close()


def summary(report: PruneReport) -> list[str]:
    """What a person reads on stderr: what went, what stayed and why, the space given back."""
    verb = "would remove" if report.dry_run else "removed"
    what = "posts" if report.everything else "posts no filter keeps"
    lines = [
        f"{verb} {report.posts} {what} older than {report.before}"
        + (
            ""
            if report.dry_run
            else f" (with {report.findings} findings, {report.raw} raw objects, {report.verdicts} verdicts)"
        )
    ]
    if report.kept:
        lines.append(f"{report.kept} older posts stay: a filter keeps them (--all removes them too)")
    for name, count in report.behind.items():
        lines.append(
            f"{count} older posts stay until filter '{name}' has judged them as they are now: "
            f"run or apply it (or `plnfilter filters forget {name}` if it is no longer used)"
        )
    if report.bytes_before is not None and report.bytes_after is not None:
        lines.append(
            f"vacuum: the archive went from {_size(report.bytes_before)} to {_size(report.bytes_after)}"
        )
    return lines


def _size(count: int) -> str:
    value = float(count)
    for unit in ("bytes", "KB", "MB"):
        if value < 1024:
            return f"{count} bytes" if unit == "bytes" else f"{value:.1f} {unit}"
        value /= 1024
    return f"{value:.1f} GB"
