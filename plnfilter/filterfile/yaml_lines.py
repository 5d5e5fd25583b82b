"""Read a filter file's YAML safely, remembering the line of every key and list item.

Only `yaml.SafeLoader` machinery is used (no tags beyond plain data). The document is composed
into nodes (aliases stay shared, so composing is cheap) and then walked into plain dicts and
lists with a node budget, which stops "billion laughs" alias bombs before they expand. The walk
also notes every plain value a ' #' cut short (`- #edtech`, `description: all about #edtech`),
which YAML itself reads without a word.
"""

from __future__ import annotations

import re

import yaml
from yaml.events import AliasEvent
from yaml.nodes import MappingNode, ScalarNode, SequenceNode

from plnfilter.errors import FilterFileError
from plnfilter.filterfile.limits import MAX_ALIASES, MAX_BYTES, MAX_DEPTH, MAX_NODES
from plnfilter.filterfile.lined import YList, YMap
from plnfilter.filterfile.problems import CommentCut
from plnfilter.filterfile.yaml_errors import syntax_error

_MAP_TAG = "tag:yaml.org,2002:map"
_SEQ_TAG = "tag:yaml.org,2002:seq"


class _LineLoader(yaml.SafeLoader):
    """SafeLoader that bounds nesting depth and alias count while composing."""

    def __init__(self, stream: str, path: str) -> None:
        super().__init__(stream)
        self._path = path
        self._depth = 0
        self._aliases = 0

    def compose_node(self, parent, index):  # noqa: D102 - PyYAML hook
        event = self.peek_event()
        line = event.start_mark.line + 1
        if isinstance(event, AliasEvent):
            self._aliases += 1
            if self._aliases > MAX_ALIASES:
                raise FilterFileError(
                    self._path, line, f"more than {MAX_ALIASES} YAML aliases (*name)", "write the values out"
                )
        self._depth += 1
        if self._depth > MAX_DEPTH:
            raise FilterFileError(
                self._path, line, f"nested more than {MAX_DEPTH} levels deep", "flatten the rules"
            )
        try:
            return super().compose_node(parent, index)
        finally:
            self._depth -= 1


def read_yaml(text: str, path: str) -> YMap:
    """Parse `text` into a YMap of plain values, or raise FilterFileError naming the line."""
    if len(text) > MAX_BYTES:
        raise FilterFileError(
            path,
            1,
            f"the file is {len(text):,} characters long; filter files are limited to {MAX_BYTES:,}",
            "split it, or check that this is the filter file you meant",
        )
    if not text.strip() or all(
        not line.strip() or line.lstrip().startswith("#") for line in text.splitlines()
    ):
        raise FilterFileError(
            path,
            1,
            "the file is empty",
            "start with `sources:` and a list of sources (see filters/README.md)",
        )
    loader = None
    try:
        loader = _LineLoader(text, path)
        node = loader.get_single_node()
    except yaml.MarkedYAMLError as exc:
        raise syntax_error(text, path, exc) from None
    except yaml.reader.ReaderError as exc:
        line = text.count("\n", 0, max(exc.position, 0)) + 1
        raise FilterFileError(
            path,
            line,
            f"the file contains a control character ({exc.character!r})",
            "remove it; filter files are plain text",
        ) from None
    except yaml.YAMLError as exc:
        raise FilterFileError(path, 1, f"YAML error: {exc}", "check the file is YAML") from None
    except RecursionError:
        raise FilterFileError(path, 1, "the YAML is nested too deeply", "flatten the rules") from None
    if node is None:
        raise FilterFileError(path, 1, "the file is empty", "start with `sources:` and a list of sources")
    if not isinstance(node, MappingNode) or node.tag != _MAP_TAG:
        raise FilterFileError(
            path,
            node.start_mark.line + 1,
            "the file must be a mapping of keys such as `sources:` and `include:`",
            "start lines with `name:`, `sources:`, `exclude:`, `include:`, `rank:`",
        )
    walker = _Walker(loader, path, text.splitlines())
    top = walker.value(node)
    top.comment_cuts = walker.cuts
    return top


_TAG_KEYS = ("tags", "tags_all", "hashtags")
_CUT_AT_HASH = re.compile(r"\s+#\w")  # ' #edtech' right after a value: a hashtag, not a `# note`


