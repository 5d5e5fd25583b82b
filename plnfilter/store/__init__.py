"""The SQLite archive: open it, save pages with their cursors, record runs, read Posts back."""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

# Each name is imported from its module on first use (PEP 562): `plnfilter query` needs the
# read-only half and should not pay for the writers, the schema's dataclasses or sqlite-utils.
_HOMES = {
    "archive": (
        "BUSY_TIMEOUT_MS",
        "archive_errors",
        "db_errors",
        "open_archive",
        "open_readonly",
        "open_sessions",
        "require_archive",
    ),
    "read": ("get_post", "iter_posts"),
    "rows": ("OUTPUT_COLUMNS", "ROW_COLUMNS", "judged_row", "post_to_row", "row_to_post"),
    "save": ("Judged", "SaveResult", "save_page", "update_judgements"),
    "schema": ("MIGRATIONS", "migrate"),
    "settings": ("archive_id", "ensure_archive_id"),
    "state": (
        "close_interrupted_runs",
        "close_sessions",
        "finish_run",
        "get_cursor",
        "get_stream_position",
        "list_runs",
        "list_sources",
        "open_sessions",
        "record_source_error",
        "set_stream_position",
        "start_run",
    ),
    "transaction": ("write_transaction",),
}
_MODULE_OF = {name: module for module, names in _HOMES.items() for name in names}

if TYPE_CHECKING:
    from plnfilter.store.archive import (
        BUSY_TIMEOUT_MS,
        archive_errors,
        db_errors,
        open_archive,
        open_readonly,
        require_archive,
    )
    from plnfilter.store.read import get_post, iter_posts
    from plnfilter.store.rows import OUTPUT_COLUMNS, ROW_COLUMNS, judged_row, post_to_row, row_to_post
    from plnfilter.store.save import Judged, SaveResult, save_page, update_judgements
    from plnfilter.store.schema import MIGRATIONS, migrate
    from plnfilter.store.settings import archive_id, ensure_archive_id
    from plnfilter.store.state import (
        close_interrupted_runs,
        close_sessions,
        finish_run,
        get_cursor,
        get_stream_position,
        list_runs,
        list_sources,
        open_sessions,
        record_source_error,
        set_stream_position,
        start_run,
    )
    from plnfilter.store.transaction import write_transaction


def __getattr__(name: str) -> Any:
    module = _MODULE_OF.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(f"plnfilter.store.{module}"), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(__all__)


__all__ = [
    "BUSY_TIMEOUT_MS",
    "MIGRATIONS",
    "OUTPUT_COLUMNS",
    "ROW_COLUMNS",
    "Judged",
    "SaveResult",
    "archive_errors",
    "archive_id",
    "close_interrupted_runs",
    "close_sessions",
    "db_errors",
    "ensure_archive_id",
    "finish_run",
    "get_cursor",
    "get_post",
    "get_stream_position",
    "iter_posts",
    "judged_row",
    "list_runs",
    "list_sources",
    "migrate",
    "open_archive",
    "open_readonly",
    "open_sessions",
    "post_to_row",
    "record_source_error",
    "require_archive",
    "row_to_post",
    "save_page",
    "set_stream_position",
    "start_run",
    "update_judgements",
    "write_transaction",
]
