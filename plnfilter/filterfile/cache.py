"""Checked filter files remembered as plain JSON data, so a command reading an unchanged file again
skips PyYAML and the checks (~20 ms of `top FILTER`'s start-up, issue 14).

An entry stands for a file only when everything the check read is the same: the file's bytes
(compared whole, not by a hash, so a changed file is never taken for the old one, whatever its
size or time stamp), the path as given (it names the file in errors and anchors relative `file:`
sources), HOME (`~` in a source), the Python, and the code that checked it: the size and time
stamp of every module of plnfilter and of the PyYAML and regex modules it used. Anything else is
parsed again. Only a file that checked cleanly is remembered, so every error still comes from the
checks. The cache is data, never code (no pickle): tagged JSON of the model's frozen values,
rebuilt through the model's own classes; its directory is created 0700 and its file 0600, and a
file that is not the user's own or that others may write is ignored. Failing to read or write it
is never an error.
"""

from __future__ import annotations

import json
import os
import sys
from datetime import timedelta
from typing import Any

FORMAT = 1
MAX_ENTRIES = 32  # filter files remembered; the least recently written goes first
MAX_CACHE_BYTES = 8_000_000
CACHE_NAME = "filters.json"
_MODEL = ("Condition", "FilterFile", "RankConfig", "Rule", "SourceSpec", "Voices")
_USED_DEPENDENCIES = ("yaml", "regex")  # what the checks import beside plnfilter


class NotCacheable(Exception):
    """A value the cache cannot write down exactly; the file is then not remembered."""


def lookup(name: str, data: bytes) -> Any | None:
    """The FilterFile the checks made of `data` read from `name` before, or None."""
    stored = _read_cache()
    if stored is None or stored.get("code") != _code_stamp(stored.get("dependencies")):
        return None
    entry = stored.get("entries", {}).get(_key(name))
    if not isinstance(entry, dict) or entry.get("path") != name or entry.get("home") != _home():
        return None
    if entry.get("text") != data.decode("utf-8", "surrogateescape"):
        return None
    try:
        filter_file = _decode(entry["filter"])
        digest = entry["digest"]
    except (KeyError, TypeError, ValueError, IndexError, AttributeError):
        return None
    if type(filter_file).__name__ != "FilterFile" or not isinstance(digest, str):
        return None
    from plnfilter.judge import remember_digest

    remember_digest(filter_file, digest)  # `rules_digest` answers from it: no hashlib to load
    return filter_file


def remember(name: str, data: bytes, filter_file: Any) -> None:
    """Write down what the checks made of `data` from `name` (best effort: never raises)."""
    from plnfilter.judge import rules_digest

    try:
        encoded = _encode(filter_file)
        if repr(_decode(encoded)) != repr(filter_file):  # exactly the same values back, or nothing
            return
        digest = rules_digest(filter_file)
        dependencies = sorted(
            module.__file__
            for module in (sys.modules.get(module_name) for module_name in _USED_DEPENDENCIES)
            if module is not None and getattr(module, "__file__", None)
        )
        stored = _read_cache()
        code = _code_stamp(dependencies)
        if stored is None or stored.get("code") != code:
            stored = {"format": FORMAT, "code": code, "dependencies": dependencies, "entries": {}}
        entries = stored.setdefault("entries", {})
        key = _key(name)
        entries.pop(key, None)
        entries[key] = {
            "path": name,
            "home": _home(),
            "text": data.decode("utf-8", "surrogateescape"),
            "filter": encoded,
            "digest": digest,
        }
        while len(entries) > MAX_ENTRIES:
            entries.pop(next(iter(entries)))
        _write_cache(json.dumps(stored, ensure_ascii=False, allow_nan=True))
    except (NotCacheable, OSError, ValueError, TypeError, RecursionError):
        return


# -- the cache file ------------------------------------------------------------------------------


def _cache_path() -> str:
    from plnfilter.config import cache_dir

    return os.path.join(cache_dir(), CACHE_NAME)


