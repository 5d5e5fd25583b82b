"""The options of a `- file: PATH` source: the path, resolved next to the filter file."""

from __future__ import annotations

import os
from typing import Any

from plnfilter.filterfile.checks import as_text, check_keys
from plnfilter.filterfile.lined import YMap
from plnfilter.filterfile.model import SourceSpec
from plnfilter.filterfile.source_checks import SYNONYMS, common_options

OPTIONS = ("name",)


def parse_source(head: Any, options: YMap, path: str, line: int) -> SourceSpec:
    check_keys(options, OPTIONS, path, "for a file source", SYNONYMS)
    written = as_text(head, path, line, "file", "samples/mastodon-tags.json")
    base = os.path.dirname(path) if path and not path.startswith("<") else ""
    target = os.path.normpath(os.path.join(base, os.path.expanduser(written)))
    clean = common_options(options, path)
    return SourceSpec("file", target, clean, line, clean.get("name") or f"file {written}")
