"""The aggregates `plnfilter voices` reads: who posted, who reposted, quoted, replied to and mentioned
whom, who shared which links and tags, what each source found and kept.

Every query here returns small grouped rows (one per author, pair or source), never the posts, so
the commands stay fast on a large archive; the judging of those rows lives in `plnfilter/voices.py`.
Authors are compared lower-cased. Kept-ness is read through `kept_sql` alone, so the per-filter
verdicts of a later schema change one function.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterable
from typing import Any

from plnfilter.store.archive import db_errors

_VOICES = "(SELECT value FROM json_each(?))"  # a JSON list of lower-cased authors, as one parameter


def kept_sql(alias: str = "p", filter_name: str | None = None) -> str:
    """The SQL truth value "the post aliased `alias` was kept". Today one verdict per post lives in
    `posts.kept`; when verdicts become per filter, this is the one place that joins them."""
    del filter_name  # one verdict per post today
    return f'{alias}."kept" = 1'


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


def author_activity(conn: sqlite3.Connection, since: str | None) -> list[tuple]:
    """(network, author, name, author_id, posts, kept posts, newest post) per author in the window."""
    where, params = _window("p", since)
    sql = (
        'SELECT p."network", lower(p."author") AS a, max(p."author_name"), max(p."author_id"), count(*), '  # noqa: S608
        f'sum({kept_sql("p")}), max(p."created_at") FROM "posts" p '
        f'WHERE p."author" != \'\' AND {where} GROUP BY p."network", a'
    )
    return _rows(conn, sql, params)


def repost_counts(conn: sqlite3.Connection, since: str | None, boosters: Iterable[str]) -> list[tuple]:
    """(network, author, booster, reposts) for posts reposted by one of `boosters`."""
    where, params = _window("p", since)
    sql = (
        'SELECT p."network", lower(p."author"), lower(r."value"), count(*) '  # noqa: S608
        'FROM "posts" p, json_each(p."reposted_by") r '
        f"WHERE p.\"reposted_by\" NOT IN ('[]', '') AND {where} AND lower(r.\"value\") IN {_VOICES} "
        "GROUP BY 1, 2, 3"
    )
    return _rows(conn, sql, [*params, json.dumps(sorted(boosters))])


def pointers_from(conn: sqlite3.Connection, since: str | None, voices: Iterable[str]) -> list[tuple]:
    """(voice, 'quote'|'reply', target uri, target's network, target's author or NULL) for each quote
    and reply posted by one of `voices`; the target's author is known when the archive holds it."""
    where, params = _window("p", since)
    parts = []
    for kind, column in (("quote", "quote_of"), ("reply", "reply_to")):
        parts.append(
            f'SELECT lower(p."author"), \'{kind}\', p."{column}", q."network", lower(q."author") '  # noqa: S608
            f'FROM "posts" p LEFT JOIN "posts" q ON q."uri" = p."{column}" '
            f'WHERE p."{column}" != \'\' AND {where} AND lower(p."author") IN {_VOICES}'
        )
    voices_json = json.dumps(sorted(voices))
    return _rows(conn, " UNION ALL ".join(parts), [*params, voices_json, *params, voices_json])


def mention_counts(conn: sqlite3.Connection, since: str | None, voices: Iterable[str]) -> list[tuple]:
    """(voice, network, mentioned account, mentions) for posts by one of `voices`."""
    where, params = _window("p", since)
    sql = (
        'SELECT lower(p."author"), p."network", lower(m."value"), count(*) '  # noqa: S608
        'FROM "posts" p, json_each(p."mentions") m '
        f"WHERE p.\"mentions\" NOT IN ('[]', '') AND {where} AND lower(p.\"author\") IN {_VOICES} "
        "GROUP BY 1, 2, 3"
    )
    return _rows(conn, sql, [*params, json.dumps(sorted(voices))])


