"""The aggregates `plnfilter voices` reads: who posted, who reposted, quoted, replied to and mentioned
whom, who shared which links and tags, what each source found and kept.

Every query here returns small grouped rows (one per author, pair or source), never the posts, so
the commands stay fast on a large archive; the judging of those rows lives in `plnfilter/voices.py`.
`voices suggest` reads m012's tallies by author and day, which triggers keep (store/schema.py); the
report's per-author figures stream from the index `posts_by_author` (migration m010: author,
case-folded as `lower()` folds, then network, time, and the few columns read), never from the
posts' rows. Authors are compared lower-cased. Kept-ness is one filter's verdict (the caller
chooses the filter), read through `_KEPT` alone, its name a bound parameter like every value here.
"""

from __future__ import annotations

import json
import sqlite3
from collections import Counter
from collections.abc import Iterable
from typing import Any

from plnfilter.store.archive import db_errors
from plnfilter.store.rows import clean_text
from plnfilter.store.schema import m012_recount

_VOICES = "(SELECT value FROM json_each(?))"  # a JSON list of lower-cased authors, as one parameter
# The ids of the posts one filter kept; its name is the parameter (None: no filter, nothing kept).
_KEPT = '(SELECT "post_id" FROM "verdicts" WHERE "filter" = ? AND "kept" = 1)'


def _filter_param(filter_name: str | None) -> str | None:
    """The filter's name as `verdicts` stores it (see store/verdicts.py), bound to `_KEPT`'s `?`."""
    return None if filter_name is None else clean_text(filter_name)


def _window(alias: str, since: str | None, until: str | None = None) -> tuple[str, list[Any]]:
    parts, params = [], []
    if since:
        parts.append(f'{alias}."created_at" >= ?')
        params.append(since)
    if until:
        parts.append(f'{alias}."created_at" < ?')
        params.append(until)
    return (" AND ".join(parts) or "1"), params


def _rows(conn: sqlite3.Connection, sql: str, params: Iterable[Any] | dict[str, Any]) -> list[tuple]:
    with db_errors(conn):
        return conn.execute(sql, params if isinstance(params, dict) else list(params)).fetchall()


def rough_link_sql(expr: str) -> str:
    """A link compared loosely, in SQL: lower-case, without scheme, `www.`, query or trailing slash
    (two copies of one article meet; a rare false match costs little, and the few links that differ
    only by a fragment or an explicit default port are missed)."""
    cut = f"lower(substr({expr}, 1, instr({expr} || '?', '?') - 1))"
    for old in ("https://", "http://", "www."):
        cut = f"replace({cut}, '{old}', '')"
    return f"rtrim({cut}, '/')"


def _items(column: str, when: str = "") -> str:
    """An author's JSON list column over their posts as one flat JSON list's items, joined by commas
    ('"a","b","c"'; NULL when none): `'[' || it || ']'` is a list for json_each or json.loads."""
    return (
        f"group_concat(CASE WHEN {when}p.\"{column}\" NOT IN ('[]', '') "
        f'THEN substr(p."{column}", 2, length(p."{column}") - 2) END)'
    )


_WIDTH = 6  # every part of the signals statement is padded to this many columns


def _part(kind: str, columns: str, rest: str) -> str:
    count = columns.count("§") + 1
    values = columns.replace("§", ",")
    padding = ", NULL" * (_WIDTH - 1 - count)
    return f"SELECT '{kind}', {values}{padding} {rest}"


def _own_posts(voices: str, where: str) -> str:
    """The CTEs of the trusted voices' own posts in the window (`s`, found in the index by author)
    and the loose keys of the links they shared (`vk`); `_OWN_PARTS` reads them."""
    rough = rough_link_sql('l."value"')
    return (
        's AS MATERIALIZED (SELECT p."network" AS network, lower(p."author") AS a, p."links" AS links, '  # noqa: S608
        'p."mentions" AS m, p."quote_of" AS q, p."reply_to" AS y FROM "posts" p '
        f'WHERE p."author" COLLATE NOCASE IN {voices} AND p."author" != \'\' AND {where}), '
        f"vk AS MATERIALIZED (SELECT DISTINCT s.a AS a, {rough} AS k FROM s, json_each(s.links) l "
        "WHERE s.links NOT IN ('[]', ''))"
    )


_OWN_PARTS = (
    _part(
        "mention",
        's.a§s.network§lower(x."value")§count(*)',
        "FROM s, json_each(s.m) x WHERE s.m NOT IN ('[]', '') GROUP BY 2, 3, 4",
    ),
    _part(
        "pointer",
        's.a§\'quote\'§s.q§t."network"§lower(t."author")',
        'FROM s LEFT JOIN "posts" t ON t."uri" = s.q WHERE s.q != \'\'',
    ),
    _part(
        "pointer",
        's.a§\'reply\'§s.y§t."network"§lower(t."author")',
        'FROM s LEFT JOIN "posts" t ON t."uri" = s.y WHERE s.y != \'\'',
    ),
    _part("vlink", "a§k", "FROM vk"),
)


