"""The lock file beside the archive (`ARCHIVE.lock`) that writers take, so two never write at once."""

from __future__ import annotations

from pathlib import Path

from plnfilter.errors import ArchiveError, ArchiveLocked


def archive_lock(db_path: Path, wait: float):
    """The lock beside the archive; raises ArchiveLocked after `wait` seconds."""
    from filelock import FileLock, Timeout

    lock = FileLock(str(db_path) + ".lock")
    try:
        lock.acquire(timeout=wait)
    except Timeout:
        raise ArchiveLocked(
            f"another plnfilter run holds {db_path}.lock (waited {wait:g}s)",
            "let it finish, or raise --wait; a cron schedule shorter than a run causes this",
        ) from None
    except OSError as exc:  # a read-only directory or mount, a full disk, a missing permission
        raise ArchiveError(
            f"cannot create the lock file {db_path}.lock: {exc.strerror or exc}",
            "the archive's directory must be writable (check its permissions and mount), or choose another --db",
        ) from None
    return lock
