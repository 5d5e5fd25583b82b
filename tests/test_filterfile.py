"""Filter files: what a user writes is understood, and every mistake names its file and line."""

from __future__ import annotations

import re
from datetime import timedelta
from pathlib import Path

import pytest
import yaml
from figures import session_figure
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from plnfilter.errors import FilterFileError
from plnfilter.filterfile import describe, load, parse
from plnfilter.filterfile.rule_syntax import PREDICATE_KEYS
from plnfilter.sources.bluesky import OPTIONS as BLUESKY_OPTIONS
from plnfilter.sources.mastodon import OPTIONS as MASTODON_OPTIONS

DESIGN_EXAMPLE = """\
name: pln
sources:
  - mastodon: mastodon.social        # public hashtag timelines need no login on most instances
    hashtags: [edtech, PLN, LIKE69]
  - mastodon: fosstodon.org
    list: Learning Tech              # list name or id; needs a token
  - bluesky: {hashtags: [edtech], lang: en}
  - bluesky: {list: "at://did:plc:abc/app.bsky.graph.list/3kxyz"}
  - bluesky: {author: carol.bsky.social}
  - file: samples/bluesky-search.json  # saved API responses: offline runs, demos, imports
exclude:                             # a post is dropped when ANY exclude rule matches
  - {name: giveaways, words: [giveaway, airdrop]}
  - {name: hashtag-stuffing, min_tags: 6}
  - {name: bots, bot: true}
include:                             # then kept when ANY include rule matches (none: keep all)
  - {name: topics, tags: [edtech, pln, like69], boost: 1}
  - {name: trusted, authors: [kate@example.social, adjoa.bsky.social], boost: 3}
  - name: conference
    all: [{tags: [like69]}, {regex: "(?i)slides|panel|talk"}]
rank:
  half_life: 12h
  weights: {engagement: 1, recency: 1, boost: 1}
  max_per_author: 2                  # variety of voices in the top of a digest
keep: 100
"""


def error_for(text: str, path: str = "pln.yaml") -> FilterFileError:
    with pytest.raises(FilterFileError) as caught:
        parse(text, path)
    return caught.value


def test_design_example_is_understood(tmp_path):
    path = tmp_path / "pln.yaml"
    path.write_text(DESIGN_EXAMPLE)
    ff = load(path)
    assert ff.name == "pln" and ff.keep == 100
    kinds = [(spec.kind, spec.line) for spec in ff.sources]
    assert kinds == [
        ("mastodon", 3),
        ("mastodon", 5),
        ("bluesky", 7),
        ("bluesky", 8),
        ("bluesky", 9),
        ("file", 10),
    ]
    first = ff.sources[0]
    assert first.target == "mastodon.social" and first.options["hashtags"] == ("edtech", "PLN", "LIKE69")
    assert ff.sources[1].options["list"] == "Learning Tech"
    assert ff.sources[2].target == "" and ff.sources[2].options == {"hashtags": ("edtech",), "lang": "en"}
    assert ff.sources[5].target == str(tmp_path / "samples" / "bluesky-search.json")
    assert [rule.name for rule in ff.exclude] == ["giveaways", "hashtag-stuffing", "bots"]
    assert [(rule.name, rule.boost) for rule in ff.include] == [
        ("topics", 1.0),
        ("trusted", 3.0),
        ("conference", 0.0),
    ]
    assert ff.include[0].conditions[0].value == ("edtech", "pln", "like69")
    assert ff.include[2].line == 18
    assert ff.rank.half_life == timedelta(hours=12) and ff.rank.max_per_author == 2


def test_describe_shows_sources_and_rules_as_understood():
    lines = describe(parse(DESIGN_EXAMPLE, "pln.yaml"))
    text = "\n".join(lines)
    assert "mastodon mastodon.social (hashtags=[edtech, PLN, LIKE69])" in text
    assert "giveaways (line 12): has the word 'giveaway' or 'airdrop'" in text
    assert "conference (line 18): [(tagged #like69) and (matches regex '(?i)slides|panel|talk')]" in text
    assert "at most 2 per author" in text
    assert "keep: the top 100 posts" in text


def test_mastodon_source_as_local_url_and_options():
    ff = parse(
        "sources:\n  - mastodon: http://127.0.0.1:8123/\n    account: '@kate@127.0.0.1:8123'\n    tagged: '#edtech'\n"
        "    exclude_replies: true\n    max_pages: 3\n    name: kate\n",
        "f.yaml",
    )
    spec = ff.sources[0]
    assert spec.target == "http://127.0.0.1:8123"
    assert spec.options == {
        "name": "kate",
        "max_pages": 3,
        "exclude_replies": True,
        "account": "kate@127.0.0.1:8123",
        "tagged": "edtech",
    }
    assert spec.name == "kate"


