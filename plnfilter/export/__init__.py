"""Writers from query rows to files: each streams over an iterator and returns how many rows it wrote.

The formats themselves are described once, in `plnfilter.export.formats.REGISTRY`.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from typing import Any, TextIO

from plnfilter.export import formats
from plnfilter.export.formats import BYTES, FOLDER, REGISTRY, TEXT

FORMATS: tuple[str, ...] = tuple(REGISTRY)
EXTENSIONS = {name: f.extensions[0] for name, f in REGISTRY.items()}
OPTIONS = {name: f.options for name, f in REGISTRY.items()}
"""Options each writer understands; `write` ignores the others so one CLI can pass them all."""


def write(
    rows: Iterable[Mapping[str, Any]],
    fmt: str,
    out: TextIO,
    writer: Callable[..., int] | None = None,
    **options: Any,
) -> int:
    """Write rows in `fmt` to the stream `out` (open files with newline='' for csv)."""
    return formats.write(rows, fmt, out, writer, **options)


def writer(fmt: str) -> Callable[..., int]:
    """The function writing `fmt`, imported on first use."""
    return formats.get(fmt).load()


def save(
    rows: Iterable[Mapping[str, Any]],
    fmt: str,
    path: Path,
    writer: Callable[..., int] | None = None,
    **options: Any,
) -> int:
    """Write rows in `fmt` to the file (or folder) `path` atomically: into a hidden temp file next to
    it, renamed into place only when the whole output was written. A format that updates its folder
    in place (Parquet) is handed the folder and replaces its files atomically itself."""
    import shutil  # here: it costs start-up time every command would pay

    form = formats.get(fmt)
    kind = form.writes
    if form.in_place:  # the writer replaces the folder's files atomically itself
        return formats.write(rows, fmt, path, writer, **options)
    tmp = path.with_name(f".{path.name}.tmp")
    try:
        if kind == FOLDER:
            shutil.rmtree(tmp, ignore_errors=True)
            tmp.mkdir()
            count = formats.write(rows, fmt, tmp, writer, **options)
            if path.is_dir():  # replacing an earlier export of the same folder
                old = path.with_name(f".{path.name}.old")
                shutil.rmtree(old, ignore_errors=True)
                path.rename(old)
                tmp.rename(path)
                shutil.rmtree(old, ignore_errors=True)
            else:
                tmp.rename(path)
            return count
        mode = "wb" if kind == BYTES else "w"
        text = {"encoding": "utf-8", "newline": ""} if kind == TEXT else {}
        with open(tmp, mode, **text) as out:
            count = formats.write(rows, fmt, out, writer, **options)
        tmp.replace(path)
        return count
    except BaseException:
        if tmp.is_dir():
            shutil.rmtree(tmp, ignore_errors=True)
        else:
            tmp.unlink(missing_ok=True)
        raise


def __getattr__(name: str) -> Any:
    if name == "WRITERS":  # every writer by format, for callers that want the table
        return {fmt: writer(fmt) for fmt in FORMATS}
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


__all__ = ["EXTENSIONS", "FORMATS", "OPTIONS", "WRITERS", "save", "write", "writer"]
