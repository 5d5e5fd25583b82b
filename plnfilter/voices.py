"""Growing the network: who your voices endorse that you do not follow yet (`plnfilter voices suggest`).

Who "you follow" is read from the filter file and the archive (see `following`); who they endorse
from what they reposted, quoted, replied to, mentioned and linked; each suggestion is near your
topics or far from them by how much of its hashtag use falls on your usual tags (`overlap`).
The report of how varied the kept posts were lives in `plnfilter/voices_report.py`.
"""

from __future__ import annotations

import fnmatch
import heapq
import json
import re
import sqlite3
from collections import Counter, defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from plnfilter.errors import UsageError
from plnfilter.filterfile.model import FilterFile
from plnfilter.store import voices as store

# How much each signal weighs in a suggestion's score (each is optional).
WEIGHT_VOICE = 3.0  # per distinct trusted voice that reposted, quoted, replied to or mentioned them
WEIGHT_ACT = 1.0  # per repost, quote, reply or mention by a trusted voice
WEIGHT_LINK_VOICE = 1.0  # per distinct trusted voice who shared a link they shared too
WEIGHT_KEPT = 0.2  # per kept post of their own, counted up to KEPT_CAP
KEPT_CAP = 10
USUAL_TAGS = 20  # the tags most used on kept posts that make "your usual tags", with the filter's own
USUAL_MIN_SHARE = 0.02  # ... each on at least this share of the kept posts (a one-off tag is no topic)
NEAR_THRESHOLD = 0.25
_MASTODON_NAME = re.compile(r"^mastodon:[^/]+/(list|home|account)(?:/([^/]+))?")
_BLUESKY_SPEC = re.compile(r"^bluesky: (list|author|timeline)(?:/(\S+))?")
_MASTODON_STATUS = re.compile(r"^https?://([^/]+)/users/([^/]+)/statuses/")
_AT_URI = re.compile(r"^at://(did:[a-z]+:[A-Za-z0-9._:%-]+)/")


@dataclass
class Following:
    """Who you follow: `voices:` by group, the account/author sources, and everyone your list, home and
    timeline sources showed posting (or reposting) there."""

    groups: dict[str, str] = field(default_factory=dict)  # author -> trusted|outside_sector|dissenting
    accounts: set[str] = field(default_factory=set)  # account:/author: sources
    seen: set[str] = field(default_factory=set)  # through list, home and timeline sources
    sources: dict[str, str] = field(default_factory=dict)  # followed timeline -> its kind
    handles: dict[str, str] = field(default_factory=dict)  # Bluesky DID -> handle, as the archive knows

    def name(self, who: str) -> str:
        """An author as compared everywhere here: lower-case, no '@', a known DID as its handle."""
        who = who.strip().lstrip("@").lower()
        return self.handles.get(who, who)

    @property
    def followed(self) -> set[str]:
        """Everyone followed through an author, account, list, home or timeline source."""
        return self.accounts | self.seen

    @property
    def trusted(self) -> set[str]:
        """The voices whose endorsements count: `voices: trusted` and everyone followed by a source.
        Outside-sector and dissenting voices are followed for their difference, not as filters."""
        return {who for who, group in self.groups.items() if group == "trusted"} | self.followed

    @property
    def everyone(self) -> set[str]:
        return set(self.groups) | self.followed


def follow_kind(name: str, spec: str) -> tuple[str, str] | None:
    """(kind, account) when a timeline follows people (list, home, timeline, account, author), else None."""
    found = _MASTODON_NAME.match(name)
    if found:
        return found.group(1), (found.group(2) or "") if found.group(1) == "account" else ""
    found = _BLUESKY_SPEC.match(spec or "")
    if found:
        return found.group(1), (found.group(2) or "") if found.group(1) == "author" else ""
    return None


