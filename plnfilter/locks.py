"""The locks beside an archive: a write lock held per write transaction, a run lock per filter.

    ARCHIVE.lock            the write lock: every write transaction of run, watch, apply, prune and
                            the rest holds it, and only that long (store/transaction.py takes it);
                            readers never take it (WAL lets them read meanwhile)
    ARCHIVE.lock-next       the turnstile in front of it: a writer waiting for the write lock holds
                            it, so one that has just written a batch and wants the next waits its turn
    ARCHIVE.run-NAME.lock   held by `run` and `apply` of the filter NAME from start to end, so two runs
                            of one filter never overlap; runs of other filters, `watch` and `prune`
                            write between its batches

Each is a file lock (flock on POSIX) the kernel drops when its process dies, so a killed writer
never leaves the archive locked. `--wait` bounds every wait; past it ArchiveLocked (exit 75).
"""

from __future__ import annotations

import hashlib
import os
import re
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from pathlib import Path

from plnfilter.errors import ArchiveError, ArchiveLocked

POLL = 0.005  # seconds between two tries of a lock another process holds (a try costs ~20 µs)
_SAFE_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")


class _Flock:
    """An exclusive flock on a file, opened for each hold: a lock file someone replaced is noticed."""

    def __init__(self, path: str) -> None:
        self.path = path
        self.fd: int | None = None

    def try_acquire(self) -> bool:
        import fcntl

        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            if os.fstat(fd).st_ino != os.stat(self.path).st_ino:  # replaced since it was opened
                raise BlockingIOError
        except (BlockingIOError, FileNotFoundError):
            os.close(fd)
            return False
        except BaseException:
            os.close(fd)
            raise
        self.fd = fd
        return True

    def release(self) -> None:
        if self.fd is not None:
            os.close(self.fd)  # closing the only descriptor drops the flock
            self.fd = None


def _file_lock(path: str, wait: float, problem: str, hint: str):
    """An acquired lock on the file at `path` (something with `.release()`); ArchiveLocked(problem,
    hint) after `wait` seconds. flock where the system has it (a hold costs microseconds, and
    filelock's FileLock, as older releases and the tests hold it, is the same lock), else filelock."""
    try:
        import fcntl  # noqa: F401
    except ImportError:
        return _portable_lock(path, wait, problem, hint)
    lock = _Flock(path)
    deadline = time.monotonic() + wait
    try:
        while not lock.try_acquire():
            if time.monotonic() >= deadline:
                raise ArchiveLocked(problem, hint)
            time.sleep(POLL)
    except OSError as exc:  # a read-only directory or mount, a full disk, a missing permission
        raise _unwritable(path, exc) from None
    return lock


def _portable_lock(path: str, wait: float, problem: str, hint: str):
    from filelock import FileLock, Timeout

    lock = FileLock(path, thread_local=False)
    try:
        lock.acquire(timeout=wait, poll_interval=POLL)
    except Timeout:
        raise ArchiveLocked(problem, hint) from None
    except OSError as exc:
        raise _unwritable(path, exc) from None
    return lock


def _unwritable(path: str, exc: OSError) -> ArchiveError:
    return ArchiveError(
        f"cannot create the lock file {path}: {exc.strerror or exc}",
        "the archive's directory must be writable (check its permissions and mount), or choose another --db",
    )


def run_lock_path(db_path: Path, filter_name: str) -> str:
    """`ARCHIVE.run-NAME.lock`; a name that is not a plain file name is spelt safely, with a hash."""
    if _SAFE_NAME.match(filter_name):
        part = filter_name
    else:
        slug = re.sub(r"[^A-Za-z0-9_-]+", "_", filter_name)[:40].strip("_") or "filter"
        part = f"{slug}-{hashlib.sha256(filter_name.encode('utf-8', 'surrogatepass')).hexdigest()[:12]}"
    return f"{db_path}.run-{part}.lock"


def run_lock(db_path: Path, filter_name: str, wait: float):
    """The run lock of one filter on one archive, held by its `run` or `apply` throughout."""
    path = run_lock_path(db_path, filter_name)
    return _file_lock(
        path,
        wait,
        f"another plnfilter run holds {path}: filter '{filter_name}' is still running (waited {wait:g}s)",
        "let it finish, or raise --wait; a cron schedule shorter than a run causes this",
    )


class WriteLock:
    """The write lock of one archive in this process: re-entrant, shared by its threads and
    connections, and fair between processes (the turnstile)."""

    def __init__(self, db_path: str) -> None:
        self.db_path = db_path
        self._local = threading.RLock()
        self._depth = 0
        self._held = None

    @contextmanager
    def hold(self, wait: float) -> Iterator[None]:
        deadline = time.monotonic() + wait
        if not self._local.acquire(timeout=max(wait, 0.0)):
            raise self._locked(wait)
        try:
            if self._depth == 0:
                self._held = self._acquire(wait, deadline)
            self._depth += 1
            try:
                yield
            finally:
                self._depth -= 1
                if self._depth == 0 and self._held is not None:
                    self._held.release()
                    self._held = None
        finally:
            self._local.release()

    def _acquire(self, wait: float, deadline: float):
        path = self.db_path + ".lock"
        turn = _file_lock(path + "-next", wait, *self._message(wait))
        try:
            return _file_lock(path, max(0.0, deadline - time.monotonic()), *self._message(wait))
        finally:
            turn.release()

    def _message(self, wait: float) -> tuple[str, str]:
        return (
            f"another plnfilter run holds {self.db_path}.lock, the archive's write lock, for longer "
            f"than --wait allows ({wait:g}s)",
            "runs, watch and prune hold it one batch at a time (prune --vacuum throughout): "
            "try again, or raise --wait",
        )

    def _locked(self, wait: float) -> ArchiveLocked:
        return ArchiveLocked(*self._message(wait))


_WRITE_LOCKS: dict[str, WriteLock] = {}
_REGISTRY = threading.Lock()


def write_lock(db_path: str | Path, wait: float) -> Callable[[], AbstractContextManager[None]]:
    """What holds the archive's write lock, waiting at most `wait` seconds: `with write_lock(p, 5)():`."""
    key = str(Path(db_path).resolve())
    with _REGISTRY:
        lock = _WRITE_LOCKS.setdefault(key, WriteLock(str(db_path)))
    return lambda: lock.hold(wait)
