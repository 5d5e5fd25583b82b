"""The archive's tables, created and changed by numbered migrations recorded in `_migrations`.

Every migration is a frozen snapshot: the literal SQL it shipped with, never built from the live
column lists in `store/columns.py`, so an archive made by any release and a fresh one pass through
the same statements and end with the same schema.

Adding a migration: append a function `mNNN_what_it_does(db)` below and to `MIGRATIONS`, writing
its SQL out in full (`ALTER TABLE "posts" ADD COLUMN ...`, `CREATE INDEX ...`); change
`store/columns.py` to match; add `tests/fixtures/archives/schema-NNN.db` made by that code (see the
README there). Never edit, rename or reorder a migration that has shipped: archives have recorded it
by name and will not run it again.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Callable
from typing import TYPE_CHECKING

from plnfilter.store.transaction import write_transaction
from plnfilter.times import now_utc, to_iso

if TYPE_CHECKING:
    import sqlite_utils

# The text of each CREATE is what SQLite keeps in sqlite_master, written as sqlite-utils wrote it
# when these migrations shipped, so fresh archives match the ones made then.
_M001_POSTS = """CREATE TABLE "posts" (
   "id" INTEGER PRIMARY KEY,
   "uri" TEXT NOT NULL,
   "network" TEXT NOT NULL,
   "url" TEXT,
   "author" TEXT,
   "author_name" TEXT,
   "author_id" TEXT,
   "author_bot" INTEGER,
   "author_followers" INTEGER,
   "created_at" TEXT,
   "text" TEXT,
   "html" TEXT,
   "lang" TEXT,
   "tags" TEXT,
   "links" TEXT,
   "mentions" TEXT,
   "reply_to" TEXT,
   "quote_of" TEXT,
   "reposted_by" TEXT,
   "has_media" INTEGER,
   "media_alt" TEXT,
   "sensitive" INTEGER,
   "spoiler" TEXT,
   "likes" INTEGER,
   "reposts" INTEGER,
   "replies" INTEGER,
   "quotes" INTEGER,
   "card_url" TEXT,
   "card_title" TEXT,
   "source" TEXT,
   "kept" INTEGER,
   "score" REAL,
   "matched" TEXT,
   "first_seen" TEXT,
   "last_seen" TEXT,
   "raw" TEXT
)"""

_M002_POST_SOURCES = """CREATE TABLE "post_sources" (
   "uri" TEXT NOT NULL,
   "source" TEXT NOT NULL,
   "first_seen" TEXT
)"""

_M002_SOURCES = """CREATE TABLE "sources" (
   "name" TEXT PRIMARY KEY,
   "network" TEXT,
   "spec" TEXT,
   "cursor" TEXT,
   "last_run" TEXT,
   "last_error" TEXT
)"""

_M002_RUNS = """CREATE TABLE "runs" (
   "id" INTEGER PRIMARY KEY,
   "started" TEXT,
   "finished" TEXT,
   "filter_file" TEXT,
   "fetched" INTEGER,
   "new" INTEGER,
   "kept" INTEGER,
   "errors" TEXT,
   "status" TEXT,
   "per_source" TEXT
)"""

_M003_POSTS_FTS = """CREATE VIRTUAL TABLE "posts_fts" USING FTS5 (
    "text", "author", "tags", "spoiler",
    content="posts"
)"""

_M003_POSTS_AI = """CREATE TRIGGER "posts_ai" AFTER INSERT ON "posts" BEGIN
  INSERT INTO "posts_fts" (rowid, "text", "author", "tags", "spoiler") VALUES (new.rowid, new."text", new."author", new."tags", new."spoiler");
END"""

_M003_POSTS_AD = """CREATE TRIGGER "posts_ad" AFTER DELETE ON "posts" BEGIN
  INSERT INTO "posts_fts" ("posts_fts", rowid, "text", "author", "tags", "spoiler") VALUES('delete', old.rowid, old."text", old."author", old."tags", old."spoiler");