def following(
    conn: sqlite3.Connection, filter_file: FilterFile | None, extra_sources: tuple[str, ...] = ()
) -> Following:
    """Who you follow, from FILTER's `voices:` and account/author sources and the archive's timelines
    of those kinds (plus `extra_sources`, e.g. a `file:` source holding a saved list)."""
    result = Following()
    if filter_file is not None:
        for group in ("trusted", "outside_sector", "dissenting"):
            for who in getattr(filter_file.voices, group):
                result.groups.setdefault(who.lstrip("@").lower(), group)
        for spec in filter_file.sources:
            target = spec.options.get("account") or spec.options.get("author")
            if target:
                result.accounts.add(str(target).lstrip("@").lower())
    specs = store.source_specs(conn)
    known = {name for name, _spec, _last in specs}
    for name, spec, _last in specs:
        kind = follow_kind(name, spec or "")
        if kind is not None:
            result.sources[name] = kind[0]
            if kind[1]:
                result.accounts.add(kind[1].lower())
    for pattern in extra_sources:
        matched = [name for name in sorted(known) if fnmatch.fnmatchcase(name, pattern)]
        if not matched:
            raise UsageError(
                f"--follows {pattern!r}: the archive has no such source",
                "name one `plnfilter sources` lists (* and ? match any): " + ", ".join(sorted(known)[:10]),
            )
        for name in matched:
            result.sources.setdefault(name, "given")
    if result.sources:
        result.seen = {author for _network, author in store.authors_found_by(conn, result.sources)}
    return result


def learn_handles(result: Following, authors: Iterable[tuple[str, str | None]]) -> None:
    """Bluesky DIDs the archive can name, so `voices: [did:plc:...]` and a handle are one person
    (`authors`: each author with their author_id)."""
    for author, author_id in authors:
        if author_id and str(author_id).startswith("did:"):  # only Bluesky names people by DID
            result.handles[str(author_id).lower()] = author
    for attr in ("accounts", "seen"):
        setattr(result, attr, {result.name(who) for who in getattr(result, attr)})
    result.groups = {result.name(who): group for who, group in result.groups.items()}


def learn_dids(conn: sqlite3.Connection, follow: Following) -> None:
    """Handles for the voices named by a DID, before the archive is searched for their posts."""
    dids = [who for who in follow.everyone if who.startswith("did:")]
    if dids:
        learn_handles(follow, [(handle, did) for did, handle in store.handles_of_dids(conn, dids)])


@dataclass
class Candidate:
    """One account the archive saw that you do not follow, with what speaks for it."""

    account: str
    network: str = ""
    name: str = ""
    author_id: str = ""
    posts: int = 0
    kept: int = 0
    acts: dict[str, Counter] = field(default_factory=lambda: defaultdict(Counter))  # kind -> voice -> n
    links: dict[str, set[str]] = field(default_factory=dict)  # link key -> voices who shared it
    tags: Counter = field(default_factory=Counter)
    overlap: float = 0.0
    group: str = ""

    @property
    def voices(self) -> set[str]:
        return {voice for counts in self.acts.values() for voice in counts}

    @property
    def link_voices(self) -> set[str]:
        # one C-level union: a link many voices shared lends the same large set to every sharer of it
        return set().union(*self.links.values())

    @property
    def score(self) -> float:
        acts = sum(sum(counts.values()) for counts in self.acts.values())
        return (
            WEIGHT_VOICE * len(self.voices)
            + WEIGHT_ACT * acts
            + WEIGHT_LINK_VOICE * len(self.link_voices)
            + WEIGHT_KEPT * min(self.kept, KEPT_CAP)
        )

    def why(self) -> str:
        """In words: "reposted 4 times by 3 trusted voices; shares 2 links 3 trusted voices shared"."""
        parts = []
        for kind, verb in (
            ("repost", "reposted"),
            ("quote", "quoted"),
            ("reply", "replied to"),
            ("mention", "mentioned"),
        ):
            counts = self.acts.get(kind)
            if counts:
                times = sum(counts.values())
                parts.append(f"{verb} {_plural(times, 'time')} by {_plural(len(counts), 'trusted voice')}")
        if self.links:
            example = sorted(self.links, key=lambda key: (-len(self.links[key]), key))[0]
            parts.append(
                f"shares {_plural(len(self.links), 'link')} that {_plural(len(self.link_voices), 'trusted voice')} "
                f"shared too ({example[:60]})"
            )
        if self.kept:
            parts.append(f"{_plural(self.kept, 'kept post')}")
        return "; ".join(parts)

    def profile(self) -> str:
        """The account's web page: its Mastodon account URL, or its bsky.app profile."""
        from plnfilter.sources import registry

        profile_url = getattr(registry.find(self.network), "profile_url", None)
        return profile_url(self.account, self.author_id) if profile_url else ""

    def row(self, rank: int) -> dict[str, Any]:
        return {
            "rank": rank,
            "group": self.group,
            "account": self.account,
            "network": self.network,
            "name": self.name,
            "profile": self.profile(),
            "score": round(self.score, 3),
            "overlap": round(self.overlap, 3),
            "why": self.why(),
            "endorsed_by": sorted(self.voices | self.link_voices),
            "reposts": sum(self.acts.get("repost", Counter()).values()),
            "quotes": sum(self.acts.get("quote", Counter()).values()),
            "replies": sum(self.acts.get("reply", Counter()).values()),
            "mentions": sum(self.acts.get("mention", Counter()).values()),
            "shared_links": len(self.links),
            "kept_posts": self.kept,
            "posts": self.posts,
            "tags": [tag for tag, _ in self.tags.most_common(5)],
        }