# Per author, from the index `posts_by_author` (migration m010) alone, in its order: no sort, no
# table read. One pass over the window's posts, one over its kept ones, each post's verdict looked
# up once in the filter's kept ids, which `IN` always holds in an index of its own (a join with
# them could scan them all once per post, as SQLite may plan it for a short window).
_AUTHORS = (
    'SELECT p."network" AS network, lower(p."author") AS a, max(p."author_id") AS i, count(*) AS posts, '  # noqa: S608
    f'{_items("reposted_by")} AS boosters FROM "posts" p '
    'WHERE p."author" != \'\' AND {window} GROUP BY p."author" COLLATE NOCASE, p."network"'
)
_KEPT_BY_AUTHOR = (
    'SELECT p."network" AS network, lower(p."author") AS a, count(*) AS kept, '  # noqa: S608
    f'{_items("tags")} AS tags, {_items("links")} AS links FROM "posts" p '
    f'WHERE +p."id" IN {_KEPT} AND p."author" != \'\' AND {{window}} '
    'GROUP BY p."author" COLLATE NOCASE, p."network"'
)


def network_signals(
    conn: sqlite3.Connection, since: str | None, trusted: Iterable[str], filter_name: str | None = None
) -> dict[str, Any]:
    """Everything `voices suggest` reads about the posts created since `since` (all when None), per
    author, from m012's tallies by author and day (the posts of the window's first day counted from
    the posts themselves), and from the trusted voices' own posts:

    - act: (network, author, author_id, posts, kept posts) per author, ordered by network and author;
    - tags: (tag, kept posts carrying it) over the kept posts;
    - repost: (network, author, trusted booster, reposts);
    - mention: (trusted voice, network, mentioned account, mentions);
    - pointer: (trusted voice, 'quote'|'reply', target uri, target's network, target's author or NULL);
    - vlink: (trusted voice, loose link key) for links trusted voices shared;
    - link: (network, author, loose link key) for links in everyone else's kept posts that a trusted
      voice shared too (a link in a dropped post, spam mostly, endorses nobody).
    """
    if not has_tallies(conn):
        return _scanned_signals(conn, since, trusted, filter_name)
    params: dict[str, Any] = {"voices": json.dumps(sorted(trusted)), "filter": _filter_param(filter_name)}
    where = days = "1"
    edge = ""
    if since:
        # a tally's day after the window's first holds only posts inside the window; the posts of
        # that first day are counted afresh (found through the index on created_at)
        where, days = 'p."created_at" >= :since', '"day" > :day'
        params.update(day=since[:10], since=since)
        edge = 'typeof(p."created_at") = \'text\' AND p."created_at" >= :since AND substr(p."created_at", 1, 10) = :day'
        if since[:10][-1] != "\U0010ffff":
            params["after_day"] = since[:10][:-1] + chr(ord(since[:10][-1]) + 1)
            edge += ' AND p."created_at" < :after_day'

    def tally(kind: str, table: str, columns: str, where: str, groups: str, edge_where: str) -> list[str]:
        """One kind of row from one tally: grouped from its rows of the window's days after the
        first (in its key's order, so no sort), and from the posts of that first day; the caller
        adds the two up."""
        own = _part(kind, columns, f'FROM "{table}" WHERE {where} AND {days} GROUP BY {groups}')
        if not edge:
            return [own]
        counted = f"({m012_recount(table, f'{edge} AND {edge_where}', posts_first=True)})"
        return [own, _part(kind, columns, f"FROM {counted} GROUP BY {groups}")]

    rough = rough_link_sql('l."value"')
    voices = "(SELECT value FROM tv)"
    kept_by = 'v."filter" = :filter'
    sql = (
        "WITH tv AS (SELECT value FROM json_each(:voices)), "  # noqa: S608
        + _own_posts(voices, where)
        + " "
        + " UNION ALL ".join(
            [
                *tally(
                    "act",
                    "author_days",
                    "network§author§max(author_id)§sum(posts)",
                    "1",
                    '"author", "network"',
                    "1",
                ),
                *tally(
                    "kept",
                    "kept_author_days",
                    "network§author§sum(kept)",
                    '"filter" = :filter',
                    '"author", "network"',
                    kept_by,
                ),
                *tally("tags", "kept_tag_days", "tag§sum(uses)", '"filter" = :filter', '"tag"', kept_by),
                *tally(
                    "repost",
                    "booster_days",
                    "network§author§booster§sum(reposts)",
                    f'"booster" IN {voices}',
                    '"booster", "author", "network"',
                    f'lower(b."value") IN {voices}',
                ),
                *_OWN_PARTS,
                # everyone else's kept links that a trusted voice shared too, by their loose keys
                *tally(
                    "link",
                    "kept_link_days",
                    "network§author§link",
                    f'"filter" = :filter AND "link" IN (SELECT k FROM vk) AND "author" NOT IN {voices}',  # noqa: S608
                    '"link", "author", "network"',
                    f'{kept_by} AND {rough} IN (SELECT k FROM vk) AND lower(p."author") NOT IN {voices}',  # noqa: S608
                ),
            ]
        )
    )
    rows: dict[str, list[tuple]] = {kind: [] for kind in ("act", "kept", "tags", *_SIGNALS)}
    for row in _rows(conn, sql, params):
        rows[row[0]].append(row)
    if edge:
        _add_up(rows)
    return _found(rows, [(row[1], row[2]) for row in rows["tags"]])


