"""The filter-file hooks every network package states the same way, made once.

`parse_source` and `OPTIONS` live in a package's `options.py`, with the filter-file checks, which
commands that only read the archive never load: the package's own names reach them when called.
"""

from __future__ import annotations

from collections.abc import Callable
from importlib import import_module


def option_hooks(package: str) -> tuple[Callable, Callable[[str], object]]:
    """(`parse_source`, module `__getattr__`) for `package`, both reading `package.options` lazily:
    `parse_source, __getattr__ = option_hooks(__name__)` in the package's `__init__.py`."""

    def parse_source(head, options, path: str, line: int, **keys):
        """A `sources:` entry as a SourceSpec; FilterFileError with FILE:LINE and a fix."""
        return import_module(f"{package}.options").parse_source(head, options, path, line, **keys)

    def __getattr__(name: str):
        """`OPTIONS` (the keys a source takes), read from options.py when asked for."""
        if name == "OPTIONS":
            return import_module(f"{package}.options").OPTIONS
        raise AttributeError(f"module {package!r} has no attribute {name!r}")

    return parse_source, __getattr__
