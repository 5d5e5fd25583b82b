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
import zlib
from collections.abc import Callable
from pathlib import Path
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


_M009_FILTERS = """CREATE TABLE "filters" (
   "name" TEXT PRIMARY KEY,
   "file" TEXT NOT NULL,
   "rules_hash" TEXT,
   "last_run" TEXT
)"""

_M009_VERDICTS = """CREATE TABLE "verdicts" (
   "filter" TEXT NOT NULL,
   "post_id" INTEGER NOT NULL,
   "kept" INTEGER NOT NULL,
   "score" REAL,
   "matched" TEXT,
   "dropped_by" TEXT,
   "judged_at" TEXT,
   PRIMARY KEY ("filter", "post_id")
) WITHOUT ROWID"""

_M009_KEPT_POSTS = """CREATE VIEW "kept_posts" AS
SELECT v."filter", v."score", v."matched", p."id", p."uri", p."network", p."created_at", p."author",
       p."author_name", p."text", p."url", p."tags", p."links", p."lang"
FROM "verdicts" v JOIN "posts" p ON p."id" = v."post_id"
WHERE v."kept" = 1"""

_M009_DROPPED_POSTS = """CREATE VIEW "dropped_posts" AS
SELECT v."filter", v."dropped_by", v."matched", p."id", p."uri", p."network", p."created_at", p."author",
       p."text", p."url"
FROM "verdicts" v JOIN "posts" p ON p."id" = v."post_id"
WHERE v."kept" = 0"""

_M009_LINK_SHARERS = """CREATE VIEW "link_sharers" AS
SELECT l."value" AS "link", p."author", p."author_name", p."network", p."created_at", p."uri", p."id"
FROM "posts" p, json_each(CASE WHEN json_valid(p."links") THEN p."links" ELSE '[]' END) l"""


_M009_POST_RAW = """CREATE TABLE "post_raw" (
   "post_id" INTEGER PRIMARY KEY,
   "raw" BLOB NOT NULL
)"""

_M009_VISIBILITY = """UPDATE "posts" SET
  "visibility" = CASE WHEN json_valid("raw") THEN
    CASE lower(COALESCE(json_extract("raw", '$.reblog.visibility'), json_extract("raw", '$.visibility'), 'public'))
      WHEN 'public' THEN 'public' WHEN 'unlisted' THEN 'unlisted' WHEN 'private' THEN 'followers'
      WHEN 'direct' THEN 'direct' ELSE 'followers' END
    ELSE 'public' END,
  "author_opt_out" = CASE WHEN json_valid("raw") AND (
      json_extract("raw", '$.reblog.account.noindex') = 1
      OR (json_extract("raw", '$.reblog') IS NULL AND json_extract("raw", '$.account.noindex') = 1)
      OR EXISTS (SELECT 1 FROM json_each("raw", '$.post.author.labels') l
                 WHERE json_extract(l."value", '$.val') = '!no-unauthenticated'
                   AND COALESCE(json_extract(l."value", '$.neg'), 0) = 0)
      OR EXISTS (SELECT 1 FROM json_each("raw", '$.author.labels') l
                 WHERE json_extract(l."value", '$.val') = '!no-unauthenticated'
                   AND COALESCE(json_extract(l."value", '$.neg'), 0) = 0))
    THEN 1 ELSE 0 END"""


def _m009_filter_name(path: str) -> str:
    """The `name:` a filter file gives itself, if the file still reads; else its file name without
    the extension (the name a filter file without `name:` has), else 'unnamed'."""
    try:
        import yaml

        data = yaml.safe_load(Path(path).read_text(encoding="utf-8"))
        name = data.get("name") if isinstance(data, dict) else None
        if isinstance(name, str) and name.strip():
            return name.strip()
    except (OSError, ValueError, ImportError, yaml.YAMLError):
        pass
    return Path(path).stem or "unnamed"


