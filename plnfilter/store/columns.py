"""The posts table's columns as the code reads and writes them now.

The migrations (`store/schema.py`) never read these: each keeps the SQL it shipped with. A new column
is a new migration there *and* an entry here; `tests/test_migrations.py` checks the two agree.
"""

from __future__ import annotations

from typing import Any

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


PUBLIC_SQL = (
    "coalesce(posts.visibility, 'public') IN ('public', 'unlisted') AND NOT coalesce(posts.author_opt_out, 0)"
)
"""Posts anyone may see and be shown: public or unlisted, by an author who did not opt out."""


def is_public(post: Any) -> bool:
    """PUBLIC_SQL for a Post (or a row with the same fields). Here, not in `select`, so that `top`
    and `links` need not load the query builder."""
    visibility = getattr(post, "visibility", None) if not isinstance(post, dict) else post.get("visibility")
    opted_out = (
        getattr(post, "author_opt_out", None) if not isinstance(post, dict) else post.get("author_opt_out")
    )
    return (visibility or "public") in ("public", "unlisted") and not opted_out