END"""

# The update trigger's two statements: take the old text out of the index, put the new text in.
_FTS_DELETE_OLD = (
    'INSERT INTO "posts_fts" ("posts_fts", rowid, "text", "author", "tags", "spoiler") '
    'VALUES(\'delete\', old.rowid, old."text", old."author", old."tags", old."spoiler");'
)
_FTS_INSERT_NEW = (
    'INSERT INTO "posts_fts" (rowid, "text", "author", "tags", "spoiler") '
    'VALUES (new.rowid, new."text", new."author", new."tags", new."spoiler");'
)


# m007: both full-text tables index the script runs too (store/grams.py), fold diacritics fully and
# keep combining marks (Thai vowels) inside words; posts_search stems English (porter) as well.
_M007_POSTS_FTS = """CREATE VIRTUAL TABLE "posts_fts" USING FTS5 (
    "text", "author", "tags", "spoiler", "search_grams",
    content="posts", tokenize="unicode61 remove_diacritics 2 categories 'L* N* Co M*'"
)"""
# content='posts' in single quotes: Datasette and sqlite-utils look for content="posts" and so keep
# finding posts_fts alone.
_M007_POSTS_SEARCH = """CREATE VIRTUAL TABLE "posts_search" USING FTS5 (
    "text", "author", "tags", "spoiler", "search_grams",
    content='posts', tokenize="porter unicode61 remove_diacritics 2 categories 'L* N* Co M*'"
)"""
_M007_DELETE_OLD = (
    'INSERT INTO "posts_fts" ("posts_fts", rowid, "text", "author", "tags", "spoiler", "search_grams") '
    'VALUES(\'delete\', old.rowid, old."text", old."author", old."tags", old."spoiler", old."search_grams"); '
    'INSERT INTO "posts_search" ("posts_search", rowid, "text", "author", "tags", "spoiler", "search_grams") '
    'VALUES(\'delete\', old.rowid, old."text", old."author", old."tags", old."spoiler", old."search_grams"); '
)
_M007_INSERT_NEW = (
    'INSERT INTO "posts_fts" (rowid, "text", "author", "tags", "spoiler", "search_grams") '
    'VALUES (new.rowid, new."text", new."author", new."tags", new."spoiler", new."search_grams"); '
    'INSERT INTO "posts_search" (rowid, "text", "author", "tags", "spoiler", "search_grams") '
    'VALUES (new.rowid, new."text", new."author", new."tags", new."spoiler", new."search_grams"); '
)
_M007_RUN = (
    "[\u0e00-\u0eff\u1000-\u109f\u1780-\u17ff\u3005-\u3007\u3040-\u30ff\u31f0-\u31ff"
    "\u3400-\u4dbf\u4e00-\u9fff\uac00-\ud7af\uf900-\ufaff\uff66-\uff9f\U00020000-\U0002fa1f]+"
)


def _m007_search_grams(*texts: str | None) -> str | None:
    """Frozen copy of store.grams.search_grams as m007 shipped it: each run's bigrams, then its last char."""
    tokens: list[str] = []
    for text in texts:
        if not text or text.isascii():
            continue
        for run in re.findall(_M007_RUN, text):
            tokens += [run[i : i + 2] for i in range(len(run) - 1)] + [run[-1]]
    return " ".join(tokens) if tokens else None


def m001_posts(db: sqlite_utils.Database) -> None:
    """Posts keyed by uri, with the verdict and score they were given."""
    db.execute(_M001_POSTS)
    db.execute('CREATE UNIQUE INDEX "posts_uri"\n    ON "posts" ("uri")')
    db.execute('CREATE INDEX "posts_created_at"\n    ON "posts" ("created_at")')
    db.execute('CREATE INDEX "posts_kept_score"\n    ON "posts" ("kept", "score")')
    db.execute('CREATE INDEX "posts_author"\n    ON "posts" ("author")')


def m002_sources_and_runs(db: sqlite_utils.Database) -> None:
    """Which source found which post, each source's cursor, and the history of runs."""
    db.execute(_M002_POST_SOURCES)
    db.execute('CREATE UNIQUE INDEX "post_sources_uri_source"\n    ON "post_sources" ("uri", "source")')
    db.execute('CREATE INDEX "post_sources_source"\n    ON "post_sources" ("source")')
    db.execute(_M002_SOURCES)
    db.execute(_M002_RUNS)


def m003_posts_fts(db: sqlite_utils.Database) -> None:
    """Full-text search Datasette finds by itself; the update trigger only fires on indexed columns.

    Re-scoring the archive (`plnfilter apply`) touches only kept/score/matched, so the update trigger
    is narrowed to the indexed columns (sqlite-utils' own re-indexed on every UPDATE).
    """
    db.execute(_M003_POSTS_FTS)
    db.execute(
        'INSERT INTO "posts_fts" (rowid, "text", "author", "tags", "spoiler")\n'
        '    SELECT rowid, "text", "author", "tags", "spoiler" FROM "posts";'
    )
    db.execute(_M003_POSTS_AI)
    db.execute(_M003_POSTS_AD)
    db.execute('DROP TRIGGER IF EXISTS "posts_au"')
    db.execute(
        'CREATE TRIGGER "posts_au" AFTER UPDATE OF "text", "author", "tags", "spoiler" ON "posts" '
        f"BEGIN {_FTS_DELETE_OLD} {_FTS_INSERT_NEW} END"
    )


