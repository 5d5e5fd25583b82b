"""`plnfilter voices report`: how varied the kept posts were, which followed voices went quiet, which
sources kept nothing, as rows (section, item, value, detail) and as Markdown or HTML beside the digest.
"""

from __future__ import annotations

import functools
import html
import sqlite3
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, TextIO

from plnfilter.filterfile.model import FilterFile
from plnfilter.store import voices as store
from plnfilter.times import parse_iso, to_iso
from plnfilter.voices import following, learn_dids

TOP_AUTHORS = 5
DEFAULT_TOP_SIZE = 20  # the places `top` fills when the filter file sets no `keep:`
REPORT_FIELDS = ("section", "item", "value", "detail")
SECTIONS = {
    "variety": "How varied the kept posts were",
    "mix": "Outside-sector and dissenting voices against rank.mix",
    "quiet": "Quiet voices",
    "stale": "Sources that kept nothing",
}


def instance(network: str, author: str) -> str:
    """Where an account lives: a Mastodon `user@host`'s host; a Bluesky handle's domain (the part after
    its first label: bsky.social for most), or the DID's method for an unnamed one."""
    home = _home_of(network)
    return home(author) if home else author


@functools.cache
def _home_of(network: str) -> Callable[[str], str] | None:
    """The network's `home_of`, looked up once per network (the report asks for every author)."""
    from plnfilter.sources import registry

    return getattr(registry.find(network), "home_of", None)


@dataclass
class Report:
    since: str
    now: str
    quiet_after: timedelta
    stale_after: timedelta
    rows: list[dict[str, Any]] = field(default_factory=list)

    def add(self, section: str, item: str, value: Any, detail: str = "") -> None:
        self.rows.append({"section": section, "item": item, "value": value, "detail": detail})


def build_report(
    conn: sqlite3.Connection,
    filter_file: FilterFile | None,
    now: datetime,
    since: datetime,
    *,
    quiet_after: timedelta = timedelta(days=14),
    stale_after: timedelta = timedelta(days=14),
    extra_sources: tuple[str, ...] = (),
    filter_name: str | None = None,
) -> Report:
    report = Report(to_iso(since), to_iso(now), quiet_after, stale_after)
    follow = following(conn, filter_file, extra_sources)
    learn_dids(conn, follow)
    authors = store.author_report(conn, report.since, report.now, filter_name)
    kept = [(network, author, count) for network, author, count, _newest in authors if count]
    _variety(report, kept)
    if filter_file is not None:
        _mix(report, kept, filter_file, follow.name)
    _quiet(report, {author: newest for _network, author, _count, newest in authors}, follow, now)
    _stale(report, conn, now, filter_name)
    return report


def _share(part: int, whole: int) -> float:
    return round(part / whole, 4) if whole else 0.0


def _variety(report: Report, kept: list[tuple]) -> None:
    per_author = Counter({author: count for _network, author, count in kept})
    total = sum(per_author.values())
    instances = {instance(network, author) for network, author, _count in kept}
    top = sorted(per_author.items(), key=lambda pair: (-pair[1], pair[0]))[:TOP_AUTHORS]
    top_count = sum(count for _author, count in top)
    report.add("variety", "kept posts", total, f"created {report.since[:10]} to {report.now[:10]}")
    report.add("variety", "distinct authors", len(per_author))
    report.add("variety", "distinct instances", len(instances), "Mastodon hosts and Bluesky handle domains")
    report.add(
        "variety",
        f"share of the top {TOP_AUTHORS} authors",
        _share(top_count, total),
        ", ".join(f"{author} ({count})" for author, count in top),
    )


def _mix(report: Report, kept: list[tuple], filter_file: FilterFile, name) -> None:
    total = sum(count for *_rest, count in kept)
    places = filter_file.keep or DEFAULT_TOP_SIZE
    for group in ("outside_sector", "dissenting"):
        voices = {name(who) for who in getattr(filter_file.voices, group)}
        if not voices and not filter_file.rank.mix.get(group):
            continue
        count = sum(n for _network, author, n in kept if author in voices)
        asked = filter_file.rank.mix.get(group, 0)
        report.add(
            "mix",
            f"{group} voices",
            _share(count, total),
            f"{count} of {total} kept posts, from {len(voices)} listed; rank.mix asks for "
            f"{asked} of {places} places ({_share(asked, places):.0%})",
        )


