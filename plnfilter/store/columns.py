"""The posts table's columns as the code reads and writes them now.

The migrations (`store/schema.py`) never read these: each keeps the SQL it shipped with. A new column
is a new migration there *and* an entry here; `tests/test_migrations.py` checks the two agree.
"""

from __future__ import annotations

FTS_COLUMNS = ("text", "author", "tags", "spoiler", "search_grams")
"""The columns `posts_fts` (exact words, and Datasette's) and `posts_search` (stemmed) index."""

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
    "first_seen": str,
    "last_seen": str,
    "search_grams": str,  # the text's CJK/Thai runs as bigrams for the full-text index (store/grams.py)
    "visibility": str,
    "author_opt_out": int,
}

VERDICT_SCHEMA: dict[str, type] = {
    "filter": str,
    "post_id": int,
    "kept": int,
    "score": float,
    "matched": str,
    "dropped_by": str,
    "judged_at": str,
}
"""The verdicts table: one filter's judgement of one post (see schema.m009)."""