def m009_verdicts_per_filter(db: sqlite_utils.Database) -> None:
    """Each filter's verdict on each post in its own table, keyed by (filter name, post id), with the
    exclude rule that dropped it; the filters an archive knows; the posts table keeps only facts.

    An archive's one verdict per post becomes the verdict of the filter that ran last (its file's
    `name:` if the file still reads, else its file name's stem), judged when the post was last seen;
    its rules hash is unknown, so that filter's next run or apply judges every post again. Runs
    record their filter's name and what each exclude rule removed. Posts gain who may see them
    (`visibility`: public, unlisted, followers, direct) and whether their author opted out of being
    shown to people not logged in (`author_opt_out`), read from each post's raw API object; that
    object moves to `post_raw`, zlib-compressed UTF-8 JSON keyed by the post's id. Views
    for SQL users: kept_posts, dropped_posts, link_sharers.
    """
    db.execute(_M009_FILTERS)
    db.execute(_M009_VERDICTS)
    db.execute('CREATE INDEX "verdicts_kept_by_score" ON "verdicts" ("filter", "score") WHERE "kept" = 1')
    db.execute('ALTER TABLE "runs" ADD COLUMN "filter" TEXT')
    db.execute('ALTER TABLE "runs" ADD COLUMN "dropped_by" TEXT')
    names: dict[str, str] = {}
    for run_id, path in db.execute('SELECT "id", "filter_file" FROM "runs"').fetchall():
        if path not in names:
            names[path] = _m009_filter_name(path or "")
        db.execute('UPDATE "runs" SET "filter" = ? WHERE "id" = ?', [names[path], run_id])
    last = db.execute(
        'SELECT "filter_file", COALESCE("finished", "started") FROM "runs" ORDER BY "id" DESC LIMIT 1'
    ).fetchone()
    if db.execute('SELECT 1 FROM "posts" WHERE "kept" IS NOT NULL LIMIT 1').fetchone():
        name = names[last[0]] if last else "unnamed"
        db.execute(
            'INSERT INTO "filters" ("name", "file", "rules_hash", "last_run") VALUES (?, ?, NULL, ?)',
            [name, (last[0] or "") if last else "", last[1] if last else None],
        )
        db.execute(
            'INSERT INTO "verdicts" ("filter", "post_id", "kept", "score", "matched", "dropped_by", "judged_at") '
            'SELECT ?, "id", "kept", "score", "matched", NULL, "last_seen" FROM "posts" WHERE "kept" IS NOT NULL',
            [name],
        )
    db.execute('DROP INDEX IF EXISTS "posts_kept_by_score"')
    for column in ("kept", "score", "matched"):
        db.execute(f'ALTER TABLE "posts" DROP COLUMN "{column}"')
    # Who may see a post, read from the raw API object each archived post kept (statuses carry
    # `visibility`, Mastodon's `private` being followers-only; accounts `noindex`; Bluesky authors
    # the `!no-unauthenticated` label). Anything unreadable is public and not opted out.
    db.execute('ALTER TABLE "posts" ADD COLUMN "visibility" TEXT')
    db.execute('ALTER TABLE "posts" ADD COLUMN "author_opt_out" INTEGER')
    db.execute(_M009_VISIBILITY)
    # The raw API object in a table of its own, zlib-compressed: half an archive was raw JSON as
    # text, and every page of posts (a Datasette page, a scan) carried it.
    db.execute(_M009_POST_RAW)
    rows = db.execute('SELECT "id", "raw" FROM "posts" WHERE "raw" IS NOT NULL AND "raw" != \'\'')
    while True:
        chunk = rows.fetchmany(1000)
        if not chunk:
            break
        db.conn.executemany(
            'INSERT INTO "post_raw" ("post_id", "raw") VALUES (?, ?)',
            [
                (post_id, zlib.compress(str(raw).encode("utf-8", "surrogatepass"), 6))
                for post_id, raw in chunk
            ],
        )
    db.execute('ALTER TABLE "posts" DROP COLUMN "raw"')
    # A missing value is NULL, not '' (`reply_to IS NULL` finds the posts that reply to nothing);
    # the full-text columns keep '' so the index is not rewritten.
    db.execute(
        'UPDATE "posts" SET "url" = NULLIF("url", \'\'), "author_name" = NULLIF("author_name", \'\'), '
        '"author_id" = NULLIF("author_id", \'\'), "html" = NULLIF("html", \'\'), "lang" = NULLIF("lang", \'\'), '
        '"reply_to" = NULLIF("reply_to", \'\'), "quote_of" = NULLIF("quote_of", \'\'), '
        '"card_url" = NULLIF("card_url", \'\'), "card_title" = NULLIF("card_title", \'\')'
    )
    db.execute(_M009_KEPT_POSTS)
    db.execute(_M009_DROPPED_POSTS)
    db.execute(_M009_LINK_SHARERS)


