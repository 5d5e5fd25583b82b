"""Reading a selection of posts partition by partition (network, month of creation), for the Parquet
dataset: a fingerprint of each partition's rows, and the rows of one partition in batches.

A partition's fingerprint is its row count, its latest `last_seen` and a hash of every exported cell
of every row (summed, so the row order does not matter), all computed by one GROUP BY. Any new,
refreshed, re-judged or removed post changes its partition's fingerprint and no other.
"""

from __future__ import annotations

import hashlib
import sqlite3
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any

from plnfilter.store.archive import _deny_writes, db_errors
from plnfilter.store.columns import POST_SCHEMA

if TYPE_CHECKING:
    from plnfilter.store.select import Selection

DATASET_COLUMNS: tuple[str, ...] = (
    "uri",
    "url",
    "created_at",
    "author",
    "author_name",
    "author_id",
    "author_bot",
    "author_followers",
    "text",
    "lang",
    "tags",
    "links",
    "mentions",
    "media_alt",
    "reply_to",
    "quote_of",
    "reposted_by",
    "has_media",
    "sensitive",
    "spoiler",
    "card_url",
    "card_title",
    "likes",
    "reposts",
    "replies",
    "quotes",
    "source",
    "visibility",
    "author_opt_out",
    "kept",
    "score",
    "matched",
    "dropped_by",
    "first_seen",
    "last_seen",
)
"""The posts columns a dataset file holds, in file order (`network` and `month` are its folders):
every post with who may see it (`visibility`, `author_opt_out`), as CSV and JSON carry them."""

VERDICT_COLUMNS = ("kept", "score", "matched", "dropped_by")
TIME_COLUMNS = frozenset({"created_at", "first_seen", "last_seen"})

# The month a post belongs to: the `YYYY-MM` its created_at starts with; NULL when it has no date.
_MONTH_SQL = (
    "CASE WHEN posts.created_at GLOB '[0-9][0-9][0-9][0-9]-[0-1][0-9]-*' "
    "THEN substr(posts.created_at, 1, 7) END"
)
_FINGERPRINT = "plnfilter_fingerprint"
_MASK = (1 << 64) - 1


def verdict_sql(filter_name: str | None = None) -> dict[str, str]:
    """The SQL giving the verdict columns (kept, score, matched, dropped_by) of posts: those of the filter the
    `VERDICT_JOIN` names (NULL for a post it has not judged). This is the one place that reads them."""
    return {name: f"verdicts.{name}" for name in VERDICT_COLUMNS}


# Each post beside the chosen filter's verdict (its one parameter: the filter's name).
VERDICT_JOIN = 'LEFT JOIN verdicts ON verdicts.post_id = posts.id AND verdicts."filter" = ?'


def _expressions(columns: Sequence[str], filter_name: str | None) -> list[str]:
    """The SQL of each exported column: verdicts from `verdict_sql`, an empty time as NULL."""
    verdicts = verdict_sql(filter_name)
    parts = []
    for name in columns:
        if name not in POST_SCHEMA and name not in verdicts:
            raise ValueError(f"not a posts column: {name!r}")
        if name in verdicts:
            parts.append(verdicts[name])
        elif name in TIME_COLUMNS:
            parts.append(f"NULLIF(posts.{name}, '')")
        else:
            parts.append(f"posts.{name}")
    return parts


def _select_list(columns: Sequence[str], filter_name: str | None) -> str:
    return ", ".join(
        f"{sql} AS {name}" for sql, name in zip(_expressions(columns, filter_name), columns, strict=True)
    )


@dataclass(frozen=True)
class Partition:
    """One folder of the dataset: its network and month (None: posts without a date), and its rows'
    fingerprint."""

    network: str
    month: str | None
    rows: int
    fingerprint: str


class _Fingerprint:
    """Sum (mod 2**64) of a 64-bit hash of each row's cells: the same rows in any order give one value."""

    def __init__(self) -> None:
        self.total = 0

    def step(self, cells: str | None) -> None:
        data = (cells or "").encode("utf-8", "surrogatepass")
        self.total = (self.total + int.from_bytes(hashlib.blake2b(data, digest_size=8).digest())) & _MASK

    def finalize(self) -> str:
        return f"{self.total:016x}"


