"""The aggregates `plnfilter voices` reads: who posted, who reposted, quoted, replied to and mentioned
whom, who shared which links and tags, what each source found and kept.

Every query here returns small grouped rows (one per author, pair or source), never the posts, so
the commands stay fast on a large archive; the judging of those rows lives in `plnfilter/voices.py`.
Authors are compared lower-cased. Kept-ness is one filter's verdict (the caller chooses the filter),
read through `kept_sql` alone.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterable
from typing import Any

from plnfilter.store.archive import db_errors
from plnfilter.store.rows import clean_text

_VOICES = "(SELECT value FROM json_each(?))"  # a JSON list of lower-cased authors, as one parameter


def kept_sql(alias: str = "p", filter_name: str | None = None) -> str:
    """The SQL truth value "the filter `filter_name` kept the post aliased `alias`" (None: no filter,
    so nothing was kept). The name is written as an SQL string literal, its quotes doubled, so the
    statements keep their positional parameters."""
    if filter_name is None:
        return "0"
    name = "'" + clean_text(filter_name).replace("'", "''") + "'"
    return (
        f'EXISTS (SELECT 1 FROM "verdicts" v WHERE v."post_id" = {alias}."id" '  # noqa: S608 (quoted above)
        f'AND v."filter" = {name} AND v."kept" = 1)'
    )


def _window(alias: str, since: str | None, until: str | None = None) -> tuple[str, list[Any]]:
    parts, params = [], []
    if since:
        parts.append(f'{alias}."created_at" >= ?')
        params.append(since)
    if until:
        parts.append(f'{alias}."created_at" < ?')
        params.append(until)
    return (" AND ".join(parts) or "1"), params


def _rows(conn: sqlite3.Connection, sql: str, params: Iterable[Any]) -> list[tuple]:
    with db_errors(conn):
        return conn.execute(sql, list(params)).fetchall()


def rough_link_sql(expr: str) -> str:
    """A link compared loosely, in SQL: lower-case, without scheme, `www.`, query or trailing slash
    (two copies of one article meet; a rare false match costs little, and the few links that differ
    only by a fragment or an explicit default port are missed)."""
    cut = f"lower(substr({expr}, 1, instr({expr} || '?', '?') - 1))"
    for old in ("https://", "http://", "www."):
        cut = f"replace({cut}, '{old}', '')"
    return f"rtrim({cut}, '/')"


_WIDTH = 11  # every part of the signals statement is padded to this many columns


def _part(kind: str, columns: str, rest: str) -> str:
    count = columns.count("§") + 1
    values = columns.replace("§", ",")
    padding = ", NULL" * (_WIDTH - 1 - count)
    return f"SELECT '{kind}', {values}{padding} {rest}"


def network_signals(
    conn: sqlite3.Connection, since: str | None, trusted: Iterable[str], filter_name: str | None = None
) -> dict[str, list[tuple]]:
    """Everything `voices suggest` reads, in one statement that reads the window's posts once:

    - act: (network, author, name, author_id, posts, kept posts, newest post, tags as JSON arrays
      joined by commas) per author;
    - tag: (tag, kept posts carrying it);
    - repost: (network, author, trusted booster, reposts);
    - mention: (trusted voice, network, mentioned account, mentions);
    - pointer: (trusted voice, 'quote'|'reply', target uri, target's network, target's author or NULL);
    - vlink: (trusted voice, loose link key) for links trusted voices shared;
    - link: (network, author, loose link key) for links in everyone else's kept posts that a trusted
      voice shared too (a link in a dropped post, spam mostly, endorses nobody).
    """
    where, params = _window("p", since)
    rough = rough_link_sql('l."value"')
    sql = (
        'WITH w AS MATERIALIZED (SELECT p."network" AS network, lower(p."author") AS a, '  # noqa: S608
        f'p."author_name" AS n, p."author_id" AS i, ({kept_sql("p", filter_name)}) AS kept, p."created_at" AS c, p."tags" AS tags, '
        'p."links" AS links, p."reposted_by" AS r, p."mentions" AS m, p."quote_of" AS q, p."reply_to" AS y '
        f'FROM "posts" p WHERE p."author" != \'\' AND {where}), '
        f"v AS {_VOICES}, "
        # the few rows the endorsement parts read: reposted ones and the trusted voices' own
        "s AS MATERIALIZED (SELECT * FROM w WHERE w.r NOT IN ('[]', '') OR w.a IN v), "
        f"vk AS (SELECT DISTINCT s.a AS a, {rough} AS k FROM s, json_each(s.links) l "
        "WHERE s.links NOT IN ('[]', '') AND s.a IN v) "
        + " UNION ALL ".join(
            [
                _part(
                    "act",
                    "network§a§max(n)§max(i)§count(*)§sum(kept = 1)§max(c)"
                    "§group_concat(CASE WHEN tags NOT IN ('[]', '') THEN tags END, ',')",
                    "FROM w GROUP BY network, a",
                ),
                _part(
                    "tag",
                    't."value"§count(*)',
                    "FROM w, json_each(w.tags) t WHERE w.kept = 1 AND w.tags NOT IN ('[]', '') GROUP BY 2",
                ),
                _part(
                    "repost",
                    's.network§s.a§lower(x."value")§count(*)',
                    "FROM s, json_each(s.r) x WHERE s.r NOT IN ('[]', '') AND lower(x.\"value\") IN v "
                    "GROUP BY 2, 3, 4",
                ),
                _part(
                    "mention",
                    's.a§s.network§lower(x."value")§count(*)',
                    "FROM s, json_each(s.m) x WHERE s.m NOT IN ('[]', '') AND s.a IN v GROUP BY 2, 3, 4",
                ),
                _part(
                    "pointer",
                    's.a§\'quote\'§s.q§t."network"§lower(t."author")',
                    'FROM s LEFT JOIN "posts" t ON t."uri" = s.q WHERE s.q != \'\' AND s.a IN v',
                ),
                _part(
                    "pointer",
                    's.a§\'reply\'§s.y§t."network"§lower(t."author")',
                    'FROM s LEFT JOIN "posts" t ON t."uri" = s.y WHERE s.y != \'\' AND s.a IN v',
                ),
                _part("vlink", "a§k", "FROM vk"),
                _part(
                    "link",
                    f"w.network§w.a§{rough}",
                    "FROM w, json_each(w.links) l WHERE w.kept = 1 AND w.links NOT IN ('[]', '') AND w.a NOT IN v "  # noqa: S608
                    f"AND {rough} IN (SELECT k FROM vk) GROUP BY 2, 3, 4",
                ),
            ]
        )
    )
    found: dict[str, list[tuple]] = {
        kind: [] for kind in ("act", "tag", "repost", "mention", "pointer", "vlink", "link")
    }
    for row in _rows(conn, sql, [*params, json.dumps(sorted(trusted))]):
        found[row[0]].append(row[1:])
    return found


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
    """(network, author, kept posts created in [since, until), newest post ever) per author: the
    variety figures and the quiet voices from one read of the archive."""
    sql = (
        'SELECT p."network", lower(p."author") AS a, '  # noqa: S608
        f'sum({kept_sql("p", filter_name)} AND p."created_at" >= ? AND p."created_at" < ?), max(p."created_at") '
        'FROM "posts" p WHERE p."author" != \'\' GROUP BY p."network", a'
    )
    return _rows(conn, sql, [since, until])


def source_yield(conn: sqlite3.Connection, since: str, filter_name: str | None = None) -> list[tuple]:
    """(source, posts found since, kept posts found since, when it last found a kept post, ever) per
    source; "found" is when the source first saw the post. Reads the findings and the kept posts'
    index, never the posts themselves."""
    kept_ids = f'SELECT p."id" FROM "posts" p WHERE {kept_sql("p", filter_name)}'  # noqa: S608
    sql = (
        f'WITH k AS MATERIALIZED ({kept_ids}) SELECT s."source", sum(s."first_seen" >= ?), '  # noqa: S608
        'sum(s."first_seen" >= ? AND s."post_id" IN k), '
        'max(CASE WHEN s."post_id" IN k THEN s."first_seen" END) '
        'FROM "post_sources" s GROUP BY s."source"'
    )
    return _rows(conn, sql, [since, since])


def handles_of_dids(conn: sqlite3.Connection, dids: Iterable[str]) -> list[tuple]:
    """(did, handle) for the Bluesky DIDs the archive has posts from."""
    sql = (
        'SELECT DISTINCT lower(p."author_id"), lower(p."author") FROM "posts" p '  # noqa: S608
        f'WHERE p."network" = \'bluesky\' AND lower(p."author_id") IN {_VOICES}'
    )
    return _rows(conn, sql, [json.dumps(sorted(dids))])