SUGGESTION_FIELDS = tuple(Candidate("").row(0))
"""The columns of a suggestion row, in order: what `voices suggest --columns` can choose."""


def _candidate(who: str, network: str, row: tuple | None) -> Candidate:
    """A Candidate with what the archive says of the account (its `act` row of `network_signals`;
    its name and tags are read for the chosen few, in `suggest`)."""
    if row is None:
        return Candidate(who, network or "")
    network, _author, author_id, posts, kept, *_ = row
    return Candidate(who, network or "", "", author_id or "", posts or 0, kept or 0)


def _plural(count: int, noun: str) -> str:
    return f"{count} {noun}" if count == 1 else f"{count} {noun}s"


def target_of(uri: str, network: str | None, author: str | None) -> tuple[str, str] | None:
    """(network, account) a quote or reply points at: from the archive when it holds the post, else
    from the uri when it names one (a Bluesky DID, a Mastodon /users/NAME/statuses/ uri); None for a
    target known only by an instance-local id."""
    if author:
        return network or "", author
    found = _AT_URI.match(uri)
    if found:
        return "bluesky", found.group(1).lower()
    found = _MASTODON_STATUS.match(uri)
    if found:
        return "mastodon", f"{found.group(2)}@{found.group(1)}".lower()
    return None


def usual_tags(tag_counts: list[tuple], kept: int, filter_file: FilterFile | None) -> set[str]:
    """Your topics: the USUAL_TAGS tags most used on kept posts (each on at least USUAL_MIN_SHARE of
    them), with the hashtags FILTER's sources follow and its include rules name."""
    counts = sorted(tag_counts, key=lambda pair: (-pair[1], pair[0]))
    tags = {str(tag).lower() for tag, n, *_ in counts[:USUAL_TAGS] if n >= USUAL_MIN_SHARE * kept}
    if filter_file is not None:
        for spec in filter_file.sources:
            tags.update(str(tag).lower().lstrip("#") for tag in spec.options.get("hashtags") or ())
        for rule in filter_file.include:
            for condition in rule.conditions:
                if condition.key == "tags":
                    tags.update(str(tag).lower() for tag in condition.value)
    return tags


def overlap(tags: Counter, usual: set[str]) -> float:
    """The share of an account's hashtag uses that fall on your usual tags (0 when it used none).

    Not Jaccard: an account that posts only about two of your twenty tags is as near as can be, and
    Jaccard against a twenty-tag set would call it far."""
    total = sum(tags.values())
    return sum(n for tag, n in tags.items() if tag in usual) / total if total else 0.0