def _where(selection: Selection) -> tuple[str, list[Any]]:
    """The selection's condition on posts: its kept flag directly, any other flag through the ids the
    selection's own SQL picks (so the flags mean here exactly what they mean for query and export)."""
    from plnfilter.store.select import build_sql

    plain = replace(selection, kept=None, order="oldest", limit=None, columns=None, sql=None)
    conditions, params = ["1"], []
    if selection.kept is not None:  # the chosen filter's verdict, joined by VERDICT_JOIN
        conditions.append("verdicts.kept = 1" if selection.kept else "verdicts.kept = 0")
    if replace(plain, filter=None) != type(selection)(kept=None, order="oldest"):
        sql, params = build_sql(plain, columns=("id",))
        conditions.append(f"posts.id IN ({sql})")
    return " AND ".join(conditions), params


def _filter_of(selection: Selection, filter_name: str | None) -> str | None:
    """Whose verdicts: `filter_name`, else the selection's filter (the caller chose it)."""
    return filter_name if filter_name is not None else selection.filter


def partitions(
    conn: sqlite3.Connection, selection: Selection, filter_name: str | None = None
) -> list[Partition]:
    """Every partition the selection has rows in, with the fingerprint of those rows."""
    where, params = _where(selection)
    cells = ", ".join(_expressions(DATASET_COLUMNS, filter_name))
    sql = (
        f"SELECT posts.network, {_MONTH_SQL} AS month, count(*), max(posts.last_seen), "  # noqa: S608 (names from DATASET_COLUMNS)
        f"{_FINGERPRINT}(json_array({cells})) FROM posts {VERDICT_JOIN} WHERE {where} GROUP BY 1, 2 ORDER BY 1, 2"
    )
    params = [_filter_of(selection, filter_name), *params]
    conn.create_aggregate(_FINGERPRINT, 1, _Fingerprint)
    with db_errors(conn):
        return [
            Partition(network, month, count, f"{count}:{last_seen or ''}:{digest}")
            for network, month, count, last_seen, digest in conn.execute(sql, params)
        ]


def partition_rows(
    conn: sqlite3.Connection,
    selection: Selection,
    network: str,
    month: str | None,
    batch_size: int = 5_000,
    filter_name: str | None = None,
) -> Iterator[list[tuple[Any, ...]]]:
    """The selected rows of one partition (DATASET_COLUMNS, as stored: lists as JSON text, flags 0/1,
    times as ISO text or NULL), oldest first, in batches."""
    where, params = _where(selection)
    if month is None:
        in_month = f"({_MONTH_SQL}) IS NULL"
        month_params: list[Any] = []
    else:  # the range lets SQLite walk the created_at index; the month test keeps it exact
        in_month = f"posts.created_at >= ? AND posts.created_at < ? AND ({_MONTH_SQL}) = ?"
        month_params = [month + "-", month + ".", month]
    sql = (
        f"SELECT {_select_list(DATASET_COLUMNS, filter_name)} FROM posts {VERDICT_JOIN} "  # noqa: S608 (names from DATASET_COLUMNS)
        f"WHERE posts.network = ? AND {in_month} AND {where} ORDER BY posts.created_at, posts.id"
    )
    with db_errors(conn):
        cursor = conn.execute(sql, [_filter_of(selection, filter_name), network, *month_params, *params])
        while batch := cursor.fetchmany(batch_size):
            yield batch


@contextmanager
def read_snapshot(conn: sqlite3.Connection) -> Iterator[None]:
    """One read transaction around several queries, so all of them see the archive as the first did,
    whatever a run writes meanwhile (WAL). The read-only connection's authorizer refuses BEGIN, so it
    steps aside for BEGIN and COMMIT alone; `query_only` still refuses any write."""

    def bracket(statement: str) -> None:
        conn.set_authorizer(None)
        try:
            with db_errors(conn):
                conn.execute(statement)
        finally:
            conn.set_authorizer(_deny_writes)

    if conn.in_transaction:
        yield
        return
    bracket("BEGIN DEFERRED")
    try:
        yield
    finally:
        bracket("COMMIT")


class ArchiveDataset:
    """A selection of one archive read partition by partition: what a dataset writer is handed."""

    def __init__(self, conn: sqlite3.Connection, selection: Selection, filter_name: str | None = None):
        self.conn = conn
        self.selection = selection
        self.filter_name = filter_name

    def snapshot(self):
        """Read the partitions and their rows inside this, so they are of one moment of the archive."""
        return read_snapshot(self.conn)

    def partitions(self) -> list[Partition]:
        return partitions(self.conn, self.selection, self.filter_name)

    def batches(self, partition: Partition) -> Iterator[list[tuple[Any, ...]]]:
        return partition_rows(
            self.conn, self.selection, partition.network, partition.month, filter_name=self.filter_name
        )