def m010_posts_by_author(db: sqlite_utils.Database) -> None:
    """An index of the posts by author, for `plnfilter voices`: its key is the author as `lower()`
    folds it (ASCII, as SQLite's NOCASE) and the network, so grouping by author streams in index
    order with no sort; it also carries the time and the few columns `voices` reads, so per-author
    figures never read the posts' rows. No verdict in it: those are per filter, in `verdicts`."""
    db.execute(
        'CREATE INDEX "posts_by_author" ON "posts" ("author" COLLATE NOCASE, "network", "created_at", '
        '"author_id", "tags", "links", "reposted_by")'
    )


# The key's columns come first: SQLite 3.40's `PRAGMA integrity_check` reports a false "NULL value
# in post_sources.uri" for every row of a WITHOUT ROWID table whose key columns do not lead.
_M011_POST_SOURCES = """CREATE TABLE "post_sources_by_source" (
   "source" TEXT NOT NULL,
   "post_id" INTEGER NOT NULL,
   "uri" TEXT NOT NULL,
   "first_seen" TEXT,
   PRIMARY KEY ("source", "post_id")
) WITHOUT ROWID"""


def m011_smaller_findings(db: sqlite_utils.Database) -> None:
    """Findings in one b-tree keyed by (source, post id), the key m005's index held beside a rowid
    table: the same columns and the same rule (a source finds a post once), without the second copy
    of every key (~50 bytes a post). Also the preset dictionary `post_raw` blobs are compressed with
    from now on (`store/raw_dictionary.py`), under `settings.raw_dictionary`, so any tool with the
    file can read them: zlib.decompressobj(zdict=...). Blobs written before stay plain zlib."""
    from plnfilter.store.raw_dictionary import RAW_DICTIONARY  # frozen: blobs name it by checksum

    db.execute(_M011_POST_SOURCES)
    db.execute(
        'INSERT INTO "post_sources_by_source" ("source", "post_id", "uri", "first_seen") '
        'SELECT "source", "post_id", "uri", "first_seen" FROM "post_sources" WHERE "post_id" IS NOT NULL '
        'ORDER BY "source", "post_id"'
    )
    db.execute('DROP TABLE "post_sources"')
    db.execute('ALTER TABLE "post_sources_by_source" RENAME TO "post_sources"')
    db.execute(
        'INSERT OR REPLACE INTO "settings" ("key", "value") VALUES (\'raw_dictionary\', ?)',
        [RAW_DICTIONARY.decode("ascii")],
    )


# m012's tallies, frozen. A post's day: the first ten characters of a text `created_at` ('' for any
# other value), so a day after the window's first one holds only posts inside the window. A JSON
# list column as a list (NULL, no items, when it is not one). A link's loose key, as
# `store/voices.rough_link_sql` made it when m012 shipped.
_M012_DAY = "CASE WHEN typeof({p}.\"created_at\") = 'text' THEN substr({p}.\"created_at\", 1, 10) ELSE '' END"
_M012_LIST = (
    'CASE WHEN json_valid({p}."{column}") THEN CASE json_type({p}."{column}") WHEN \'array\' '
    'THEN {p}."{column}" END END'
)
_M012_ROUGH = (
    "rtrim(replace(replace(replace(lower(substr(l.\"value\", 1, instr(l.\"value\" || '?', '?') - 1)), "
    "'https://', ''), 'http://', ''), 'www.', ''), '/')"
)


def _m012_table(name: str, keys: tuple[str, ...], count: str) -> str:
    columns = "".join(f'   "{key}" TEXT NOT NULL,\n' for key in keys)
    primary = ", ".join(f'"{key}"' for key in keys)
    return f'CREATE TABLE "{name}" (\n{columns}   "{count}" INTEGER NOT NULL,\n   PRIMARY KEY ({primary})\n) WITHOUT ROWID'


