"""`@frozen_value`: a frozen dataclass whose methods are shared functions, not code compiled at start.

`@dataclass(frozen=True)` writes __init__, __repr__, __eq__, __hash__, __setattr__ and __delattr__
as source text and compiles each with `exec` whenever the module is imported: ~1 ms a class, paid
by every command that loads it (issue 14's start-up). For values made a few times per run (a filter
file's model, its rank settings) these generic methods do the same by looping over the fields. The
class is still a dataclass (`fields`, `replace`, `asdict`, `is_dataclass`, and so the rules digest,
are unchanged); tests/test_frozen_values.py checks each against `@dataclass(frozen=True)`.
Not for values made in hot loops: there the compiled methods are faster (see `plnfilter.post`).
"""

from __future__ import annotations

from dataclasses import MISSING, FrozenInstanceError, dataclass, fields
from typing import Any, TypeVar

T = TypeVar("T")


def frozen_value(cls: type[T]) -> type[T]:
    """Like `@dataclass(frozen=True)` (eq and hash by the fields that ask for them), without `exec`."""
    cls = dataclass(init=False, repr=False, eq=False)(cls)  # collects the fields; compiles nothing
    every = fields(cls)
    names = tuple(f.name for f in every)
    shown = tuple(f.name for f in every if f.repr)
    compared = tuple(f.name for f in every if f.compare)
    hashed = tuple(f.name for f in every if (f.compare if f.hash is None else f.hash))
    defaults = {f.name: (f.default, f.default_factory) for f in every}
    qualname = cls.__qualname__

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        if len(args) > len(names):
            raise TypeError(
                f"{qualname}() takes {len(names)} positional arguments but {len(args)} were given"
            )
        values = dict(zip(names, args, strict=False))  # fewer arguments than fields: the rest default
        for name, value in kwargs.items():
            if name not in defaults:
                raise TypeError(f"{qualname}() got an unexpected keyword argument {name!r}")
            if name in values:
                raise TypeError(f"{qualname}() got multiple values for argument {name!r}")
            values[name] = value
        setter = object.__setattr__
        for name in names:
            if name in values:
                setter(self, name, values[name])
                continue
            default, factory = defaults[name]
            if default is not MISSING:
                setter(self, name, default)
            elif factory is not MISSING:
                setter(self, name, factory())
            else:
                raise TypeError(f"{qualname}() missing required argument: {name!r}")

    def __repr__(self) -> str:
        return f"{qualname}(" + ", ".join(f"{name}={getattr(self, name)!r}" for name in shown) + ")"

    def __eq__(self, other: object) -> bool:
        if other.__class__ is self.__class__:
            return tuple(getattr(self, name) for name in compared) == tuple(
                getattr(other, name) for name in compared
            )
        return NotImplemented

    def __hash__(self) -> int:
        return hash(tuple(getattr(self, name) for name in hashed))

    def __setattr__(self, name: str, value: Any) -> None:
        raise FrozenInstanceError(f"cannot assign to field {name!r}")

    def __delattr__(self, name: str) -> None:
        raise FrozenInstanceError(f"cannot delete field {name!r}")

    for method in (__init__, __repr__, __eq__, __hash__, __setattr__, __delattr__):
        method.__qualname__ = f"{qualname}.{method.__name__}"
        setattr(cls, method.__name__, method)
    return cls
