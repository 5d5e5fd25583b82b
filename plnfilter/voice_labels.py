"""Which `voices:` group each card of a digest or export belongs to, so a reader sees who speaks.

A filter file names the groups; `run`, `apply` and `watch` record them in the archive with the
filter, so `top` without FILTER and `export` label their cards too without reading (or parsing)
the file. The writers turn a row's `voice_group` into the words on the card ("trusted voice").
Light on purpose: `export` imports it, and neither the filterfile package nor YAML.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterable, Iterator, Mapping
from typing import Any

from plnfilter.rank import voice_grouper


def with_voice_groups(
    rows: Iterable[dict[str, Any]], groups: Mapping[str, Iterable[str]]
) -> Iterator[dict[str, Any]]:
    """Each row with `voice_group`: its author's group (trusted, outside_sector, dissenting) or None."""
    group_of = voice_grouper(groups)
    for row in rows:
        row["voice_group"] = group_of(row) or None
        yield row


def recorded_voices(conn: sqlite3.Connection, filter_name: str | None) -> dict[str, tuple[str, ...]] | None:
    """The groups (group -> people) the filter `filter_name` had at its last run or apply; None when
    it recorded none."""
    from plnfilter.store.filters import filter_voices

    return filter_voices(conn, filter_name) if filter_name else None