def suggest(
    conn: sqlite3.Connection,
    filter_file: FilterFile | None,
    since: str | None,
    *,
    limit: int | None = 20,
    near_threshold: float = NEAR_THRESHOLD,
    extra_sources: tuple[str, ...] = (),
    filter_name: str | None = None,
) -> list[Candidate]:
    """Accounts you do not follow, best first, each grouped near (overlap >= near_threshold) or far."""
    follow = following(conn, filter_file, extra_sources)
    learn_dids(conn, follow)
    signals = store.network_signals(conn, since, follow.trusted, filter_name)
    learn_handles(follow, [(row[1], row[2]) for row in signals["act"]])
    excluded = follow.everyone
    activity = {follow.name(row[1]): row for row in signals["act"]}
    found: dict[str, Candidate] = {}

    def candidate(network: str, who: str) -> Candidate | None:
        who = follow.name(who)
        if not who or who in excluded:
            return None
        item = found.get(who)
        if item is None:
            item = found[who] = _candidate(who, network, activity.get(who))
        return item

    for network, author, booster, count, *_ in signals["repost"]:
        item = candidate(network, author)
        if item is not None:
            item.acts["repost"][follow.name(booster)] += count
    for voice, kind, uri, network, author, *_ in signals["pointer"]:
        target = target_of(uri, network, author)
        item = candidate(*target) if target else None
        if item is not None and follow.name(voice) != item.account:
            item.acts[kind][follow.name(voice)] += 1
    for voice, network, mentioned, count, *_ in signals["mention"]:
        item = candidate(network, mentioned)
        if item is not None and follow.name(voice) != item.account:
            item.acts["mention"][follow.name(voice)] += count
    sharers: dict[str, set[str]] = defaultdict(set)
    for voice, key, *_ in signals["vlink"]:
        sharers[key].add(follow.name(voice))
    for network, author, key, *_ in signals["link"]:
        item = candidate(network, author) if key in sharers else None
        if item is not None:
            item.links[key] = sharers[key]
    # Accounts with nothing but kept posts of their own: only the best few can make the list.
    quiet_ones = (
        (who, row) for who, row in activity.items() if row[4] and who not in found and who not in excluded
    )
    best_kept = heapq.nsmallest(
        limit or len(activity), quiet_ones, key=lambda pair: (-min(pair[1][4], KEPT_CAP), pair[0])
    )
    for who, row in best_kept:
        found[who] = _candidate(who, row[0], row)
    scored = [
        (item.score, item)
        for item in found.values()
        if not (item.posts and not item.kept)  # every post of theirs dropped: spam, bots
    ]
    chosen = [
        item for score, item in sorted(scored, key=lambda pair: (-pair[0], pair[1].account)) if score > 0
    ]
    if limit is not None:
        chosen = chosen[:limit]
    kept_total = sum(row[4] or 0 for row in signals["act"])
    usual = usual_tags(signals["tags"], kept_total, filter_file)
    shown = {item.account: activity[item.account][:2] for item in chosen if item.account in activity}
    details = store.author_details(conn, since, shown.values())
    for item in chosen:
        name, tag_lists = details.get(shown.get(item.account), (None, None))
        item.name = name or ""
        if tag_lists:
            for tags in json.loads(f"[{tag_lists}]"):
                item.tags.update(str(tag).lower() for tag in tags)
        item.overlap = overlap(item.tags, usual)
        item.group = "near" if item.tags and item.overlap >= near_threshold else "far"
    return chosen


def snippet_yaml(rows: list[dict[str, Any]], title: str) -> str:
    """`voices:` ready to paste into a filter file: near suggestions as trusted, far ones as
    outside_sector, each with its reason as a comment. Every name is a quoted YAML string and every
    comment one line, so a hostile account name cannot add keys."""
    lines = [f"# {_comment(title)}", "voices:"]
    for group, key in (("near", "trusted"), ("far", "outside_sector")):
        members = [row for row in rows if row.get("group") == group]
        if not members:
            continue
        lines.append(f"  {key}:")
        for row in members:
            lines.append(f"    - {json.dumps(str(row['account']))}  # {_comment(str(row.get('why') or ''))}")
    if len(lines) == 2:
        lines[1] = "voices: {}  # no suggestions"
    return "\n".join(lines) + "\n"


_BREAKS = re.compile("[\x00-\x1f\x7f-\x9f\u2028\u2029\u202a-\u202e\u2066-\u2069\u200e\u200f\u061c]")


def _comment(text: str) -> str:
    """One line of a YAML comment: no line breaks of any kind (YAML counts NEL and U+2028 as ones)."""
    return _BREAKS.sub(" ", text)
