"""The `rank:` and `voices:` sections: how posts are scored and whose voices a digest must include."""

from __future__ import annotations

from typing import Any

from plnfilter.errors import FilterFileError
from plnfilter.filterfile.checks import (
    as_count,
    as_duration,
    as_number,
    as_text_list,
    check_keys,
    need_mapping,
)
from plnfilter.filterfile.lined import YMap
from plnfilter.filterfile.model import DEFAULT_INTERACTIONS, DEFAULT_WEIGHTS, RankConfig, Voices
from plnfilter.rank import VOICE_GROUPS

RANK_KEYS = ("half_life", "weights", "interactions", "max_per_author", "max_per_instance", "mix")
MIX_GROUPS = ("outside_sector", "dissenting", "trusted")


def parse_voices(value: Any, path: str, line: int) -> Voices:
    voices = need_mapping(
        value, path, line, "'voices'", "`voices: {trusted: [kate@example.social], dissenting: [...]}`"
    )
    check_keys(voices, VOICE_GROUPS, path, "in voices")
    groups = {
        key: tuple(
            item.lstrip("@").lower()
            for item in as_text_list(voices[key], path, voices.key_lines[key], key, "[kate@example.social]")
        )
        for key in voices
    }
    return Voices(**groups)


def parse_rank(value: Any, path: str, line: int, voices: Voices) -> RankConfig:
    rank = need_mapping(value, path, line, "'rank'", "`rank: {half_life: 12h, max_per_author: 2}`")
    check_keys(rank, RANK_KEYS, path, "in rank")
    lines = rank.key_lines
    config: dict[str, Any] = {
        "trusted": voices.trusted,
        "outside_sector": voices.outside_sector,
        "dissenting": voices.dissenting,
    }
    if "half_life" in rank:
        config["half_life"] = as_duration(rank["half_life"], path, lines["half_life"], "half_life")
    if "weights" in rank:
        config["weights"] = {
            **DEFAULT_WEIGHTS,
            **_numbers(rank["weights"], path, lines["weights"], "weights", DEFAULT_WEIGHTS),
        }
    if "interactions" in rank:
        config["interactions"] = {
            **DEFAULT_INTERACTIONS,
            **_numbers(
                rank["interactions"], path, lines["interactions"], "interactions", DEFAULT_INTERACTIONS
            ),
        }
    for key in ("max_per_author", "max_per_instance"):
        if key in rank:
            config[key] = as_count(rank[key], path, lines[key], key, minimum=1)
    if "mix" in rank:
        mix = need_mapping(
            rank["mix"], path, lines["mix"], "'mix'", "`mix: {outside_sector: 2, dissenting: 1}`"
        )
        check_keys(mix, MIX_GROUPS, path, "in mix")
        config["mix"] = {}
        for group in mix:
            slots = as_count(mix[group], path, mix.key_lines[group], group)
            if slots and not getattr(voices, group):
                raise FilterFileError(
                    path,
                    mix.key_lines[group],
                    f"mix reserves {slots} places for {group} voices, but voices: lists no {group} authors",
                    f"add `voices: {{{group}: [user@host, handle.bsky.social]}}`",
                )
            config["mix"][group] = slots
    return RankConfig(**config)


def _numbers(value: Any, path: str, line: int, key: str, defaults: dict[str, float]) -> dict[str, float]:
    example = "{" + ", ".join(f"{name}: {weight:g}" for name, weight in defaults.items()) + "}"
    mapping: YMap = need_mapping(value, path, line, f"'{key}'", f"`{key}: {example}`")
    check_keys(mapping, defaults, path, f"in {key}")
    return {name: as_number(mapping[name], path, mapping.key_lines[name], name) for name in mapping}