# Each tally: its key columns, its count column, the SQL of each key ({p}: the post, {f}: the filter
# keeping it, {day}: its day), and the JSON list whose items it counts (column, alias) if any.
M012_TALLIES: dict[str, tuple[tuple[str, ...], str, tuple[str, ...], tuple[str, str] | None]] = {
    "author_days": (
        ("author", "network", "day", "author_id"),
        "posts",
        ('lower({p}."author")', '{p}."network"', "{day}", "coalesce({p}.\"author_id\", '')"),
        None,
    ),
    "booster_days": (
        ("booster", "author", "network", "day"),
        "reposts",
        ('lower(b."value")', 'lower({p}."author")', '{p}."network"', "{day}"),
        ("reposted_by", "b"),
    ),
    "kept_author_days": (
        ("filter", "author", "network", "day"),
        "kept",
        ("{f}", 'lower({p}."author")', '{p}."network"', "{day}"),
        None,
    ),
    "kept_tag_days": (("filter", "tag", "day"), "uses", ("{f}", 't."value"', "{day}"), ("tags", "t")),
    "kept_link_days": (
        ("filter", "link", "author", "network", "day"),
        "uses",
        ("{f}", _M012_ROUGH, 'lower({p}."author")', '{p}."network"', "{day}"),
        ("links", "l"),
    ),
}
"""m012's tallies of the posts by author and day, which `voices suggest` reads instead of the posts:
author_days (posts per author id), booster_days (reposts per booster), and per filter its kept
posts (kept_author_days), their tags (kept_tag_days) and their links' loose keys (kept_link_days)."""


def m012_tally_select(
    table: str, p: str, f: str = "", source: str = "", where: str = "", sign: str = "", each: bool = False
) -> str:
    """The SELECT of (key..., count) rows that the posts `p` names add to `table` (`f`: the filter
    keeping them; `source`: the FROM that defines `p` and `f`, if any; `where`: more conditions).
    Only posts with an author count. `each`: a row of count 1 per item, not grouped (a trigger's
    upsert adds up a key met twice, without a sorter per statement)."""
    columns, count, keys, items = M012_TALLIES[table]
    day = _M012_DAY.format(p=p)
    exprs = [
        f'{key.format(p=p, f=f, day=day)} AS "{column}"' for key, column in zip(keys, columns, strict=True)
    ]
    sources = [source] if source else []
    conditions = [f"{p}.\"author\" != ''"]
    if items is not None:
        column, alias = items
        sources.append(f"json_each({_M012_LIST.format(p=p, column=column)}) {alias}")
        conditions.append(f'{alias}."value" IS NOT NULL')
    if where:
        conditions.append(where)
    groups = ", ".join(str(n) for n in range(1, len(exprs) + 1))
    from_clause = f" FROM {', '.join(sources)}" if sources else ""
    if each:
        return (
            f'SELECT {", ".join(exprs)}, {sign}1 AS "{count}"{from_clause} WHERE {" AND ".join(conditions)}'
        )
    return (
        f'SELECT {", ".join(exprs)}, {sign}count(*) AS "{count}"{from_clause} WHERE {" AND ".join(conditions)} '
        f"GROUP BY {groups}"
    )


def m012_recount(table: str, where: str = "", posts_first: bool = False) -> str:
    """The SELECT of `table`'s rows counted afresh from the posts (and the verdicts keeping them);
    `posts_first` for a few posts (`where` narrows them) among many verdicts."""
    if table in _M012_KEPT_TALLIES:
        join = "CROSS JOIN" if posts_first else "JOIN"
        source = f'posts p {join} verdicts v ON p."id" = v."post_id" AND +v."kept" = 1'
        return m012_tally_select(table, "p", 'v."filter"', source, where)
    return m012_tally_select(table, "p", "", "posts p", where)


def _m012_change(table: str, p: str, f: str, source: str, sign: str, where: str = "") -> list[str]:
    """The statements adding (sign '') or taking away (sign '-') what posts `p` count in `table`;
    a count that falls to 0 goes."""
    columns, count, _keys, _items = M012_TALLIES[table]
    names = ", ".join(f'"{column}"' for column in (*columns, count))
    select = m012_tally_select(table, p, f, source, where, sign, each=True)
    statements = [
        f'INSERT INTO "{table}" ({names}) {select} '
        f'ON CONFLICT DO UPDATE SET "{count}" = "{count}" + excluded."{count}";'
    ]
    if sign:
        keys = ", ".join(f'"{column}"' for column in columns)
        key_select = select.replace(f', {sign}1 AS "{count}"', "", 1)
        statements.append(f'DELETE FROM "{table}" WHERE "{count}" <= 0 AND ({keys}) IN ({key_select});')  # noqa: S608 (constants only)
    return statements


