"""Names a package hands out from one of its modules only when first asked for (PEP 562), so that
importing the package does not build classes a command may never use (issue 14's start-up)."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from importlib import import_module
from typing import Any


def attributes_of(package: str, module: str, names: Iterable[str]) -> Callable[[str], Any]:
    """A module `__getattr__` for `package` reading each of `names` from `package.module`:
    `__getattr__ = attributes_of(__name__, "model", ("FilterFile", ...))`."""
    wanted = frozenset(names)

    def __getattr__(name: str) -> Any:
        if name not in wanted:
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        return getattr(import_module(f"{package}.{module}"), name)

    return __getattr__
