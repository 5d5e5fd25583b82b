"""The archive's tables, created and changed by numbered migrations recorded in `_migrations`."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from plnfilter.store.transaction import write_transaction
from plnfilter.times import now_utc, to_iso

if TYPE_CHECKING:
    import sqlite_utils

FTS_COLUMNS = ("text", "author", "tags", "spoiler")

# Column name -> SQLite type, in table order. `id` is the rowid alias: a table whose rowid is not an
# INTEGER PRIMARY KEY may renumber rows on VACUUM, which would silently break the FTS index.
POST_SCHEMA: dict[str, type] = {
    "id": int,
    "uri": str,
    "network": str,
    "url": str,
    "author": str,
    "author_name": str,
    "author_id": str,
    "author_bot": int,
    "author_followers": int,
    "created_at": str,
    "text": str,
    "html": str,
    "lang": str,
    "tags": str,
    "links": str,
    "mentions": str,
    "reply_to": str,
    "quote_of": str,
    "reposted_by": str,
    "has_media": int,
    "media_alt": str,
    "sensitive": int,
    "spoiler": str,
    "likes": int,
    "reposts": int,
    "replies": int,
    "quotes": int,
    "card_url": str,
    "card_title": str,
    "source": str,
    "kept": int,
    "score": float,
    "matched": str,
    "first_seen": str,
    "last_seen": str,
    "raw": str,
}


def m001_posts(db: sqlite_utils.Database) -> None:
    """Posts keyed by uri, with the verdict and score they were given."""
    db["posts"].create(POST_SCHEMA, pk="id", not_null={"uri", "network"})
    db["posts"].create_index(["uri"], unique=True, index_name="posts_uri")
    db["posts"].create_index(["created_at"], index_name="posts_created_at")
    db["posts"].create_index(["kept", "score"], index_name="posts_kept_score")
    db["posts"].create_index(["author"], index_name="posts_author")


def m002_sources_and_runs(db: sqlite_utils.Database) -> None:
    """Which source found which post, each source's cursor, and the history of runs."""
    db["post_sources"].create({"uri": str, "source": str, "first_seen": str}, not_null={"uri", "source"})
    db["post_sources"].create_index(["uri", "source"], unique=True, index_name="post_sources_uri_source")
    db["post_sources"].create_index(["source"], index_name="post_sources_source")
    db["sources"].create(
        {"name": str, "network": str, "spec": str, "cursor": str, "last_run": str, "last_error": str},
        pk="name",
    )
    db["runs"].create(
        {
            "id": int,
            "started": str,
            "finished": str,
            "filter_file": str,
            "fetched": int,
            "new": int,
            "kept": int,
            "errors": str,
            "status": str,
            "per_source": str,
        },
        pk="id",
    )


def m003_posts_fts(db: sqlite_utils.Database) -> None:
    """Full-text search Datasette finds by itself; the update trigger only fires on indexed columns."""
    db["posts"].enable_fts(list(FTS_COLUMNS), create_triggers=True)
    # sqlite-utils' trigger re-indexes on every UPDATE; re-scoring the archive (`plnfilter apply`)
    # touches only kept/score/matched, so narrow it to the indexed columns.
    cols = ", ".join(f'"{c}"' for c in FTS_COLUMNS)
    old = ", ".join(f'old."{c}"' for c in FTS_COLUMNS)
    new = ", ".join(f'new."{c}"' for c in FTS_COLUMNS)
    db.execute('DROP TRIGGER IF EXISTS "posts_au"')
    delete = f'INSERT INTO "posts_fts" ("posts_fts", rowid, {cols}) VALUES(\'delete\', old.rowid, {old});'
    insert = f'INSERT INTO "posts_fts" (rowid, {cols}) VALUES (new.rowid, {new});'  # noqa: S608
    db.execute(f'CREATE TRIGGER "posts_au" AFTER UPDATE OF {cols} ON "posts" BEGIN {delete} {insert} END')