class _Walker:
    """Turns a node graph into YMap/YList/scalars, counting every value so aliases cannot explode."""

    def __init__(self, loader: yaml.SafeLoader, path: str, lines: list[str]) -> None:
        self.loader = loader
        self.path = path
        self.lines = lines
        self.count = 0
        self.active: set[int] = set()
        self.cuts: list[FilterFileError] = []  # values a ' #' silently shortened
        self.keys: list[str] = []  # the keys above the node being read

    def check_cut(self, node, key: str | None) -> None:
        """Note a plain scalar that YAML ended at ' #' although the line goes on: `- #edtech` (an
        empty item) or `description: all about #edtech` (cut to 'all about')."""
        if not isinstance(node, ScalarNode) or node.style is not None:
            return
        mark = node.end_mark
        if mark.line >= len(self.lines):
            return
        content = self.lines[mark.line]
        rest = content[mark.column :]
        comment = rest.strip()
        if node.value == "" and node.tag == "tag:yaml.org,2002:null":
            if key is None and content[: mark.column].rstrip().endswith("-") and comment.startswith("#"):
                word = comment.split()[0]
                self.cuts.append(
                    CommentCut(
                        self.path,
                        mark.line + 1,
                        f"the item '- {word}' is empty: YAML reads ' #' as the start of a comment",
                        f"put it in single quotes: - '{word}' (or leave out the '#': - {word.lstrip('#')})",
                    )
                )
            return
        if node.tag != "tag:yaml.org,2002:str" or not _CUT_AT_HASH.match(rest):
            return
        whole = content[node.start_mark.column :].strip() if node.start_mark.line == mark.line else ""
        whole = whole or node.value + " " + comment
        what = f"'{key}'" if key is not None else "this item"
        owner = key if key is not None else (self.keys[-1] if self.keys else None)
        if owner in _TAG_KEYS:
            tags = ", ".join(word.lstrip("#") for word in whole.split())
            hint = f"write each hashtag as a list item, without the '#': {owner}: [{tags}]"
        else:
            quoted = "'" + whole.replace("'", "''") + "'"
            hint = f"put the whole value in single quotes: {f'{key}: ' if key is not None else '- '}{quoted}"
        self.cuts.append(
            CommentCut(
                self.path,
                mark.line + 1,
                f"YAML reads ' {comment.split()[0]}' as the start of a comment, so {what} is cut to {node.value!r}",
                hint,
            )
        )

    def value(self, node):
        line = node.start_mark.line + 1
        self.count += 1
        if self.count > MAX_NODES:
            raise FilterFileError(
                self.path,
                line,
                f"the document expands to more than {MAX_NODES:,} values (YAML aliases)",
                "write the values out instead of nesting aliases",
            )
        if id(node) in self.active:
            raise FilterFileError(
                self.path, line, "a YAML alias refers to itself", "remove the recursive *alias"
            )
        if isinstance(node, ScalarNode):
            return self.scalar(node, line)
        self.active.add(id(node))
        try:
            if isinstance(node, MappingNode):
                return self.mapping(node, line)
            return self.sequence(node, line)
        finally:
            self.active.discard(id(node))

    def scalar(self, node: ScalarNode, line: int):
        try:
            return self.loader.construct_object(node, deep=True)
        except yaml.YAMLError as exc:
            problem = getattr(exc, "problem", None) or str(exc)
            raise FilterFileError(
                self.path,
                line,
                f"cannot read the value {node.value[:40]!r}: {problem}",
                "write plain text, numbers, true or false",
            ) from None
        except (ValueError, OverflowError) as exc:
            raise FilterFileError(
                self.path, line, f"cannot read the value {node.value[:40]!r}: {exc}", "write a smaller number"
            ) from None

    def mapping(self, node: MappingNode, line: int) -> YMap:
        if node.tag != _MAP_TAG:
            raise FilterFileError(
                self.path, line, f"unsupported YAML tag {node.tag}", "remove the !tag; plain mappings only"
            )
        out = YMap()
        out.line = line
        out.key_lines = {}
        for key_node, value_node in node.value:
            key_line = key_node.start_mark.line + 1
            if isinstance(key_node, ScalarNode) and key_node.tag == "tag:yaml.org,2002:merge":
                raise FilterFileError(
                    self.path, key_line, "YAML merge keys (<<) are not supported", "write the keys out"
                )
            key = self.value(key_node) if isinstance(key_node, ScalarNode) else None
            if not isinstance(key, str):
                shown = key_node.value if isinstance(key_node, ScalarNode) else "a list or mapping"
                raise FilterFileError(
                    self.path,
                    key_line,
                    f"the key {shown!r} is not a name",
                    "keys are words like `tags`; quote keys such as yes/no/on/off",
                )
            if key in out:
                raise FilterFileError(
                    self.path,
                    key_line,
                    f"the key '{key}' appears twice (first on line {out.key_lines[key]})",
                    "keep one of them",
                )
            out.key_lines[key] = key_line
            self.keys.append(key)
            try:
                out[key] = self.value(value_node)
            finally:
                self.keys.pop()
            self.check_cut(value_node, key)
        return out

    def sequence(self, node: SequenceNode, line: int) -> YList:
        if node.tag != _SEQ_TAG:
            raise FilterFileError(
                self.path, line, f"unsupported YAML tag {node.tag}", "remove the !tag; plain lists only"
            )
        out = YList()
        out.line = line
        out.item_lines = []
        for item in node.value:
            out.item_lines.append(item.start_mark.line + 1)
            out.append(self.value(item))
            self.check_cut(item, None)
        return out