def _read_cache() -> dict[str, Any] | None:
    try:
        fd = os.open(_cache_path(), os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0))
    except (OSError, ValueError):
        return None
    try:
        st = os.fstat(fd)
        if not _trusted(st) or st.st_size > MAX_CACHE_BYTES:
            return None
        with os.fdopen(fd, "rb", closefd=False) as handle:
            raw = handle.read(MAX_CACHE_BYTES + 1)
        stored = json.loads(raw)
    except (OSError, ValueError, RecursionError):
        return None
    finally:
        os.close(fd)
    if not isinstance(stored, dict) or stored.get("format") != FORMAT:
        return None
    return stored


def _trusted(st: os.stat_result) -> bool:
    """A regular file of this user's that no one else may write."""
    import stat

    owner = getattr(os, "getuid", None)
    if owner is not None and st.st_uid != owner():
        return False
    return stat.S_ISREG(st.st_mode) and not st.st_mode & (stat.S_IWGRP | stat.S_IWOTH)


def _write_cache(text: str) -> None:
    """Atomically: a 0600 temporary file in the 0700 directory, renamed over the old one."""
    import tempfile

    path = _cache_path()
    folder = os.path.dirname(path)
    os.makedirs(folder, mode=0o700, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=".filters-", suffix=".tmp", dir=folder)  # 0600
    try:
        with os.fdopen(fd, "w", encoding="utf-8", errors="surrogateescape") as handle:
            handle.write(text)
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise


def _key(name: str) -> str:
    return os.path.abspath(name)


def _home() -> str:
    return os.path.expanduser("~")


def _code_stamp(dependencies: Any) -> str:
    """The Python, and size and time stamp of every plnfilter module and of `dependencies` (files)."""
    import plnfilter

    root = os.path.dirname(os.path.abspath(plnfilter.__file__))
    parts = [sys.version, plnfilter.__version__, root]
    found = []
    folders = [root]
    while folders:
        with os.scandir(folders.pop()) as listing:
            for entry in listing:
                if entry.name.endswith(".py"):
                    st = entry.stat()
                    found.append(f"{entry.path[len(root) :]}:{st.st_size}:{st.st_mtime_ns}")
                elif entry.name != "__pycache__" and entry.is_dir():
                    folders.append(entry.path)
    parts += sorted(found)
    for path in dependencies if isinstance(dependencies, list) else ():
        try:
            st = os.stat(path)
        except (OSError, TypeError, ValueError):
            return ""  # a dependency gone: never matches a stored stamp
        parts.append(f"{path}:{st.st_size}:{st.st_mtime_ns}")
    return "\n".join(parts)


# -- the model's values as tagged JSON -----------------------------------------------------------


def _encode(value: Any) -> Any:
    kind = type(value)
    if value is None or kind in (bool, int, float, str):
        return value
    if kind is tuple:
        return {"tuple": [_encode(item) for item in value]}
    if kind is list:
        return {"list": [_encode(item) for item in value]}
    if kind is dict:
        return {"dict": [[_encode(key), _encode(item)] for key, item in value.items()]}
    if kind is timedelta:
        return {"timedelta": [value.days, value.seconds, value.microseconds]}
    if kind.__name__ in _MODEL and kind.__module__.startswith("plnfilter.filterfile."):
        from dataclasses import fields

        return {
            "model": kind.__name__,
            "fields": {f.name: _encode(getattr(value, f.name)) for f in fields(value)},
        }
    raise NotCacheable(kind.__name__)


def _decode(value: Any) -> Any:
    if isinstance(value, list):
        raise ValueError("an untagged JSON list")
    if not isinstance(value, dict):
        return value
    if "model" in value:
        name = value["model"]
        if name not in _MODEL:
            raise ValueError(f"not a class of the model: {name!r}")
        from plnfilter.filterfile import model

        return getattr(model, name)(**{key: _decode(item) for key, item in value["fields"].items()})
    ((tag, content),) = value.items()
    if tag == "tuple":
        return tuple(_decode(item) for item in content)
    if tag == "list":
        return [_decode(item) for item in content]
    if tag == "dict":
        return {_decode(key): _decode(item) for key, item in content}
    if tag == "timedelta":
        days, seconds, microseconds = content
        return timedelta(days=days, seconds=seconds, microseconds=microseconds)
    raise ValueError(f"unknown tag {tag!r}")
