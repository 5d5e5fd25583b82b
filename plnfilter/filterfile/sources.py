"""The `sources:` list: which timelines to fetch; each entry is checked by its network's package.

An entry names its kind with one key (`- mastodon: ...`, `- bluesky: {...}`, `- file: ...`, one
per network in `plnfilter/sources/registry.py`); the rest of the entry is that network's options,
checked by `plnfilter.sources.<network>.parse_source` with the same FILE:LINE messages as here.
"""

from __future__ import annotations

from typing import Any

from plnfilter.errors import FilterFileError
from plnfilter.filterfile.checks import check_keys, need_list, need_mapping
from plnfilter.filterfile.lined import YMap
from plnfilter.filterfile.model import SourceSpec
from plnfilter.filterfile.problems import Problems
from plnfilter.filterfile.source_checks import SYNONYMS
from plnfilter.sources import registry


def parse_sources(value: Any, path: str, line: int) -> tuple[SourceSpec, ...]:
    items = need_list(value, path, line, "'sources'", "a list: `- mastodon: mastodon.social` on its own line")
    problems = Problems()  # every source is checked, so one run of `check` shows every mistake
    specs = []
    for item, item_line in zip(items, items.item_lines, strict=True):
        with problems.gather():
            specs.append(parse_source(item, path, item_line))
    seen: dict[str, int] = {}
    for spec in specs:
        explicit = spec.options.get("name")
        if explicit and explicit in seen:
            problems.add(
                [
                    FilterFileError(
                        path,
                        spec.line,
                        f"two sources are named '{explicit}' (also line {seen[explicit]})",
                        "give each source its own name",
                    )
                ]
            )
        if explicit:
            seen[explicit] = spec.line
    problems.raise_any()
    return tuple(specs)


def _either(names: list[str], suffix: str = "") -> str:
    written = [name + suffix for name in names]
    return ", ".join(written[:-1]) + " or " + written[-1] if len(written) > 1 else written[0]


def parse_source(item: Any, path: str, line: int) -> SourceSpec:
    """One `- mastodon: ...`, `- bluesky: {...}` or `- file: ...` entry."""
    item = need_mapping(
        item, path, line, "a source", "`- mastodon: mastodon.social` or `- bluesky: {hashtags: [edtech]}`"
    )
    starts = registry.heads()
    kinds_known = list(starts)
    kinds = [key for key in item if key in starts]
    if len(kinds) > 1:
        raise FilterFileError(
            path,
            item.key_lines[kinds[1]],
            f"one source has both '{kinds[0]}' and '{kinds[1]}'",
            "start a new `- ` item for each source",
        )
    if not kinds:
        options: set[str] = set()
        aliases = dict(SYNONYMS)
        for name in registry.names():
            network = registry.network(name)
            options.update(network.OPTIONS)
            aliases.update((alias, name) for alias in network.KIND_SYNONYMS)
        strangers = YMap({key: value for key, value in item.items() if key not in options})
        strangers.key_lines = item.key_lines
        check_keys(
            strangers,
            kinds_known,
            path,
            f"where a source kind ({_either(kinds_known)}) should come first",
            aliases,
        )
        raise FilterFileError(
            path,
            line,
            f"a source needs one of {_either(kinds_known, ':')}",
            "write for example `- mastodon: mastodon.social` with `hashtags: [edtech]` below it",
        )
    kind = kinds[0]
    options_map = YMap({key: value for key, value in item.items() if key != kind})
    options_map.line = line
    options_map.key_lines = {key: item.key_lines[key] for key in options_map}
    return registry.parse_source(kind, item[kind], options_map, path, item.key_lines[kind])