def test_bluesky_options_may_sit_beside_the_kind_key():
    ff = parse("sources:\n  - bluesky:\n    q: learning design\n    sort: top\n", "f.yaml")
    assert ff.sources[0].options == {"q": "learning design", "sort": "top"}


def test_a_single_string_is_a_one_item_list():
    ff = parse(
        "sources:\n  - mastodon: m.example\n    hashtags: '#edtech'\ninclude:\n  - tags: '#EdTech'\n",
        "f.yaml",
    )
    assert ff.sources[0].options["hashtags"] == ("edtech",)
    assert ff.include[0].conditions[0].value == ("edtech",)


def test_file_source_is_relative_to_the_filter_file(tmp_path):
    (tmp_path / "sub").mkdir()
    path = tmp_path / "sub" / "demo.yaml"
    path.write_text("sources:\n  - file: samples/mastodon-tags.json\n")
    assert load(path).sources[0].target == str(tmp_path / "sub" / "samples" / "mastodon-tags.json")


def test_voices_reach_the_rank_config():
    ff = parse(
        "voices:\n  trusted: ['@Kate@Example.Social']\n  dissenting: [sam.bsky.social]\n"
        "rank:\n  mix: {dissenting: 1}\n  max_per_instance: 3\n",
        "f.yaml",
    )
    assert ff.rank.trusted == ("kate@example.social",) and ff.rank.dissenting == ("sam.bsky.social",)
    assert ff.rank.mix == {"dissenting": 1} and ff.rank.max_per_instance == 3
    assert parse("voices: {trusted: [a@b.c]}\n", "f.yaml").rank.trusted == ("a@b.c",)


# --- every mistake: FILE:LINE: what is wrong; what to write instead -------------------------