_M012_POST_TALLIES = ("author_days", "booster_days")
_M012_KEPT_TALLIES = ("kept_author_days", "kept_tag_days", "kept_link_days")
# The kept verdicts of the post a posts trigger sees, one row per filter keeping it, each found by its
# key (filter, post id): left to itself the planner walks the filter's kept verdicts by score instead.
_M012_KEPT_BY = (
    'filters fl CROSS JOIN verdicts v ON v."filter" = fl."name" AND v."post_id" = {p}."id" AND +v."kept" = 1'
)
_M012_TALLIED = ("author", "network", "created_at", "author_id", "tags", "links", "reposted_by")


def _m012_post_changes(
    p: str, sign: str, tallies: tuple[str, ...] = (*_M012_POST_TALLIES, *_M012_KEPT_TALLIES)
) -> str:
    statements = [
        s for table in _M012_POST_TALLIES if table in tallies for s in _m012_change(table, p, "", "", sign)
    ]
    for table in _M012_KEPT_TALLIES:
        if table in tallies:
            statements += _m012_change(table, p, 'v."filter"', _M012_KEPT_BY.format(p=p), sign)
    return " ".join(statements)


def _m012_verdict_changes(v: str, sign: str) -> str:
    where = f'p."id" = {v}."post_id" AND {v}."kept" = 1'
    statements = []
    for table in _M012_KEPT_TALLIES:
        statements += _m012_change(table, "p", f'{v}."filter"', "posts p", sign, where)
    return " ".join(statements)


def m012_voice_tallies(db: sqlite_utils.Database) -> None:
    """Tallies of the posts by author and day for `plnfilter voices suggest`, kept by triggers: every
    post's author (with author id) and boosters, and per filter the authors, tags and links of the
    posts it keeps. Suggest reads these few rows per author and day instead of every post in its
    window and each one's verdict; the posts of the window's first day are counted from the posts.
    Any write keeps them true (save, apply, refresh, prune, a filter forgotten, an edit in SQL)."""
    for table, (columns, count, _keys, _items) in M012_TALLIES.items():
        db.execute(_m012_table(table, columns, count))
        names = ", ".join(f'"{column}"' for column in (*columns, count))
        db.execute(f'INSERT INTO "{table}" ({names}) {m012_recount(table)}')
    tallied = ", ".join(f'"{column}"' for column in _M012_TALLIED)
    changed = " OR ".join(f'old."{column}" IS NOT new."{column}"' for column in (*_M012_TALLIED, "id"))
    # Each posts trigger comes in two: the post's own tallies, and the kept ones of the filters
    # keeping it, only when one does (a new post has no verdict yet unless SQL stored one first; a
    # prune removes the verdicts before the posts). One trigger of every statement cost a deleted
    # post twice as much as the two.
    kept = {p: f"EXISTS (SELECT 1 FROM {_M012_KEPT_BY.format(p=p)})" for p in ("old", "new")}  # noqa: S608 (constants only)
    for name, event, when, changes in (
        ("posts_tally_ai", "INSERT", "", [("new", "")]),
        ("posts_tally_ad", "DELETE", "", [("old", "-")]),
        ("posts_tally_au", f'UPDATE OF {tallied}, "id"', f"WHEN {changed} ", [("old", "-"), ("new", "")]),
    ):
        own = " ".join(_m012_post_changes(p, sign, _M012_POST_TALLIES) for p, sign in changes)
        db.execute(f'CREATE TRIGGER "{name}" AFTER {event} ON "posts" {when}BEGIN {own} END')
        guard = " OR ".join(kept[p] for p, _sign in changes)
        guard = f"({when[5:-1]}) AND ({guard})" if when else guard
        kept_changes = " ".join(_m012_post_changes(p, sign, _M012_KEPT_TALLIES) for p, sign in changes)
        db.execute(
            f'CREATE TRIGGER "{name}_kept" AFTER {event} ON "posts" WHEN {guard} BEGIN {kept_changes} END'
        )
    db.execute(
        'CREATE TRIGGER "verdicts_tally_ai" AFTER INSERT ON "verdicts" WHEN new."kept" = 1 '
        f"BEGIN {_m012_verdict_changes('new', '')} END"
    )
    db.execute(
        'CREATE TRIGGER "verdicts_tally_ad" AFTER DELETE ON "verdicts" WHEN old."kept" = 1 '
        f"BEGIN {_m012_verdict_changes('old', '-')} END"
    )
    db.execute(
        'CREATE TRIGGER "verdicts_tally_au" AFTER UPDATE OF "kept", "filter", "post_id" ON "verdicts" '
        'WHEN old."kept" IS NOT new."kept" OR old."filter" IS NOT new."filter" OR old."post_id" IS NOT new."post_id" '
        f"BEGIN {_m012_verdict_changes('old', '-')} {_m012_verdict_changes('new', '')} END"
    )


