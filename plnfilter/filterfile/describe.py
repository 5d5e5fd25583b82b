"""Plain lines saying what a filter file was understood to mean, for `plnfilter check`."""

from __future__ import annotations

from datetime import timedelta
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from plnfilter.filterfile.model import Condition, FilterFile, RankConfig, Rule, SourceSpec

_BOOL_WORDS = {
    "has_link": ("has a link", "has no link"),
    "has_media": ("has media", "has no media"),
    "is_reply": ("is a reply", "is not a reply"),
    "is_repost": ("is a boost/repost", "is not a boost/repost"),
    "bot": ("is by a bot account", "is not by a bot account"),
    "sensitive": ("is marked sensitive", "is not marked sensitive"),
}
_COUNT_WORDS = {
    "min_likes": "at least {} likes",
    "min_reposts": "at least {} boosts/reposts",
    "min_engagement": "at least {} likes+reposts+replies+quotes",
    "min_tags": "at least {} hashtags",
    "max_tags": "at most {} hashtags",
    "min_length": "text at least {} characters long",
}


def describe(filter_file: FilterFile) -> list[str]:
    """Human lines for the sources, rules, ranking and limits, in file order."""
    out = [f"filter '{filter_file.name}' ({filter_file.path})"]
    if filter_file.description:
        out.append(f"  {filter_file.description}")
    out.append(
        f"sources ({len(filter_file.sources)}):"
        if filter_file.sources
        else "sources: none (stream mode only)"
    )
    out.extend(f"  line {spec.line}: {describe_source(spec)}" for spec in filter_file.sources)
    if filter_file.exclude:
        out.append(f"exclude ({len(filter_file.exclude)}): a post is dropped when any of these match")
        out.extend(f"  {describe_rule(rule)}" for rule in filter_file.exclude)
    else:
        out.append("exclude: none")
    if filter_file.include:
        out.append(f"include ({len(filter_file.include)}): a post is kept when any of these match")
        out.extend(f"  {describe_rule(rule)}" for rule in filter_file.include)
    else:
        out.append("include: none, so every post not excluded is kept")
    out.extend(describe_rank(filter_file.rank))
    out.append(f"keep: the top {filter_file.keep} posts" if filter_file.keep else "keep: no limit")
    out.append(
        f"retain: each run ends by removing posts older than {_duration(filter_file.retain)} that no filter keeps"
        if filter_file.retain
        else "retain: forever (`plnfilter prune` removes old posts when asked)"
    )
    out.append(describe_refresh(filter_file))
    return out


def describe_refresh(filter_file: FilterFile) -> str:
    if filter_file.refresh is None:
        return "refresh: off (counts are those seen when a post was fetched)"
    return (
        f"refresh: counts of posts first seen in the last {_duration(filter_file.refresh)} are re-fetched "
        f"each run, newest first, at most {filter_file.refresh_limit} requests per server"
    )


def describe_source(spec: SourceSpec) -> str:
    options = ", ".join(
        f"{key}={_duration(value) if isinstance(value, timedelta) else 'off' if key == 'refresh' else _show(value)}"
        for key, value in spec.options.items()
        if key != "name"
    )
    where = spec.target or "bsky"
    return f"{spec.kind} {where}" + (f" ({options})" if options else "") + f" as '{spec.name}'"


def describe_rule(rule: Rule) -> str:
    boost = f", boost {rule.boost:+g}" if rule.boost else ""
    return f"{rule.name} (line {rule.line}{boost}): " + " and ".join(
        describe_condition(c) for c in rule.conditions
    )


def describe_condition(condition: Condition) -> str:
    key, value = condition.key, condition.value
    if key in _BOOL_WORDS:
        return _BOOL_WORDS[key][0 if value else 1]
    if key in _COUNT_WORDS:
        return _COUNT_WORDS[key].format(value)
    if key == "max_age":
        return f"posted within {_duration(value)}"
    if key in ("all", "any", "not"):
        parts = ["(" + " and ".join(describe_condition(c) for c in rule.conditions) + ")" for rule in value]
        joined = {"all": " and ", "any": " or ", "not": " or "}[key].join(parts)
        return f"not {joined}" if key == "not" else f"[{joined}]" if len(parts) > 1 else joined
    shown = {
        "tags": ("tagged ", " or ", "#"),
        "tags_all": ("tagged ", " and ", "#"),
        "words": ("has the word ", " or ", ""),
        "text": ("contains ", " or ", ""),
        "regex": ("matches regex ", " or ", ""),
        "lang": ("language ", " or ", ""),
        "authors": ("by ", " or ", ""),
        "not_authors": ("not by ", " nor ", ""),
        "domains": ("links to ", " or ", ""),
        "network": ("on ", " or ", ""),
        "source": ("found by source ", " or ", ""),
        "visibility": ("visible to ", " or ", ""),
        "voices": ("by the voices ", " or ", ""),
    }[key]
    prefix, joiner, mark = shown
    quote = key in ("words", "text", "regex")
    described = prefix + joiner.join(f"'{item}'" if quote else f"{mark}{item}" for item in value)
    if key == "lang":
        described += (
            " (unknown: posts that declare no language)"
            if "unknown" in value
            else " (a post that declares no language does not match it; `unknown` names those)"
        )
    return described


def describe_rank(rank: RankConfig) -> list[str]:
    weights = ", ".join(f"{name} {weight:g}" for name, weight in rank.weights.items())
    out = [f"rank: recency half-life {_duration(rank.half_life)}; weights {weights}"]
    caps = [f"at most {rank.max_per_author} per author" if rank.max_per_author else ""]
    caps.append(f"at most {rank.max_per_instance} per Mastodon instance" if rank.max_per_instance else "")
    caps.extend(
        f"{slots} place{'s' if slots > 1 else ''} kept for {group} voices"
        for group, slots in rank.mix.items()
        if slots
    )
    if any(caps):
        out.append("  digest: " + "; ".join(cap for cap in caps if cap))
    for group in ("trusted", "outside_sector", "dissenting"):
        people = getattr(rank, group)
        if people:
            out.append(f"  {group} voices: " + ", ".join(people))
    return out


def _duration(value: timedelta) -> str:
    seconds = int(value.total_seconds())
    for unit, size in (("w", 604800), ("d", 86400), ("h", 3600), ("m", 60)):
        if seconds >= size and seconds % size == 0:
            return f"{seconds // size}{unit}"
    return f"{seconds}s"


def _show(value: object) -> str:
    if isinstance(value, tuple | list):
        return "[" + ", ".join(str(item) for item in value) + "]"
    return str(value).lower() if isinstance(value, bool) else str(value)
