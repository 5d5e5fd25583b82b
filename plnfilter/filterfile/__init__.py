"""Load a filter file (YAML) into checked, frozen values; every mistake names its file and line.

`load(path)` and `parse(text, path)` return a `FilterFile`; `describe(filter_file)` says in plain
lines what it was understood to mean (for `plnfilter check`). The YAML shapes are documented in
filters/README.md.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING, Any

from plnfilter.errors import FilterFileError
from plnfilter.filterfile.limits import MAX_BYTES
from plnfilter.lazy import attributes_of

if TYPE_CHECKING:
    from plnfilter.filterfile.describe import describe
    from plnfilter.filterfile.model import Condition, FilterFile, RankConfig, Rule, SourceSpec, Voices

# The model's classes, loaded when first asked for: `top` and `links` without a filter file load
# `filterfile.rank_settings` alone, not the model's other classes.
__all__ = ["Condition", "FilterFile", "RankConfig", "Rule", "SourceSpec", "Voices"]
_model_attribute = attributes_of(__name__, "model", __all__)  # the names so far; the module's own follow
__all__ += ["MAX_BYTES", "FilterFileError", "describe", "load", "missing_files", "parse"]


def __getattr__(name: str) -> Any:
    if name == "describe":  # for `check` alone: `top FILTER` does not load it
        from plnfilter.filterfile.describe import describe

        # Importing the submodule made `describe` this package's name for the module: the function's again.
        globals()["describe"] = describe
        return describe
    return _model_attribute(name)


TOP_KEYS = (
    "name",
    "description",
    "sources",
    "exclude",
    "include",
    "voices",
    "rank",
    "keep",
    "refresh",
    "refresh_limit",
    "retain",
)


def load(path: str | os.PathLike[str]) -> FilterFile:
    """Read and check a filter file; raise FilterFileError with a next step for any problem. The same
    unchanged file read again comes from `filterfile.cache` (its checks passed; no YAML to read)."""
    name = str(path)
    try:
        size = os.stat(name).st_size
        if size > MAX_BYTES:
            raise FilterFileError(
                name,
                1,
                f"the file is {size:,} bytes; filter files are limited to {MAX_BYTES:,}",
                "check that this is the filter file you meant",
            )
        with open(name, "rb") as handle:
            data = handle.read(MAX_BYTES + 1)
    except FileNotFoundError:
        raise FilterFileError(
            name, None, "no such filter file", "check the path, or copy one from filters/"
        ) from None
    except IsADirectoryError:
        raise FilterFileError(name, None, "is a directory, not a filter file", "name a .yaml file") from None
    except ValueError:
        raise FilterFileError(name, None, "is not a usable file name", "check the path") from None
    except OSError as exc:
        raise FilterFileError(
            name, None, f"cannot read the filter file: {exc.strerror}", "check its permissions"
        ) from None
    from plnfilter.filterfile import cache

    remembered = cache.lookup(name, data)
    if remembered is not None:
        return remembered
    filter_file = parse(decode(data, name), name)
    cache.remember(name, data, filter_file)
    return filter_file


def decode(data: bytes, path: str) -> str:
    """UTF-8 (with or without a byte-order mark); anything else is refused at its line."""
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = data.count(b"\n", 0, exc.start) + 1
        raise FilterFileError(
            path,
            line,
            f"the file is not UTF-8 text (byte 0x{data[exc.start]:02x})",
            "save it as UTF-8 in your editor",
        ) from None


def parse(text: str, path: str = "<filter>") -> FilterFile:
    """Check a filter file's text; `path` names it in errors and anchors relative `file:` sources."""
    # The checks load PyYAML and the regex module: only commands that read a filter file pay for them
    # (`top` and `links` without one import this package for its model alone).
    from plnfilter.filterfile.checks import as_count, as_refresh, as_retain, as_text, check_keys
    from plnfilter.filterfile.model import FilterFile, RankConfig, Voices
    from plnfilter.filterfile.problems import Problems
    from plnfilter.filterfile.ranking import parse_rank, parse_voices
    from plnfilter.filterfile.rule_syntax import parse_rules
    from plnfilter.filterfile.sources import parse_sources
    from plnfilter.filterfile.yaml_lines import read_yaml

    path = str(path)
    top = read_yaml(text.removeprefix("\ufeff"), path)
    problems = Problems()
    problems.add(getattr(top, "comment_cuts", []))
    with problems.gather():
        check_keys(top, TOP_KEYS, path, "at the top level")
    lines = top.key_lines
    fields: dict[str, Any] = {"path": path, "name": Path(path).stem}
    with problems.gather():
        if "name" in top:
            fields["name"] = as_text(top["name"], path, lines["name"], "name", "pln-digest")
    with problems.gather():
        if "description" in top:
            fields["description"] = as_text(top["description"], path, lines["description"], "description")
    with problems.gather():
        if "sources" in top:
            fields["sources"] = parse_sources(top["sources"], path, lines["sources"])
    names: dict[str, int] = {}
    for section in ("exclude", "include"):
        with problems.gather():
            if section in top:
                fields[section] = parse_rules(top[section], path, lines[section], section, names)
    voices = Voices()
    voices_read = True
    if "voices" in top:
        voices_read = False
        with problems.gather():
            voices = parse_voices(top["voices"], path, lines["voices"])
            voices_read = True
    fields["voices"] = voices
    fields["rank"] = RankConfig(
        trusted=voices.trusted, outside_sector=voices.outside_sector, dissenting=voices.dissenting
    )
    if "rank" in top and voices_read:  # `mix` is checked against the voices, so only once they read
        with problems.gather():
            fields["rank"] = parse_rank(top["rank"], path, lines["rank"], voices)
    with problems.gather():
        if "keep" in top and top["keep"] is not None:
            fields["keep"] = as_count(top["keep"], path, lines["keep"], "keep", minimum=1)
    with problems.gather():
        if "refresh" in top:
            fields["refresh"] = as_refresh(top["refresh"], path, lines["refresh"])
    with problems.gather():
        if "refresh_limit" in top:
            fields["refresh_limit"] = as_count(
                top["refresh_limit"], path, lines["refresh_limit"], "refresh_limit", minimum=1
            )
    with problems.gather():
        if "retain" in top:
            fields["retain"] = as_retain(top["retain"], path, lines["retain"])
    problems.raise_any()
    return FilterFile(**fields)


def missing_files(filter_file: FilterFile) -> list[FilterFileError]:
    """Sources whose network can tell before any fetch that they cannot be read (a `file:` source
    naming no readable file), for `plnfilter check`; `run` reports them per source."""
    from plnfilter.sources import registry

    problems = []
    for spec in filter_file.sources:
        check = getattr(registry.network(spec.kind), "unreadable", None)
        found = check(spec, os.path.dirname(os.path.abspath(filter_file.path))) if check else None
        if found:
            problems.append(FilterFileError(filter_file.path, spec.line, *found))
    return problems
