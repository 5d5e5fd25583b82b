"""Making hostile post text safe for a terminal: no escapes, no rich markup, no bidi tricks."""

from __future__ import annotations

import re

# C0 controls except tab and newline, DEL, C1 controls, and the Unicode bidi overrides/isolates
# that can make a terminal line read differently from what it contains (CVE-2021-42574).
# A pattern, compiled by `re` (and kept in its cache) at the first text cleaned, not at every start.
_UNSAFE = "[\x00-\x08\x0b-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069\u200e\u200f\u061c]"


def clean(text: str, *, keep_newlines: bool = True) -> str:
    """Replace every control and bidi-override character with a visible placeholder."""
    text = re.sub(_UNSAFE, "\ufffd", text)
    return text if keep_newlines else text.replace("\n", " ").replace("\t", " ")


def one_line(text: str, width: int) -> str:
    """A single clean line of at most `width` characters, ending in an ellipsis when cut."""
    flat = " ".join(clean(text, keep_newlines=False).split())
    return flat if len(flat) <= width else flat[: max(width - 1, 0)] + "\u2026"
