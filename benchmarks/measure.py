"""What every figure shares: the row it reports, medians, and child processes timed with their peak memory."""

from __future__ import annotations

import contextlib
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PYTHON = sys.executable
PLNFILTER = str(Path(PYTHON).with_name("plnfilter"))


@dataclass
class Row:
    """One line of the table. `ratio` is plnfilter's cost over the baseline's (lower is better)."""

    figure: str
    unit: str
    ours: float
    baseline: float | None
    ratio: float | None
    target: str = ""
    met: bool | None = None
    note: str = ""


@contextlib.contextmanager
def work_dir(keep: Path | None, prefix: str) -> Iterator[Path]:
    """The folder a run works in: `keep` (made if missing, left in place), else a temporary folder
    removed afterwards, however the run ends."""
    work = keep or Path(tempfile.mkdtemp(prefix=prefix))
    work.mkdir(parents=True, exist_ok=True)
    try:
        yield work
    finally:
        if keep is None:
            shutil.rmtree(work, ignore_errors=True)


def finish(started: float, *tables: str) -> int:
    """A run's end: each table after a blank line, then the total time and what a ratio means."""
    for text in tables:
        print()
        print(text)
    print()
    print(
        f"total {time.perf_counter() - started:.0f}s; ratio = plnfilter cost / baseline cost (lower is better)"
    )
    return 0


def rate_ratio(ours_rate: float, baseline_rate: float) -> float:
    """Cost ratio from two rates: how many times longer plnfilter takes for the same work."""
    return baseline_rate / ours_rate if ours_rate else float("inf")


def timed(work: Callable[[], object]) -> float:
    start = time.perf_counter()
    work()
    return time.perf_counter() - start


def median_time(work: Callable[[], object], repeat: int, setup: Callable[[], object] | None = None) -> float:
    """Median wall time of `work()` over `repeat` runs, `setup()` untimed before each."""
    times = []
    for _ in range(repeat):
        if setup is not None:
            setup()
        times.append(timed(work))
    return statistics.median(times)


@dataclass
class ChildResult:
    seconds: float
    max_rss_kb: int
    returncode: int
    stdout: bytes
    stderr: bytes
    cpu_seconds: float = 0.0  # user + system: what the child itself cost, whatever else ran beside it


def run_child(
    argv: Sequence[str], env: dict[str, str] | None = None, stdout_to: Path | None = None
) -> ChildResult:
    """Run a command; wall time and its own peak RSS (from wait4, not the max over all children).

    Output goes to files, not pipes, so nothing but wait4 reaps the child.
    """
    with tempfile.TemporaryFile() as err, tempfile.TemporaryFile() as captured:
        out = open(stdout_to, "wb") if stdout_to else captured  # noqa: SIM115
        try:
            start = time.perf_counter()
            child = subprocess.Popen(argv, stdout=out, stderr=err, env=env, cwd=ROOT)
            _, status, usage = os.wait4(child.pid, 0)
            seconds = time.perf_counter() - start
            child.returncode = os.waitstatus_to_exitcode(status)
        finally:
            if stdout_to:
                out.close()
        captured.seek(0)
        err.seek(0)
        cpu = usage.ru_utime + usage.ru_stime
        return ChildResult(seconds, usage.ru_maxrss, child.returncode, captured.read(), err.read(), cpu)


_LAUNCHER = """
import os, sys
pid = os.fork()
if pid == 0:
    os.execvp(sys.argv[1], sys.argv[1:])
_, status, usage = os.wait4(pid, 0)
sys.stderr.write(f"\\nmax_rss_kb={usage.ru_maxrss}\\n")
sys.exit(os.waitstatus_to_exitcode(status))
"""


def launched(
    argv: Sequence[str], env: dict[str, str] | None = None, stdout_to: Path | None = None
) -> ChildResult:
    """Run a command from a small launcher process: its result with its own peak RSS in kB.

    Linux keeps the high-water mark across fork and exec, so a child of this (large) benchmark
    process would report at least our size; a bare Python launcher (~10 MB) forks it instead.
    """
    result = run_child([PYTHON, "-S", "-c", _LAUNCHER, *argv], env=env, stdout_to=stdout_to)
    if result.returncode != 0:
        raise RuntimeError(f"{' '.join(argv)} exited {result.returncode}: {result.stderr.decode()[-500:]}")
    text, _, peak = result.stderr.decode(errors="replace").rpartition("max_rss_kb=")
    result.max_rss_kb = int(peak.split()[0])
    result.stderr = text.rstrip("\n").encode()
    return result


def peak_rss_kb(argv: Sequence[str], env: dict[str, str] | None = None, stdout_to: Path | None = None) -> int:
    """A child's own peak RSS in kB (see `launched`)."""
    return launched(argv, env=env, stdout_to=stdout_to).max_rss_kb


def interleaved_children(
    commands: dict[str, Sequence[str]], repeat: int, env: dict[str, str] | None = None
) -> dict[str, list[ChildResult]]:
    """Run each command `repeat` times, taking turns so drift on the machine hits all alike.

    One untimed run each first: bytecode caches and the page cache warm, as on a used machine.
    """
    for argv in commands.values():
        run_child(argv, env=env)
    results: dict[str, list[ChildResult]] = {name: [] for name in commands}
    for _ in range(repeat):
        for name, argv in commands.items():
            result = run_child(argv, env=env)
            if result.returncode != 0:
                raise RuntimeError(
                    f"{' '.join(argv)} exited {result.returncode}: {result.stderr.decode(errors='replace')[-500:]}"
                )
            results[name].append(result)
    return results


def median_seconds(results: list[ChildResult]) -> float:
    return statistics.median(r.seconds for r in results)


def median_cpu_seconds(results: list[ChildResult]) -> float:
    return statistics.median(r.cpu_seconds for r in results)