def shared_links(conn: sqlite3.Connection, since: str | None) -> list[tuple]:
    """(network, author, link) once per author and link as written, in the window."""
    where, params = _window("p", since)
    sql = (
        'SELECT DISTINCT p."network", lower(p."author"), l."value" FROM "posts" p, json_each(p."links") l '  # noqa: S608
        f"WHERE p.\"links\" NOT IN ('[]', '') AND p.\"author\" != '' AND {where}"
    )
    return _rows(conn, sql, params)


def kept_tag_counts(conn: sqlite3.Connection, since: str | None) -> list[tuple]:
    """(tag, kept posts carrying it) in the window."""
    where, params = _window("p", since)
    sql = (
        'SELECT t."value", count(*) FROM "posts" p, json_each(p."tags") t '  # noqa: S608
        f"WHERE p.\"tags\" NOT IN ('[]', '') AND {kept_sql('p')} AND {where} GROUP BY 1"
    )
    return _rows(conn, sql, params)


def author_tag_counts(conn: sqlite3.Connection, since: str | None, authors: Iterable[str]) -> list[tuple]:
    """(author, tag, posts carrying it) for the named authors, in the window."""
    where, params = _window("p", since)
    sql = (
        'SELECT lower(p."author"), t."value", count(*) FROM "posts" p, json_each(p."tags") t '  # noqa: S608
        f"WHERE p.\"tags\" NOT IN ('[]', '') AND {where} AND lower(p.\"author\") IN {_VOICES} "
        "GROUP BY 1, 2"
    )
    return _rows(conn, sql, [*params, json.dumps(sorted(authors))])


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


def last_posts(conn: sqlite3.Connection, authors: Iterable[str]) -> list[tuple]:
    """(author, newest post, newest kept post) for the named authors, over the whole archive."""
    sql = (
        f'SELECT lower(p."author") AS a, max(p."created_at"), '  # noqa: S608
        f'max(CASE WHEN {kept_sql("p")} THEN p."created_at" END) FROM "posts" p '
        f'WHERE lower(p."author") IN {_VOICES} GROUP BY a'
    )
    return _rows(conn, sql, [json.dumps(sorted(authors))])


def kept_by_author(conn: sqlite3.Connection, since: str | None, until: str | None = None) -> list[tuple]:
    """(network, author, kept posts) in the window."""
    where, params = _window("p", since, until)
    sql = (
        'SELECT p."network", lower(p."author") AS a, count(*) FROM "posts" p '  # noqa: S608
        f'WHERE {kept_sql("p")} AND {where} GROUP BY p."network", a'
    )
    return _rows(conn, sql, params)


def source_yield(conn: sqlite3.Connection, since: str) -> list[tuple]:
    """(source, posts found since, kept posts found since, when it last found a kept post, ever) per
    source; "found" is when the source first saw the post."""
    sql = (
        's."source", sum(s."first_seen" >= ?), '
        f'sum(s."first_seen" >= ? AND {kept_sql("p")}), '
        f'max(CASE WHEN {kept_sql("p")} THEN s."first_seen" END) '
    )
    sql = f'SELECT {sql} FROM "post_sources" s JOIN "posts" p ON p."id" = s."post_id" GROUP BY s."source"'  # noqa: S608
    return _rows(conn, sql, [since, since])


def handles_of_dids(conn: sqlite3.Connection, dids: Iterable[str]) -> list[tuple]:
    """(did, handle) for the Bluesky DIDs the archive has posts from."""
    sql = (
        'SELECT DISTINCT lower(p."author_id"), lower(p."author") FROM "posts" p '  # noqa: S608
        f'WHERE p."network" = \'bluesky\' AND lower(p."author_id") IN {_VOICES}'
    )
    return _rows(conn, sql, [json.dumps(sorted(dids))])


def kept_count(conn: sqlite3.Connection, since: str | None) -> int:
    """How many posts in the window were kept."""
    where, params = _window("p", since)
    return _rows(conn, f'SELECT count(*) FROM "posts" p WHERE {kept_sql("p")} AND {where}', params)[0][0]  # noqa: S608