def _add_up(rows: dict[str, list[tuple]]) -> None:
    """The rows of one key from a tally and from the window's first day made one: counts added, the
    larger author id kept, a shared link listed once."""
    for kind, width in (("act", 3), ("kept", 3), ("tags", 2), ("repost", 4), ("link", 4)):
        merged: dict[tuple, tuple] = {}
        for row in rows[kind]:
            key = row[:width]
            earlier = merged.get(key)
            if earlier is None:
                merged[key] = row
            elif kind == "act":
                merged[key] = (*key, max(earlier[3], row[3]), earlier[4] + row[4], None)
            elif kind != "link":
                merged[key] = (*key, earlier[width] + row[width], *row[width + 1 :])
        rows[kind] = list(merged.values())


def _found(rows: dict[str, list[tuple]], tags: list[tuple]) -> dict[str, Any]:
    kept = {(row[1], row[2]): row[3] for row in rows["kept"]}
    found: dict[str, Any] = {kind: [row[1:] for row in rows[kind]] for kind in _SIGNALS}
    found["act"] = sorted(
        (row[1], row[2], row[3] or None, row[4], kept.get((row[1], row[2]), 0)) for row in rows["act"]
    )
    found["tags"] = tags
    return found


def has_tallies(conn: sqlite3.Connection) -> bool:
    """Whether the archive has m012's tallies (one opened read-only may not have been upgraded yet)."""
    sql = "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'kept_link_days'"
    return bool(_rows(conn, sql, ()))


def _scanned_signals(
    conn: sqlite3.Connection, since: str | None, trusted: Iterable[str], filter_name: str | None = None
) -> dict[str, Any]:
    """`network_signals` from the posts themselves, for an archive without m012's tallies (one opened
    read-only before an upgrade), in one statement that reads the window's posts per author from the
    index `posts_by_author` (all of them once, the kept ones once more); the same rows, the kept
    posts' tags gathered as one JSON list's items and counted in Python."""
    where, params = _window("p", since)
    rough = rough_link_sql('l."value"')
    sql = (
        f"WITH v AS {_VOICES}, a AS MATERIALIZED ({_AUTHORS.format(window=where)}), "  # noqa: S608
        f"ka AS MATERIALIZED ({_KEPT_BY_AUTHOR.format(window=where)}), {_own_posts('v', where)}, "
        # everyone else's kept links, each made a loose key once
        f"lk AS MATERIALIZED (SELECT ka.network AS network, ka.a AS a, {rough} AS k "
        "FROM ka, json_each('[' || ka.links || ']') l WHERE ka.links IS NOT NULL AND ka.a NOT IN v) "
        + " UNION ALL ".join(
            [
                _part("act", "network§a§i§posts", "FROM a"),
                _part("kept", "network§a§kept", "FROM ka"),
                _part("tags", "group_concat(tags)", "FROM ka"),
                _part(
                    "repost",
                    'a.network§a.a§lower(x."value")§count(*)',
                    "FROM a, json_each('[' || a.boosters || ']') x "
                    'WHERE a.boosters IS NOT NULL AND lower(x."value") IN v GROUP BY 2, 3, 4',
                ),
                *_OWN_PARTS,
                _part("link", "network§a§k", "FROM lk WHERE k IN (SELECT k FROM vk) GROUP BY 2, 3, 4"),
            ]
        )
    )
    rows: dict[str, list[tuple]] = {kind: [] for kind in ("act", "kept", "tags", *_SIGNALS)}
    voices = json.dumps(sorted(trusted))
    for row in _rows(conn, sql, [voices, *params, _filter_param(filter_name), *params, *params]):
        rows[row[0]].append(row)
    items = rows["tags"][0][1] if rows["tags"] else None
    return _found(rows, list(Counter(json.loads(f"[{items}]")).items()) if items else [])