def m004_cheaper_post_indexes(db: sqlite_utils.Database) -> None:
    """Indexes the queries use, and no more: each one is rewritten on every page a run saves.

    posts_author served nothing (author filters compare lower(author)); the score order only ever
    reads kept posts, so that index holds only them; re-saving a post whose indexed text did not
    change leaves its FTS entry alone.
    """
    db.execute('DROP INDEX IF EXISTS "posts_author"')
    db.execute('DROP INDEX IF EXISTS "posts_kept_score"')
    db.execute('CREATE INDEX "posts_kept_by_score" ON "posts" ("score") WHERE "kept" = 1')
    db.execute('DROP TRIGGER IF EXISTS "posts_au"')
    db.execute(
        'CREATE TRIGGER "posts_au" AFTER UPDATE OF "text", "author", "tags", "spoiler" ON "posts" '
        'WHEN old."text" IS NOT new."text" OR old."author" IS NOT new."author" '
        'OR old."tags" IS NOT new."tags" OR old."spoiler" IS NOT new."spoiler" '
        f"BEGIN {_FTS_DELETE_OLD} {_FTS_INSERT_NEW} END"
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


def m006_settings(db: sqlite_utils.Database) -> None:
    """What an archive keeps about itself, by key; first its own id, made once, from which the Atom
    feeds written from it take ids that stay the same from one export to the next."""
    db.execute('CREATE TABLE IF NOT EXISTS "settings" ("key" TEXT PRIMARY KEY, "value" TEXT NOT NULL)')
    db.execute(
        'INSERT OR IGNORE INTO "settings" ("key", "value") VALUES (\'archive_id\', ?)', [str(uuid.uuid4())]
    )


def m007_search_index(db: sqlite_utils.Database) -> None:
    """Catalogue search: a stemmed index (posts_search) beside the exact one (posts_fts), both with the
    words of scripts written without spaces as bigrams (posts.search_grams), built from the rows there.

    The triggers keep both in step; an update that leaves the indexed columns as they were re-indexes
    nothing (as m004's did).
    """
    for trigger in ("posts_ai", "posts_ad", "posts_au"):
        db.execute(f'DROP TRIGGER IF EXISTS "{trigger}"')
    db.execute('ALTER TABLE "posts" ADD COLUMN "search_grams" TEXT')
    conn = db.conn
    conn.create_function("m007_search_grams", 3, _m007_search_grams, deterministic=True)
    db.execute(
        'UPDATE "posts" SET "search_grams" = m007_search_grams("text", "spoiler", "tags") '
        'WHERE m007_search_grams("text", "spoiler", "tags") IS NOT NULL'
    )
    db.execute('DROP TABLE IF EXISTS "posts_fts"')
    db.execute(_M007_POSTS_FTS)
    db.execute(_M007_POSTS_SEARCH)
    db.execute('INSERT INTO "posts_fts" ("posts_fts") VALUES (\'rebuild\')')
    db.execute('INSERT INTO "posts_search" ("posts_search") VALUES (\'rebuild\')')
    db.execute(f'CREATE TRIGGER "posts_ai" AFTER INSERT ON "posts" BEGIN {_M007_INSERT_NEW}END')
    db.execute(f'CREATE TRIGGER "posts_ad" AFTER DELETE ON "posts" BEGIN {_M007_DELETE_OLD}END')
    db.execute(
        'CREATE TRIGGER "posts_au" AFTER UPDATE OF "text", "author", "tags", "spoiler", "search_grams" '
        'ON "posts" WHEN old."text" IS NOT new."text" OR old."author" IS NOT new."author" '
        'OR old."tags" IS NOT new."tags" OR old."spoiler" IS NOT new."spoiler" '
        'OR old."search_grams" IS NOT new."search_grams" '
        f"BEGIN {_M007_DELETE_OLD}{_M007_INSERT_NEW}END"
    )


def m008_server_quirks(db: sqlite_utils.Database) -> None:
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
    m006_settings,
    m007_search_index,
    m008_server_quirks,
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
