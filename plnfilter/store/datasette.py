"""Datasette metadata for an archive: what each table and view holds, its facets, and full-text search."""

from __future__ import annotations

from typing import Any

_POSTS = (
    "One row per post, its facts once, from Mastodon or Bluesky; full-text search over text, author, tags and "
    "content warnings. html is NULL where the raw JSON holds it (a Mastodon post's content: plnfilter query "
    "--columns uri,html gives it)."
)


def metadata(database: str, title: str = "plnfilter archive") -> dict[str, Any]:
    """The metadata.json Datasette reads (`datasette archive.db --metadata metadata.json`)."""
    tables: dict[str, Any] = {
        "posts": {
            "title": "Posts",
            "description": _POSTS,
            "facets": ["network", {"array": "tags"}, "lang", "author", "visibility"],
            "fts_table": "posts_fts",
            "fts_pk": "id",
            "sort_desc": "created_at",
            "hidden": False,
        },
        "verdicts": {
            "title": "Verdicts",
            "description": "Each filter's verdict on each post: kept, score, the include rules matched "
            "and the exclude rule that dropped it (dropped_by), when judged.",
            "facets": ["filter", "kept", "dropped_by"],
        },
        "filters": {
            "title": "Filters",
            "description": "The filters (by their name:) whose verdicts the archive keeps.",
        },
        "post_sources": {
            "title": "Where posts came from",
            "description": "Which timeline found which post, and when.",
        },
        "post_raw": {
            "title": "Raw API JSON",
            "description": "Each post's JSON as its server sent it, zlib-compressed "
            "(plnfilter query --columns uri,raw gives it back decoded).",
        },
        "sources": {
            "title": "Timelines",
            "description": "Each timeline: its cursor, last run and last error.",
        },
        "server_quirks": {
            "title": "Server quirks",
            "description": "What a server's API lacks, and when it was last seen lacking it.",
        },
        "runs": {
            "title": "Runs",
            "description": "The history of runs: per filter, what was fetched, kept and dropped by each exclude rule.",
        },
        "kept_posts": {
            "title": "Kept posts per filter",
            "description": "Kept posts per filter, with their score and the include rules they matched.",
            "facets": ["filter", "network", "lang", "author"],
            "sort_desc": "score",
        },
        "dropped_posts": {
            "title": "Dropped posts per filter",
            "description": "Dropped posts per filter, with the exclude rule that dropped them.",
            "facets": ["filter", "dropped_by", "network"],
        },
        "link_sharers": {
            "title": "Links and who shared them",
            "description": "Each link shared in a post, with who shared it and when.",
            "facets": ["network", "author"],
        },
        **{
            table: {
                "title": title,
                "description": f"{what}, per day (triggers keep it; voices suggest reads it).",
            }
            for table, title, what in (
                (
                    "author_days",
                    "Posts per author and day",
                    "How many posts each author (and author id) made",
                ),
                (
                    "booster_days",
                    "Reposts per booster and day",
                    "How often each account reposted each author",
                ),
                ("kept_author_days", "Kept posts per author and day", "Each filter's kept posts by author"),
                ("kept_tag_days", "Tags of kept posts per day", "The tags on each filter's kept posts"),
                (
                    "kept_link_days",
                    "Links of kept posts per author and day",
                    "The links in each filter's kept posts, without scheme, www., query or trailing slash",
                ),
            )
        },
        "posts_fts": {"hidden": True},
        "_migrations": {"hidden": True},
        "settings": {"hidden": True},
    }
    return {
        "title": title,
        "description": "Posts fetched, filtered and ranked by plnfilter.",
        "databases": {database: {"tables": tables}},
    }
