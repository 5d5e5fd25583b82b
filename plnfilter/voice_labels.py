"""Which `voices:` group each card of a digest or export belongs to, so a reader sees who speaks.

A filter file names the groups; `run`, `apply` and `watch` record them in the archive with the
filter, so `top` without FILTER and `export` label their cards too without reading (or parsing)
the file. The writers turn a row's `voice_group` into the words on the card ("trusted voice").
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterable, Iterator
from typing import Any

from plnfilter.filterfile.model import VOICE_GROUPS, RankConfig
from plnfilter.rank import voice_grouper


def with_voice_groups(rows: Iterable[dict[str, Any]], rank: RankConfig) -> Iterator[dict[str, Any]]:
    """Each row with `voice_group`: its author's group (trusted, outside_sector, dissenting) or None."""
    group_of = voice_grouper(rank)
    for row in rows:
        row["voice_group"] = group_of(row) or None
        yield row


def recorded_voices(conn: sqlite3.Connection, filter_name: str | None) -> RankConfig | None:
    """The groups the filter `filter_name` had at its last run or apply, as settings `voice_grouper`
    reads; None when it recorded none."""
    from plnfilter.store.filters import filter_voices

    groups = filter_voices(conn, filter_name) if filter_name else None
    if groups is None:
        return None
    return RankConfig(**{group: groups.get(group, ()) for group in VOICE_GROUPS})