_M013_SURROGATE = re.compile("[\ud800-\udfff]")


def _m013_content(blob: bytes | None) -> str | None:
    """Frozen: the `content` of the Mastodon status in a `post_raw` blob (the boosted original's for a
    boost) as posts.html stores text (lone surrogates as U+FFFD); None when unreadable or absent."""
    import json

    from plnfilter.store.raw_dictionary import DICTIONARIES  # frozen: blobs name theirs by checksum

    if not isinstance(blob, bytes):
        return None
    try:
        if len(blob) > 6 and blob[1] & 0x20:  # FDICT: the preset dictionary's Adler-32 in bytes 2-5
            zdict = DICTIONARIES.get(int.from_bytes(blob[2:6], "big"))
            if zdict is None:
                return None
            inflater = zlib.decompressobj(zdict=zdict)
            data = inflater.decompress(blob)
            if not inflater.eof:
                return None
        else:
            data = zlib.decompress(blob)
        raw = json.loads(data.decode("utf-8", "surrogatepass"))
    except (zlib.error, UnicodeDecodeError, ValueError, RecursionError):
        return None
    if not (isinstance(raw, dict) and "account" in raw and ("content" in raw or "reblog" in raw)):
        return None  # not a status as Mastodon's API sends it
    original = raw.get("reblog") or raw
    content = original.get("content") if isinstance(original, dict) else None
    if not isinstance(content, str) or not content:
        return None
    return _M013_SURROGATE.sub("\ufffd", content)


def m013_html_in_raw(db: sqlite_utils.Database) -> None:
    """A Mastodon post's `html` is NULL when its raw API object (`post_raw`) holds it as it is (the
    status's `content`): the text was stored twice, once compressed, ~300 bytes a post. Readers take it
    from the raw object (`rows.HTML_SQL`); an html that differs from the raw object's stays."""
    db.conn.create_function("m013_content", 1, _m013_content, deterministic=True)
    db.execute(
        'UPDATE "posts" SET "html" = NULL WHERE "network" = \'mastodon\' AND "html" IS NOT NULL '
        'AND "html" = m013_content((SELECT "raw" FROM "post_raw" WHERE "post_raw"."post_id" = "posts"."id"))'
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
    m009_verdicts_per_filter,
    m010_posts_by_author,
    m011_smaller_findings,
    m012_voice_tallies,
    m013_html_in_raw,
]


def pending(db: sqlite_utils.Database) -> list[str]:
    """The names of the migrations this archive has not recorded yet (all of them for a new one)."""
    table = db.execute("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = '_migrations'").fetchone()
    done = {row[0] for row in db.execute('SELECT name FROM "_migrations"')} if table else set()
    return [migration.__name__ for migration in MIGRATIONS if migration.__name__ not in done]


def migrate(db: sqlite_utils.Database) -> list[str]:
    """Apply the migrations not yet recorded, each in its own transaction; return their names.

    Each is looked up again inside its transaction: another process that opened the archive at the
    same moment may have applied it meanwhile (the write lock makes them take turns)."""
    db.execute('CREATE TABLE IF NOT EXISTS "_migrations" (name TEXT PRIMARY KEY, applied_at TEXT)')
    applied = []
    for migration in MIGRATIONS:
        name = migration.__name__
        with write_transaction(db):
            if db.execute('SELECT 1 FROM "_migrations" WHERE name = ?', [name]).fetchone():
                continue
            migration(db)
            db.execute(
                'INSERT INTO "_migrations" (name, applied_at) VALUES (?, ?)', [name, to_iso(now_utc())]
            )
        applied.append(name)
    return applied