_SIGNALS = ("repost", "mention", "pointer", "vlink", "link")


def author_details(
    conn: sqlite3.Connection, since: str | None, accounts: Iterable[tuple[str, str]]
) -> dict[tuple[str, str], tuple[str | None, str | None]]:
    """(display name, tags of their posts as JSON lists joined by commas) per (network, author) asked
    for, over the window: only the few accounts a command shows."""
    wanted = set(accounts)
    if not wanted:
        return {}
    where, params = _window("p", since)
    sql = (
        'SELECT p."network", lower(p."author"), max(p."author_name"), '  # noqa: S608
        "group_concat(CASE WHEN p.\"tags\" NOT IN ('[]', '') THEN p.\"tags\" END, ',') FROM \"posts\" p "
        f'WHERE p."author" COLLATE NOCASE IN {_VOICES} AND p."author" != \'\' AND {where} '
        'GROUP BY p."author" COLLATE NOCASE, p."network"'
    )
    names = json.dumps(sorted({author for _network, author in wanted}))
    return {
        (network, author): (name, tags)
        for network, author, name, tags in _rows(conn, sql, [names, *params])
        if (network, author) in wanted
    }


def source_specs(conn: sqlite3.Connection) -> list[tuple]:
    """(name, spec, last run) of every timeline the archive has fetched."""
    return _rows(conn, 'SELECT "name", "spec", "last_run" FROM "sources" ORDER BY "name"', ())


def authors_found_by(conn: sqlite3.Connection, sources: Iterable[str]) -> list[tuple]:
    """(network, author) of everyone the named timelines showed as a person followed there: authors of
    posts that arrived as their own (no repost), and the people who reposted what arrived."""
    names = json.dumps(sorted(sources))
    sql = (
        'SELECT DISTINCT p."network", lower(p."author") FROM "post_sources" s '  # noqa: S608
        'JOIN "posts" p ON p."id" = s."post_id" '
        f"WHERE s.\"source\" IN {_VOICES} AND p.\"reposted_by\" IN ('[]', '') AND p.\"author\" != '' "
        'UNION SELECT DISTINCT p."network", lower(r."value") FROM "post_sources" s '
        'JOIN "posts" p ON p."id" = s."post_id", json_each(p."reposted_by") r '
        f"WHERE s.\"source\" IN {_VOICES} AND p.\"reposted_by\" NOT IN ('[]', '')"
    )
    return _rows(conn, sql, [names, names])


def author_report(
    conn: sqlite3.Connection, since: str, until: str, filter_name: str | None = None
) -> list[tuple]:
    """(network, author, kept posts created in [since, until), newest post ever) per author, ordered
    by network and author: the variety figures and the quiet voices from one read of the index
    `posts_by_author`, looking up the verdict of the window's posts only."""
    sql = (
        'SELECT p."network", lower(p."author"), '  # noqa: S608
        f'sum(CASE WHEN p."created_at" >= ? AND p."created_at" < ? THEN p."id" IN {_KEPT} ELSE 0 END), '
        'max(p."created_at") FROM "posts" p WHERE p."author" != \'\' '
        'GROUP BY p."author" COLLATE NOCASE, p."network"'
    )
    # (network, author) is unique per row (NOCASE and lower() fold the same letters), so the rows sort
    # as whole tuples, without a key function called once per author
    return sorted(_rows(conn, sql, [since, until, _filter_param(filter_name)]))


def source_yield(conn: sqlite3.Connection, since: str, filter_name: str | None = None) -> list[tuple]:
    """(source, posts found since, kept posts found since, when it last found a kept post, ever) per
    source; "found" is when the source first saw the post. Reads the findings and the filter's
    verdicts, never the posts themselves."""
    sql = (
        'SELECT s."source", sum(s."first_seen" >= ?), sum(s."first_seen" >= ? AND v."kept" = 1), '
        'max(CASE WHEN v."kept" = 1 THEN s."first_seen" END) FROM "post_sources" s '
        'LEFT JOIN "verdicts" v ON v."filter" = ? AND v."post_id" = s."post_id" GROUP BY s."source"'
    )
    return _rows(conn, sql, [since, since, _filter_param(filter_name)])


def handles_of_dids(conn: sqlite3.Connection, dids: Iterable[str]) -> list[tuple]:
    """(did, handle) for the Bluesky DIDs the archive has posts from."""
    sql = (
        'SELECT DISTINCT lower(p."author_id"), lower(p."author") FROM "posts" p '  # noqa: S608
        f'WHERE p."network" = \'bluesky\' AND lower(p."author_id") IN {_VOICES}'
    )
    return _rows(conn, sql, [json.dumps(sorted(dids))])