MISTAKES = [
    ("include:\n  - {name: x, tag: [edtech]}\n", 2, "unknown key 'tag'", "did you mean 'tags'?"),
    (
        "sources:\n  - mastodon: m.example\n    hashtag: [edtech]\n",
        3,
        "unknown key 'hashtag'",
        "did you mean 'hashtags'?",
    ),
    (
        "sources:\n  - bluesky: {hashtags: [a], sortt: top}\n",
        2,
        "unknown key 'sortt'",
        "did you mean 'sort'?",
    ),
    ("sourcse:\n  - file: x.json\n", 1, "unknown key 'sourcse'", "did you mean 'sources'?"),
    ("rank:\n  half_lfe: 6h\n", 2, "unknown key 'half_lfe'", "did you mean 'half_life'?"),
    ("include:\n  - tags: 5\n", 2, "'tags' needs a list of text, not the number 5", "write `tags:"),
    ("include:\n  - tags: {a: 1}\n", 2, "'tags' needs a list of text, not a mapping", "write `tags:"),
    ("include:\n  - tags: [edtech, 2024]\n", 2, "each item of 'tags' must be text", "quote numbers: '2024'"),
    ("exclude:\n  - bot: 'yes please'\n", 2, "'bot' needs true or false", "write `bot: true`"),
    ("exclude:\n  - min_tags: -1\n", 2, "'min_tags' needs a whole number", "min_tags:"),
    ("exclude:\n  - min_likes: 2.5\n", 2, "'min_likes' needs a whole number", "min_likes:"),
    ("include:\n  - regex: '(unclosed'\n", 2, "bad regex '(unclosed'", "fix the pattern"),
    ("sources:\n  - rss: https://example.com/feed\n", 2, "unknown key 'rss'", "did you mean 'feed'?"),
    (
        "sources:\n  - name: x\n",
        2,
        "a source needs one of mastodon:, bluesky:, file:, feed:, feeds: or opml:",
        "mastodon: mastodon.social",
    ),
    ("include:\n  - max_age: 12x\n", 2, "'max_age' needs a duration, not '12x'", "12h"),
    ("rank:\n  half_life: 0h\n", 2, "'half_life' needs a duration", "12h"),
    ("include:\n  - {tags: [a]\n", 3, "YAML syntax error", "check"),
    ("name: x\n\tsources: []\n", 2, "YAML syntax error", ""),
    ("[1, 2]\n", 1, "the file must be a mapping", "sources:"),
    ("just some words\n", 1, "the file must be a mapping", ""),
    ("# only a comment\n\n", 1, "the file is empty", "sources:"),
    ("", 1, "the file is empty", ""),
    ("include:\n  - {tags: [a], tags: [b]}\n", 2, "the key 'tags' appears twice", "keep one"),
    ("yes: 1\n", 1, "the key 'yes' is not a name", "quote"),
    ("x: &a {k: v}\ny:\n  <<: *a\n", 3, "merge keys", "write the keys out"),
    ("a: !!python/object/apply:os.system ['true']\n", 1, "unsupported YAML tag", ""),
    ("name: !!python/name:os.system\n", 1, "cannot read the value", ""),
    ("a: &a [*a]\n", 1, "refers to itself", ""),
    ("include:\n  - name: only-a-name\n", 2, "this rule has no conditions", "tags"),
    ("exclude:\n  - {words: [x], boost: 2}\n", 2, "'boost' does nothing in an exclude rule", "include"),
    ("include:\n  - {name: a, tags: [x]}\n  - {name: a, tags: [y]}\n", 3, "two rules are named 'a'", ""),
    ("include:\n  - tags: [machine learning]\n", 2, "'machine learning' is not a hashtag", "machinelearning"),
    ("include:\n  - network: fediverse\n", 2, "unknown network 'fediverse'", "network: mastodon"),
    ("include:\n  - not: {}\n", 2, "this rule has no conditions", ""),
    ("include:\n  - all: []\n", 2, "'all' has an empty list", ""),
    (
        "include:\n  - all: [{name: inner, tags: [a]}]\n",
        2,
        "unknown key 'name' in a rule inside all/any/not",
        "",
    ),
    (
        "sources:\n  - mastodon: https://mastodon.social/@kate\n",
        2,
        "has a path after the instance",
        "https://mastodon.social",
    ),
    ("sources:\n  - mastodon: not an instance\n", 2, "is not an instance name", ""),
    (
        "sources:\n  - mastodon: m.example\n    local: true\n",
        2,
        "says nothing to fetch",
        "hashtags: [edtech]",
    ),
    ("sources:\n  - mastodon: m.example\n    tagged: a\n", 3, "'tagged' only works with 'account'", ""),
    (
        "sources:\n  - bluesky: carol.bsky.social\n",
        2,
        "'bluesky' takes a mapping",
        "author: carol.bsky.social",
    ),
    ("sources:\n  - bluesky: {lang: en}\n", 2, "says nothing to fetch", "hashtags"),
    ("sources:\n  - bluesky: {list: 'https://bsky.app/profile/a/feed/b'}\n", 2, "is not a Bluesky list", ""),
    ("sources:\n  - bluesky: {author: a.b, sort: top}\n", 2, "'sort' only applies to searches", ""),
    ("sources:\n  - bluesky: {hashtags: [a], sort: new}\n", 2, "sort must be latest or top", ""),
    ("sources:\n  - file: a.json\n    mastodon: m.example\n", 3, "both 'file' and 'mastodon'", ""),
    (
        "sources:\n  - {file: a.json, name: s}\n  - {file: b.json, name: s}\n",
        3,
        "two sources are named 's'",
        "",
    ),
    ("sources:\n  - file: 12\n", 2, "'file' needs text, not the number 12", ""),
    ("sources: {mastodon: m.example}\n", 1, "'sources' should be a list", "- mastodon:"),
    ("sources:\n", 1, "'sources' should be a list, not nothing", ""),
    ("voices:\n  dissenters: [a@b.c]\n", 2, "unknown key 'dissenters'", "did you mean 'dissenting'?"),
    ("rank:\n  mix: {outside_sector: 2}\n", 2, "lists no outside_sector authors", "voices:"),
    ("rank:\n  weights: {engagment: 2}\n", 2, "unknown key 'engagment'", "did you mean 'engagement'?"),
    ("rank:\n  weights: {engagement: .nan}\n", 2, "'engagement' needs a number", ""),
    ("keep: 0\n", 1, "'keep' needs a whole number of at least 1", ""),
    ("keep: many\n", 1, "'keep' needs a whole number", ""),
    ("name: 7\n", 1, "'name' needs text, not the number 7", "name: '7'"),
    ("keep: " + "9" * 5000 + "\n", 1, "cannot read the value", "smaller number"),
    ("include:\n  - domains: ['http://']\n", 2, "is not a domain", ""),
    (
        "# a, #comment\ninclude:\n  - tags: [#edtech, #pln]\n",
        3,
        "YAML reads ' #' as the start of a comment",
        "tags: [edtech, pln]",
    ),
    (
        "include:\n  - tags: #edtech\n",
        2,
        "'tags' needs a list of text, not nothing",
        "quote it or leave out the '#'",
    ),
    ('include:\n  - regex: "\\bslides\\b"\n', 2, "contains a control character", "single quotes"),
    ('include:\n  - regex: "\\d+ tips"\n', 2, "unknown escape character 'd'", "single quotes"),
    (
        "exclude:\n  - words: giveaway, airdrop\n",
        2,
        "one piece of text with commas",
        "words: [giveaway, airdrop]",
    ),
]


