"""YAML syntax errors as a person can act on them: a tab, a hashtag read as a comment, a key
indented off its siblings, a value with ': ' in it; PyYAML's own words otherwise."""

from __future__ import annotations

import re

from plnfilter.errors import FilterFileError

_COMMENTED_HASHTAG = re.compile(r"(\[|,|:)\s*#\w")
_KEY_AT_START = re.compile(r"^(\s*)((?:-\s+)*)([^\s#'\"{\[][^:#]*?):(\s|$)")


def syntax_error(text: str, path: str, exc) -> FilterFileError:
    """`exc` (a yaml.MarkedYAMLError) as a person can act on it: tabs, hashtags, indentation, then
    PyYAML's words; the line named is where the fix goes."""
    mark = exc.problem_mark or exc.context_mark
    line = mark.line + 1 if mark else 1
    problem = " ".join(part for part in (exc.context, exc.problem) if part) or "cannot be read"
    lines = text.splitlines()
    for number, content in enumerate(lines[:line], start=1):
        indent = content[: len(content) - len(content.lstrip(" \t"))]
        if "\t" in indent:
            return FilterFileError(
                path,
                number,
                "YAML syntax error: a tab indents this line, and YAML indents with spaces only",
                "replace the tab with spaces (two per level); most editors can insert spaces for Tab",
            )
    if "'\\t'" in problem and mark:
        return FilterFileError(
            path,
            line,
            f"YAML syntax error: a tab in column {mark.column + 1}, where YAML allows only spaces",
            "replace the tab with spaces; most editors can insert spaces for Tab",
        )
    hashtag_line = _commented_hashtag_line(text, line)
    if hashtag_line:
        return FilterFileError(
            path,
            hashtag_line,
            "YAML reads ' #' as the start of a comment, so this hashtag cut the line short",
            "put hashtags in single quotes ('#edtech') or leave out the '#': tags: [edtech, pln]",
        )
    misplaced = _misplaced_key(lines, mark) if mark else None
    if misplaced:
        return FilterFileError(path, line, *misplaced)
    return FilterFileError(path, line, f"YAML syntax error: {problem}", _syntax_hint(problem))


def _key_column(content: str) -> tuple[int, str] | None:
    """Where the key of a `key: ...` or `- key: ...` line starts, and the key; None for other lines."""
    match = _KEY_AT_START.match(content)
    if not match:
        return None
    return len(match.group(1)) + len(match.group(2)), match.group(3).strip()


def _misplaced_key(lines: list[str], mark) -> tuple[str, str] | None:
    """A key YAML could not place because it is indented differently from the key above it."""
    if mark.line >= len(lines):
        return None
    found = _key_column(lines[mark.line])
    if not found:
        return None
    column, key = found
    if mark.column not in (column, column + len(key)):  # the error is elsewhere on the line (': ' in a value)
        return None
    for number in range(mark.line - 1, -1, -1):
        above = lines[number]
        if not above.strip() or above.lstrip().startswith("#"):
            continue
        previous = _key_column(above)
        if not previous or previous[0] == column:
            return None
        if above.rstrip().endswith(":"):  # a key that opens a block: a deeper key may be meant
            return None
        shift = column - previous[0]
        way = "more" if shift > 0 else "less"
        spaces = "space" if abs(shift) == 1 else "spaces"
        return (
            f"the key '{key}' is indented {abs(shift)} {spaces} {way} than '{previous[1]}' on line {number + 1}",
            f"line '{key}:' up with '{previous[1]}:' (start it in column {previous[0] + 1}); "
            "keys of one mapping start in the same column",
        )
    return None


def _commented_hashtag_line(text: str, error_line: int) -> int:
    """The first line up to the error where an unquoted `#tag` in a list or value became a comment."""
    for number, line in enumerate(text.splitlines()[:error_line], start=1):
        if not line.lstrip().startswith("#") and _COMMENTED_HASHTAG.search(line.split("'")[0].split('"')[0]):
            return number
    return 0


def _syntax_hint(problem: str) -> str:
    if "tab" in problem:
        return "indent with spaces, not tabs"
    if "escape" in problem:
        return "in double quotes YAML reads backslashes itself: put regexes in single quotes, e.g. regex: '\\d+ tips'"
    if "mapping values" in problem:
        return "put values that contain ': ' in single quotes (for example regex: 'a: b')"
    if "alias" in problem or "anchor" in problem:
        return "define each &anchor once, before its *alias"
    return "check the indentation (options sit two spaces in from their `- `) and the quoting on this line and the one before"
