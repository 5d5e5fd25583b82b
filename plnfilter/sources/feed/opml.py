"""The feeds of an OPML file, as feed readers export their subscriptions (`<outline xmlUrl=...>`,
nested in folders). The file is read with the standard library's XML parser after refusing any
DOCTYPE (no entity can expand, nothing external is loaded)."""

from __future__ import annotations

from urllib.parse import urlsplit

MAX_OPML_BYTES = 10 * 1000 * 1000


class OpmlError(Exception):
    """An OPML file that cannot be read: `problem` and `fix` as one line each."""

    def __init__(self, problem: str, fix: str) -> None:
        super().__init__(problem)
        self.problem = problem
        self.fix = fix


def feeds_in(path: str) -> list[str]:
    """The http(s) feed addresses of an OPML file, in file order, once each; OpmlError otherwise."""
    import xml.etree.ElementTree as ElementTree

    try:
        with open(path, "rb") as handle:
            data = handle.read(MAX_OPML_BYTES + 1)
    except FileNotFoundError:
        raise OpmlError(f"the OPML file {path} does not exist", "check the path after `opml:`") from None
    except IsADirectoryError:
        raise OpmlError(
            f"{path} is a directory, not an OPML file", "name the file your feed reader exported"
        ) from None
    except OSError as exc:
        raise OpmlError(
            f"cannot read the OPML file {path}: {exc.strerror or exc}", "check its permissions"
        ) from None
    if len(data) > MAX_OPML_BYTES:
        raise OpmlError(f"the OPML file {path} is larger than 10 MB", "export only your subscriptions")
    if b"<!DOCTYPE" in data or b"<!ENTITY" in data:
        raise OpmlError(
            f"the OPML file {path} has a DOCTYPE, which OPML never needs",
            "export it again from your feed reader, or delete the <!DOCTYPE ...> part",
        )
    try:
        root = ElementTree.fromstring(data)
    except ElementTree.ParseError as exc:
        raise OpmlError(
            f"the OPML file {path} is not well-formed XML ({exc})", "export it again from your feed reader"
        ) from None
    if root.tag.lower() != "opml":
        raise OpmlError(
            f"{path} is not an OPML file (its root is <{root.tag}>)", "export your subscriptions as OPML"
        )
    urls: dict[str, None] = {}
    for outline in root.iter("outline"):
        url = (outline.get("xmlUrl") or outline.get("xmlurl") or "").strip()
        if url and urlsplit(url).scheme in ("http", "https") and urlsplit(url).hostname:
            urls.setdefault(url)
    if not urls:
        raise OpmlError(
            f"the OPML file {path} names no feed (no <outline xmlUrl=...>)",
            "export your subscriptions as OPML",
        )
    return list(urls)


def problem_with(spec, folder: str) -> tuple[str, str] | None:
    """(problem, fix) for an `opml:` source `plnfilter check` can see is broken, else None."""
    if not spec.options.get("opml"):
        return None
    try:
        feeds_in(spec.target)
    except OpmlError as exc:
        return exc.problem, exc.fix
    return None