@pytest.mark.parametrize(("text", "line", "wrong", "instead"), MISTAKES)
def test_every_mistake_names_file_line_and_next_step(text, line, wrong, instead):
    error = error_for(text)
    message = str(error)
    assert message.startswith(f"pln.yaml:{line}: "), message
    assert error.line == line and error.path == "pln.yaml"
    assert wrong in message
    assert instead in error.hint
    assert "; " in message  # what to write instead always follows


def test_unknown_key_far_from_any_key_lists_the_valid_ones():
    error = error_for("include:\n  - {zzzzqqq: 1}\n")
    assert "valid keys here:" in error.hint and "tags_all" in error.hint


def test_non_utf8_bytes_are_refused_at_their_line(tmp_path):
    path = tmp_path / "latin1.yaml"
    path.write_bytes("name: x\ninclude:\n  - words: [caf\xe9]\n".encode("latin-1"))
    with pytest.raises(FilterFileError) as caught:
        load(path)
    assert str(caught.value).startswith(f"{path}:3: the file is not UTF-8 text (byte 0xe9); save it as UTF-8")


def test_a_byte_order_mark_is_fine(tmp_path):
    path = tmp_path / "bom.yaml"
    path.write_bytes(b"\xef\xbb\xbfname: bom\n")
    assert load(path).name == "bom"


def test_control_characters_are_refused_at_their_line():
    error = error_for("name: x\ninclude:\n  - words: [a\x07b]\n")
    assert str(error).startswith("pln.yaml:3: the file contains a control character")


def test_huge_files_are_refused_before_reading(tmp_path):
    path = tmp_path / "huge.yaml"
    path.write_text("# padding\n" * 150_000)
    with pytest.raises(FilterFileError) as caught:
        load(path)
    assert "filter files are limited to 1,000,000" in str(caught.value)
    assert str(caught.value).startswith(f"{path}:1: ")


def test_billion_laughs_is_refused():
    lines = ["a0: &a0 [lol, lol, lol, lol, lol, lol, lol, lol, lol]"]
    lines += [f"a{n}: &a{n} [" + ", ".join([f"*a{n - 1}"] * 9) + "]" for n in range(1, 10)]
    error = error_for("\n".join(lines) + "\n")
    assert "expands to more than 100,000 values" in str(error)
    assert re.match(r"pln\.yaml:\d+: ", str(error))


def test_deep_nesting_is_refused():
    error = error_for("a: " + "[" * 5000 + "]" * 5000 + "\n")
    assert "nested more than 64 levels deep" in str(error)


def test_missing_file_and_directory(tmp_path):
    with pytest.raises(FilterFileError, match="no such filter file"):
        load(tmp_path / "nope.yaml")
    with pytest.raises(FilterFileError, match="is a directory"):
        load(tmp_path)


def test_python_object_tags_never_run(tmp_path):
    marker = tmp_path / "ran"
    text = f"a: !!python/object/apply:os.system ['touch {marker}']\n"
    error_for(text)
    assert not marker.exists()


# --- property: nothing but FilterFileError, always with file and line ------------------------

