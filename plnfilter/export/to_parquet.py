"""A Parquet dataset of the selected posts, partitioned by network and month, kept up to date in place.

    DIR/_plnfilter.json                                  the manifest: schema, each partition's fingerprint
    DIR/network=mastodon/month=2026-11/part-00000.parquet

DuckDB, Spark and BigQuery read the folder names as the `network` and `month` columns (hive
partitioning). Exporting again into DIR rewrites only the partitions whose rows changed, each
written to a hidden temp file in its folder and renamed over the old one, and removes the files of
partitions that have no rows any more; a reader sees each partition whole, old or new. A dataset an
earlier plnfilter wrote with another schema is rewritten whole, every temp file written before any
is renamed, so readers never meet two schemas in one dataset (DuckDB takes the first file's columns
and silently drops the rest). pyarrow is imported here only: `pip install 'plnfilter[parquet]'`.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

from plnfilter.errors import ArchiveLocked, PlnError, UsageError
from plnfilter.store.dataset import DATASET_COLUMNS, TIME_COLUMNS, ArchiveDataset, Partition
from plnfilter.store.rows import BOOL_COLUMNS, JSON_LIST_COLUMNS, load_list
from plnfilter.times import now_utc, parse_iso, to_iso

if TYPE_CHECKING:
    import pyarrow as pa

SCHEMA_VERSION = 2  # 2: visibility, author_opt_out, dropped_by
MANIFEST = "_plnfilter.json"  # a leading _ : Spark and Hadoop skip it, and it is no *.parquet
LOCK = "_plnfilter.lock"
PART = "part-00000.parquet"
NULL_PARTITION = "__HIVE_DEFAULT_PARTITION__"  # the hive name for a NULL partition value (no date)
INSTALL_HINT = "install it with: pip install 'plnfilter[parquet]'"
_INT_COLUMNS = frozenset({"author_followers", "likes", "reposts", "replies", "quotes"})
_FLOAT_COLUMNS = frozenset({"score"})
_PART_FILE = re.compile(r"^(\.part-.*\.tmp|part-\d+\.parquet)$")


def require_pyarrow() -> None:
    """A clear error, not a traceback, when the optional dependency is missing."""
    try:
        import pyarrow  # noqa: F401
        import pyarrow.parquet  # noqa: F401
    except ImportError as error:
        raise PlnError("--format parquet needs pyarrow, which is not installed", INSTALL_HINT) from error


def arrow_schema() -> pa.Schema:
    """The files' columns and types; `network` and `month` are the folders (strings)."""
    import pyarrow as pa

    def kind(name: str) -> pa.DataType:
        if name in TIME_COLUMNS:
            return pa.timestamp("us", tz="UTC")
        if name in JSON_LIST_COLUMNS:
            return pa.list_(pa.string())
        if name in BOOL_COLUMNS:
            return pa.bool_()
        if name in _INT_COLUMNS:
            return pa.int64()
        if name in _FLOAT_COLUMNS:
            return pa.float64()
        return pa.string()

    fields = [pa.field(name, kind(name), nullable=name != "uri") for name in DATASET_COLUMNS]
    return pa.schema(fields, metadata={"plnfilter.schema_version": str(SCHEMA_VERSION)})


def partition_path(partition: Partition) -> str:
    """`network=mastodon/month=2026-11`, each value escaped as hive does (%XX) so it is one safe name."""

    def escape(value: str | None) -> str:
        if value is None or value == "":
            return NULL_PARTITION
        return quote(value, safe="").replace(".", "%2E")

    return f"network={escape(partition.network)}/month={escape(partition.month)}"


def write_parquet(dataset: ArchiveDataset, folder: Path) -> int:
    """Bring the dataset in `folder` up to date with the archive; returns the rows it holds."""
    require_pyarrow()
    from filelock import FileLock, Timeout

    folder = Path(folder)
    _claim(folder)
    try:
        with FileLock(str(folder / LOCK), timeout=0), dataset.snapshot():
            return _update(dataset, folder)
    except Timeout:
        raise ArchiveLocked(
            f"another export is writing the dataset {folder}", "wait for it to finish, then try again"
        ) from None