def _quiet(report: Report, newest: dict[str, str], follow, now: datetime) -> None:
    cutoff = to_iso(now - report.quiet_after)
    for who in sorted(follow.followed):
        last = newest.get(who)
        if last and last >= cutoff:
            continue
        how = "an account source" if who in follow.accounts else "a list, home or timeline source"
        followed = f"followed through {how}"
        if follow.groups.get(who):
            followed += f"; in voices: {follow.groups[who]}"
        if last:
            days = (now - parse_iso(last)).days
            report.add("quiet", who, last, f"no post for {days} days; {followed}")
        else:
            report.add("quiet", who, "", f"no post in the archive; {followed}")


def _stale(report: Report, conn: sqlite3.Connection, now: datetime, filter_name: str | None = None) -> None:
    cutoff = to_iso(now - report.stale_after)
    found = {
        source: (seen, kept, last)
        for source, seen, kept, last in store.source_yield(conn, cutoff, filter_name)
    }
    days = report.stale_after.days
    for name, _spec, last_run in store.source_specs(conn):
        if not last_run or last_run < cutoff:
            continue  # not fetched lately: no longer in a filter file
        seen, kept, last_kept = found.get(name, (0, 0, None))
        if kept:
            continue
        when = f"last kept post found {last_kept[:10]}" if last_kept else "never kept a post"
        report.add("stale", name, seen or 0, f"found {seen or 0} posts in {days} days, kept none; {when}")


def report_markdown(report: Report, out: TextIO, title: str) -> int:
    """The report as Markdown, every name and text escaped."""
    from plnfilter.export.to_markdown import escape_markdown

    def esc(text: str) -> str:  # mid-line text: escape inline markup, not what only starts a line
        return escape_markdown("x" + str(text))[1:]

    lines = [
        f"# {escape_markdown(title)}",
        "",
        f"Kept posts created {report.since[:10]} to {report.now[:10]} UTC.",
        "",
    ]
    for section, heading in SECTIONS.items():
        rows = [row for row in report.rows if row["section"] == section]
        lines += [f"## {esc(_heading(report, section, heading))}", ""]
        if not rows:
            lines += [_EMPTY[section], ""]
            continue
        for row in rows:
            detail = f": {esc(str(row['detail']))}" if row["detail"] else ""
            lines.append(f"- **{esc(row['item'])}**: {esc(_value(row))}{detail}")
        lines.append("")
    out.write("\n".join(lines))
    return len(report.rows)


def report_html(report: Report, out: TextIO, title: str) -> int:
    """The report as one self-contained HTML page (no script, every name and text escaped)."""
    esc = html.escape
    parts = [
        "<!DOCTYPE html>",
        '<html lang="en"><head><meta charset="utf-8">',
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        "<meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; style-src 'unsafe-inline'\">",
        f"<title>{esc(title)}</title>",
        "<style>body{font-family:system-ui,sans-serif;max-width:46rem;margin:2rem auto;padding:0 1rem;"
        "line-height:1.5;color:#222}h2{margin-top:2rem;font-size:1.15rem}li{margin:.3rem 0}"
        ".value{font-weight:600}.detail{color:#555}</style></head><body>",
        f"<h1>{esc(title)}</h1>",
        f"<p>Kept posts created {esc(report.since[:10])} to {esc(report.now[:10])} UTC.</p>",
    ]
    for section, heading in SECTIONS.items():
        rows = [row for row in report.rows if row["section"] == section]
        parts.append(f"<h2>{esc(_heading(report, section, heading))}</h2>")
        if not rows:
            parts.append(f"<p>{esc(_EMPTY[section])}</p>")
            continue
        parts.append("<ul>")
        for row in rows:
            detail = f' <span class="detail">{esc(str(row["detail"]))}</span>' if row["detail"] else ""
            parts.append(
                f'<li>{esc(str(row["item"]))}: <span class="value">{esc(_value(row))}</span>{detail}</li>'
            )
        parts.append("</ul>")
    parts.append("</body></html>\n")
    out.write("\n".join(parts))
    return len(report.rows)


_EMPTY = {
    "variety": "No kept posts in this period.",
    "mix": "Give the filter file to compare with its voices and rank.mix.",
    "quiet": "No quiet voice among those followed through an author, account, list or home source.",
    "stale": "Every source fetched lately kept something.",
}


def _heading(report: Report, section: str, heading: str) -> str:
    if section == "quiet":
        return f"{heading} (no post for {report.quiet_after.days} days)"
    if section == "stale":
        return f"{heading} for {report.stale_after.days} days"
    return heading


def _value(row: dict[str, Any]) -> str:
    value = row["value"]
    if isinstance(value, float):
        return f"{value:.1%}"
    if row["section"] == "quiet":
        return f"last post {str(value)[:10]}" if value else "no post"
    return str(value)
