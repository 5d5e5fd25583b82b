"""`@frozen_value` classes (a filter file's model and rank settings) behave as the
`@dataclass(frozen=True)` they were, without compiling methods at every start (issue 14)."""

from __future__ import annotations

import copy
import dataclasses
import pickle
from pathlib import Path

import pytest

from plnfilter.filterfile import load
from plnfilter.filterfile.model import Condition, FilterFile, RankConfig, Rule, SourceSpec, Voices

ROOT = Path(__file__).resolve().parent.parent
CLASSES = (Condition, FilterFile, RankConfig, Rule, SourceSpec, Voices)


def reference(cls: type) -> type:
    """The same fields as `@dataclass(frozen=True)` makes them."""
    return dataclasses.make_dataclass(
        cls.__name__,
        [
            (
                f.name,
                f.type,
                dataclasses.field(
                    default=f.default,
                    default_factory=f.default_factory,
                    repr=f.repr,
                    hash=f.hash,
                    compare=f.compare,
                ),
            )
            for f in dataclasses.fields(cls)
        ],
        frozen=True,
    )


REFERENCES = {cls: reference(cls) for cls in CLASSES}


def values_in(filter_file: FilterFile):
    """Every model value a loaded filter file holds."""
    pending = [filter_file]
    while pending:
        value = pending.pop()
        if isinstance(value, CLASSES):
            yield value
            pending.extend(getattr(value, f.name) for f in dataclasses.fields(value))
        elif isinstance(value, tuple | list):
            pending.extend(value)


@pytest.mark.parametrize("path", sorted((ROOT / "filters").glob("*.yaml")), ids=lambda p: p.name)
def test_repr_eq_hash_are_the_dataclasses_for_every_value_of_the_shipped_filters(path):
    seen = set()
    for value in values_in(load(path)):
        cls = type(value)
        seen.add(cls)
        given = {f.name: getattr(value, f.name) for f in dataclasses.fields(cls)}
        theirs = REFERENCES[cls](**given)
        assert repr(value) == repr(theirs)
        assert hash(value) == hash(theirs)
        again = cls(**given)
        assert again == value and not (again != value) and again is not value
        assert value != theirs  # another class is never equal, as between dataclasses
        positional = cls(*given.values())
        assert positional == value
    assert {FilterFile, RankConfig, Voices} <= seen


@pytest.mark.parametrize("cls", CLASSES, ids=lambda c: c.__name__)
def test_the_constructor_refuses_what_the_dataclass_refuses(cls):
    ours, theirs = cls, REFERENCES[cls]
    required = [
        f.name for f in dataclasses.fields(cls) if f.default is f.default_factory is dataclasses.MISSING
    ]
    fill = {name: f"value-{name}" for name in required}
    assert repr(ours(**fill)).removeprefix(cls.__name__) == repr(theirs(**fill)).removeprefix(cls.__name__)
    for bad_args, bad_kwargs in (
        ((), {**fill, "no_such_field": 1}),
        (tuple(range(len(dataclasses.fields(cls)) + 1)), {}),
        ((("first",) if required else ()), ({required[0]: "twice", **fill} if required else {"x": 1})),
    ):
        for made in (ours, theirs):
            with pytest.raises(TypeError):
                made(*bad_args, **bad_kwargs)
    if required:
        with pytest.raises(TypeError):
            ours()


def test_defaults_are_fresh_frozen_and_copied_like_the_dataclasses():
    first, second = RankConfig(), RankConfig()
    assert first.weights == second.weights and first.weights is not second.weights
    assert first == second and hash(first) == hash(second)
    with pytest.raises(dataclasses.FrozenInstanceError):
        first.max_per_author = 3
    with pytest.raises(dataclasses.FrozenInstanceError):
        del first.mix
    filter_file = load(ROOT / "filters" / "pln-digest.yaml")
    for clone in (
        pickle.loads(pickle.dumps(filter_file)),
        copy.copy(filter_file),
        copy.deepcopy(filter_file),
    ):
        assert clone == filter_file and repr(clone) == repr(filter_file)
    changed = dataclasses.replace(filter_file, keep=7)
    assert changed.keep == 7 and changed.include == filter_file.include
    assert dataclasses.asdict(filter_file.voices) == {"trusted": (), "outside_sector": (), "dissenting": ()}
    assert dataclasses.is_dataclass(filter_file) and FilterFile.__match_args__[0] == "name"