KEYS = st.sampled_from(
    ["name", "sources", "exclude", "include", "rank", "voices", "keep", "mastodon", "bluesky", "file", "half_life",
     "weights", "mix", "trusted", "dissenting", "outside_sector", "boost", "tag", "x", *PREDICATE_KEYS,
     *MASTODON_OPTIONS, *BLUESKY_OPTIONS]
)  # fmt: skip
SCALARS = st.one_of(
    st.none(), st.booleans(), st.integers(-(10**6), 10**6), st.floats(allow_nan=True), st.text(max_size=12),
    st.sampled_from(["12h", "12x", "(?i)a|b", "(", "*", "edtech", "#pln", "at://x", "http://127.0.0.1:1", "m.example",
                     "kate@example.social", "latest", "top", "-1", "0", "[", "{", "a: b", "&a", "*a", "!!binary x"]),
)  # fmt: skip
VALUES = st.recursive(
    SCALARS,
    lambda inner: st.one_of(st.lists(inner, max_size=4), st.dictionaries(KEYS, inner, max_size=4)),
    max_leaves=20,
)
GOOD = st.sampled_from(
    [["edtech", "pln"], "edtech", True, False, 3, "12h", "(?i)slides", {"tags": ["a"]}, [{"tags": ["a"]}]]
)
SOURCE_KEYS = st.sampled_from(["mastodon", "bluesky", "file", "tag", *MASTODON_OPTIONS, *BLUESKY_OPTIONS])
RULE_KEYS = st.sampled_from([*PREDICATE_KEYS, "name", "boost", "tag", "all", "any", "not"])
RANK_KEYS = st.sampled_from(
    ["half_life", "weights", "max_per_author", "max_per_instance", "mix", "engagement", "trusted"]
)
STRUCTURED = st.fixed_dictionaries(
    {},
    optional={
        "name": SCALARS,
        "sources": st.lists(
            st.dictionaries(SOURCE_KEYS, st.one_of(GOOD, VALUES), min_size=1, max_size=4), max_size=3
        ),
        "exclude": st.lists(st.dictionaries(RULE_KEYS, st.one_of(GOOD, VALUES), max_size=4), max_size=3),
        "include": st.one_of(
            st.lists(st.dictionaries(RULE_KEYS, st.one_of(GOOD, VALUES), max_size=4), max_size=3), VALUES
        ),
        "rank": st.dictionaries(
            RANK_KEYS, st.one_of(GOOD, VALUES, st.dictionaries(KEYS, SCALARS)), max_size=3
        ),
        "voices": st.dictionaries(
            st.sampled_from(["trusted", "dissenting", "outside_sector", "x"]), VALUES, max_size=3
        ),
        "keep": SCALARS,
    },
)
DOCUMENTS = st.one_of(
    STRUCTURED.map(lambda doc: yaml.safe_dump(doc, sort_keys=False)),
    STRUCTURED.map(lambda doc: yaml.safe_dump(doc, sort_keys=False)),
    st.dictionaries(KEYS, VALUES, max_size=6).map(lambda doc: yaml.safe_dump(doc, sort_keys=False)),
    st.builds(lambda doc, cut: doc[:cut], st.dictionaries(KEYS, VALUES, max_size=6).map(yaml.safe_dump), st.integers(0, 300)),
    st.builds(
        lambda doc, position, junk: doc[:position] + junk + doc[position:],
        st.just(DESIGN_EXAMPLE), st.integers(0, len(DESIGN_EXAMPLE)),
        st.sampled_from(["\t", ":", "- ", "[", "]", "{", "}", "'", '"', "&x ", "*x ", "!!", "\n  ", "#", "%", "@", "`", "\x00", "|", ">"]),
    ),
    st.builds(
        lambda position, length: DESIGN_EXAMPLE[:position] + DESIGN_EXAMPLE[position + length :],
        st.integers(0, len(DESIGN_EXAMPLE)), st.integers(1, 30),
    ),
    st.text(max_size=200),
)  # fmt: skip


FUZZ = {"files": 0, "errors": 0}


@pytest.fixture(scope="module", autouse=True)
def fuzz_figure(pytestconfig):
    yield
    if FUZZ["files"]:
        session_figure(
            pytestconfig,
            f"filter-file fuzz: {FUZZ['files']} generated files, {FUZZ['errors']} refused with FILE:LINE "
            "and a fix, the rest understood; 0 tracebacks",
        )


@settings(max_examples=1200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(DOCUMENTS)
def test_malformed_files_only_ever_raise_filter_file_errors_with_a_line(text):
    FUZZ["files"] += 1
    try:
        ff = parse(text, "fuzz.yaml")
    except FilterFileError as error:
        FUZZ["errors"] += 1
        assert re.match(r"fuzz\.yaml:\d+: \S", str(error)), str(error)
        assert error.line and error.line >= 1
        assert error.hint
    else:
        assert describe(ff)


@settings(max_examples=200, deadline=None)
@given(st.binary(max_size=300))
def test_arbitrary_bytes_only_ever_raise_filter_file_errors(tmp_path_factory, data):
    path = Path(tmp_path_factory.mktemp("bytes")) / "b.yaml"
    path.write_bytes(data)
    try:
        load(path)
    except FilterFileError as error:
        assert re.match(re.escape(str(path)) + r":\d+: ", str(error)), str(error)