def _claim(folder: Path) -> None:
    """The folder must be new, empty, or an earlier dataset: nothing else in it is ever removed."""
    if folder.exists() and not folder.is_dir():
        raise UsageError(f"-o {folder} is a file; a Parquet dataset is a folder", "name a folder")
    if folder.is_dir() and not (folder / MANIFEST).exists():
        others = [p.name for p in folder.iterdir() if p.name != LOCK]
        if others:
            raise UsageError(
                f"-o {folder} holds other files ({others[0]}...) and no {MANIFEST}: it is not a plnfilter dataset",
                "name a new or empty folder",
            )
    folder.mkdir(parents=True, exist_ok=True)


def _read_manifest(folder: Path) -> dict[str, Any]:
    try:
        manifest = json.loads((folder / MANIFEST).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return manifest if isinstance(manifest, dict) else {}


def _write_manifest(folder: Path, entries: dict[str, dict[str, Any]], last: dict[str, Any]) -> None:
    manifest = {
        "format": "plnfilter parquet dataset",
        "schema_version": SCHEMA_VERSION,
        "columns": list(DATASET_COLUMNS),
        "partitioned_by": ["network", "month"],
        "partitions": entries,
        "last_export": last,
    }
    _replace_file(folder / MANIFEST, json.dumps(manifest, indent=1, sort_keys=True).encode("utf-8"))


def _replace_file(path: Path, data: bytes) -> None:
    tmp = path.with_name(f".{path.name}.tmp")
    with open(tmp, "wb") as out:
        out.write(data)
        out.flush()
        os.fsync(out.fileno())
    os.replace(tmp, path)


def _update(dataset: ArchiveDataset, folder: Path) -> int:
    old = _read_manifest(folder)
    same_schema = old.get("schema_version") == SCHEMA_VERSION and old.get("columns") == list(DATASET_COLUMNS)
    known = old.get("partitions") if same_schema else None
    known = known if isinstance(known, dict) else {}
    if not (folder / MANIFEST).exists():
        _write_manifest(folder, {}, {})  # claim the folder before the first partition lands
    wanted = {partition_path(p): p for p in dataset.partitions()}
    entries: dict[str, dict[str, Any]] = {}
    written, unchanged = [], 0
    stamp = to_iso(now_utc())
    schema = None
    # Files of another schema (or of a manifest that no longer reads) are replaced together at the end.
    hold = not same_schema and any(folder.glob(f"network=*/month=*/{PART}"))
    held: list[tuple[Path, Path]] = []  # (temp file, the part file it replaces)
    try:
        for path, partition in wanted.items():
            before = known.get(path)
            if (
                isinstance(before, dict)
                and before.get("fingerprint") == partition.fingerprint
                and (folder / path / PART).is_file()
            ):
                entries[path] = before
                unchanged += 1
                continue
            schema = schema or arrow_schema()
            tmp, rows = _write_partition(dataset, partition, folder / path, schema)
            if hold:
                held.append((tmp, folder / path / PART))
            else:
                os.replace(tmp, folder / path / PART)
            entries[path] = {"rows": rows, "fingerprint": partition.fingerprint, "written": stamp}
            written.append(path)
    except BaseException:
        for tmp, _ in held:
            tmp.unlink(missing_ok=True)
        raise
    for tmp, part in held:
        os.replace(tmp, part)
    removed = _remove_others(folder, set(wanted))
    _write_manifest(
        folder, entries, {"at": stamp, "written": written, "removed": removed, "unchanged": unchanged}
    )
    return sum(p.rows for p in wanted.values())


def _write_partition(
    dataset: ArchiveDataset, partition: Partition, where: Path, schema: pa.Schema
) -> tuple[Path, int]:
    """The partition's rows in a hidden temp file in `where`, on disk; the caller renames it into place."""
    import pyarrow.parquet as pq

    where.mkdir(parents=True, exist_ok=True)
    tmp = where / f".part-{os.getpid()}.tmp"
    count = 0
    try:
        with open(tmp, "wb") as out:
            with pq.ParquetWriter(out, schema, compression="snappy") as writer:
                for batch in dataset.batches(partition):
                    writer.write_batch(to_record_batch(batch, schema))
                    count += len(batch)
            out.flush()
            os.fsync(out.fileno())
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    return tmp, count


def _remove_others(folder: Path, wanted: set[str]) -> list[str]:
    """Delete the part files (and leftover temp files) of partitions no longer wanted, and their
    folders once empty; only names this writer makes are touched."""
    removed = []
    for network_dir in sorted(folder.glob("network=*")):
        if not network_dir.is_dir():
            continue
        for month_dir in sorted(network_dir.glob("month=*")):
            if not month_dir.is_dir():
                continue
            path = f"{network_dir.name}/{month_dir.name}"
            for file in month_dir.iterdir():
                stale_tmp = file.name.startswith(".part-") and file.name.endswith(".tmp")
                if _PART_FILE.match(file.name) and (path not in wanted or stale_tmp):
                    file.unlink(missing_ok=True)
                    if not stale_tmp:
                        removed.append(path)
            _remove_if_empty(month_dir)
        _remove_if_empty(network_dir)
    return removed


def _remove_if_empty(path: Path) -> None:
    try:
        path.rmdir()
    except OSError:
        pass  # not empty: something else lives there


def to_record_batch(rows: Sequence[tuple[Any, ...]], schema: pa.Schema) -> pa.RecordBatch:
    """Stored rows (DATASET_COLUMNS) as one Arrow batch of `schema`'s types."""
    import pyarrow as pa

    columns = list(zip(*rows, strict=True)) if rows else [()] * len(DATASET_COLUMNS)
    arrays = [
        _array(name, values, field.type)
        for name, values, field in zip(DATASET_COLUMNS, columns, schema, strict=True)
    ]
    return pa.RecordBatch.from_arrays(arrays, schema=schema)


def _array(name: str, values: Sequence[Any], kind: pa.DataType) -> pa.Array:
    import pyarrow as pa

    if name in JSON_LIST_COLUMNS:
        return _lists(values, kind)
    if name in BOOL_COLUMNS:
        try:
            return pa.array(values, type=pa.int64()).cast(kind)
        except (pa.ArrowInvalid, pa.ArrowTypeError, OverflowError):
            return pa.array([None if v is None else bool(v) for v in values], type=kind)
    if name in TIME_COLUMNS:
        return _times(values, kind)
    try:
        return pa.array(values, type=kind)
    except (pa.ArrowInvalid, pa.ArrowTypeError, OverflowError):  # a cell of another type (old archives)
        return pa.array([_coerce(v, kind) for v in values], type=kind)


def _lists(values: Sequence[Any], kind: pa.DataType) -> pa.Array:
    """JSON list cells as lists of strings: the whole column parsed by orjson in one call (the cells
    are what `dump_list` wrote); a damaged cell sends the column through `load_list`, cell by cell."""
    import orjson
    import pyarrow as pa

    try:
        parsed = orjson.loads("[" + ",".join(v or "[]" for v in values) + "]")
        if len(parsed) == len(values):
            return pa.array(parsed, type=kind)
    except (orjson.JSONDecodeError, TypeError, pa.ArrowInvalid, pa.ArrowTypeError):
        pass
    return pa.array([load_list(v if isinstance(v, str) else None) for v in values], type=kind)


def _times(values: Sequence[Any], kind: pa.DataType) -> pa.Array:
    """Stored times (`2026-11-26T09:30:00Z`, as `times.to_iso` writes them) as UTC timestamps; any
    other ISO form is read by Arrow, anything else by the API time parser, cell by cell."""
    import pyarrow as pa
    import pyarrow.compute as pc

    try:
        text = pa.array(values, type=pa.string())
        try:
            return pc.strptime(text, format="%Y-%m-%dT%H:%M:%SZ", unit="us").cast(kind)
        except pa.ArrowInvalid:
            return text.cast(kind)
    except (pa.ArrowInvalid, pa.ArrowTypeError):
        return pa.array([_moment(v) for v in values], type=kind)


def _moment(value: Any):
    if not value or not isinstance(value, str):
        return None
    try:
        return parse_iso(value)
    except ValueError:
        return None


def _coerce(value: Any, kind: pa.DataType) -> Any:
    import pyarrow as pa

    if value is None:
        return None
    try:
        if pa.types.is_integer(kind):
            number = int(value)
            return number if -(2**63) <= number < 2**63 else None
        if pa.types.is_floating(kind):
            return float(value)
    except (TypeError, ValueError):
        return None
    return value.decode("utf-8", "replace") if isinstance(value, bytes) else str(value)