def m004_cheaper_post_indexes(db: sqlite_utils.Database) -> None:
    """Indexes the queries use, and no more: each one is rewritten on every page a run saves.

    posts_author served nothing (author filters compare lower(author)); the score order only ever
    reads kept posts, so that index holds only them; re-saving a post whose indexed text did not
    change leaves its FTS entry alone.
    """
    db.execute('DROP INDEX IF EXISTS "posts_author"')
    db.execute('DROP INDEX IF EXISTS "posts_kept_score"')
    db.execute('CREATE INDEX "posts_kept_by_score" ON "posts" ("score") WHERE "kept" = 1')
    cols = ", ".join(f'"{c}"' for c in FTS_COLUMNS)
    old = ", ".join(f'old."{c}"' for c in FTS_COLUMNS)
    new = ", ".join(f'new."{c}"' for c in FTS_COLUMNS)
    changed = " OR ".join(f'old."{c}" IS NOT new."{c}"' for c in FTS_COLUMNS)
    db.execute('DROP TRIGGER IF EXISTS "posts_au"')
    delete = f'INSERT INTO "posts_fts" ("posts_fts", rowid, {cols}) VALUES(\'delete\', old.rowid, {old});'
    insert = f'INSERT INTO "posts_fts" (rowid, {cols}) VALUES (new.rowid, {new});'  # noqa: S608
    db.execute(
        f'CREATE TRIGGER "posts_au" AFTER UPDATE OF {cols} ON "posts" WHEN {changed} BEGIN {delete} {insert} END'
    )


def m005_post_sources_by_post_id(db: sqlite_utils.Database) -> None:
    """Findings indexed by (source, post id) only: a new post's id is the largest yet, so its findings
    append to their source's end of the index instead of landing all over one keyed by uri.

    That one index also counts a source's posts (`plnfilter sources`) and drives refresh by source.
    """
    db.execute('ALTER TABLE "post_sources" ADD COLUMN "post_id" INTEGER')
    db.execute(
        'UPDATE "post_sources" SET "post_id" = (SELECT "id" FROM "posts" WHERE "uri" = "post_sources"."uri")'
    )
    db.execute('DELETE FROM "post_sources" WHERE "post_id" IS NULL')  # a finding of no post finds nothing
    db.execute('DROP INDEX IF EXISTS "post_sources_uri_source"')
    db.execute('DROP INDEX IF EXISTS "post_sources_source"')
    db.execute('CREATE UNIQUE INDEX "post_sources_source_post" ON "post_sources" ("source", "post_id")')


def m006_server_quirks(db: sqlite_utils.Database) -> None:
    """What a server's API lacks (store/servers.py), with when it was last seen lacking it."""
    db.execute(
        'CREATE TABLE "server_quirks" ("server" TEXT NOT NULL, "quirk" TEXT NOT NULL, '
        '"noted_at" TEXT NOT NULL, PRIMARY KEY ("server", "quirk"))'
    )


MIGRATIONS: list[Callable[[sqlite_utils.Database], None]] = [
    m001_posts,
    m002_sources_and_runs,
    m003_posts_fts,
    m004_cheaper_post_indexes,
    m005_post_sources_by_post_id,
    m006_server_quirks,
]


def migrate(db: sqlite_utils.Database) -> list[str]:
    """Apply the migrations not yet recorded, each in its own transaction; return their names."""
    db.execute('CREATE TABLE IF NOT EXISTS "_migrations" (name TEXT PRIMARY KEY, applied_at TEXT)')
    done = {row[0] for row in db.execute('SELECT name FROM "_migrations"')}
    applied = []
    for migration in MIGRATIONS:
        name = migration.__name__
        if name in done:
            continue
        with write_transaction(db):
            migration(db)
            db.execute(
                'INSERT INTO "_migrations" (name, applied_at) VALUES (?, ?)', [name, to_iso(now_utc())]
            )
        applied.append(name)
    return applied
