"""Would pyarrow's compiled kernels bring `export --all --format csv` under 1.5x `sqlite3 -csv`?

    .venv/bin/python benchmarks/csv_arrow_probe.py --db ARCHIVE [--repeat 5] [--work DIR]

A prototype, not plnfilter code: the plain SELECT of figure 7, fetched in batches, each column
turned into an Arrow array (`pa.array`) and made CSV cells by pyarrow.compute kernels (NULL empty,
flags true/false, plain JSON lists space-joined, formula-start cells prefixed with `'`, cells with
a comma, quote or line break quoted as the csv module does), the cells joined into lines by
`binary_join_element_wise` and the lines' UTF-8 buffer written as it is. (Arrow's own CSV writer
cannot be used: its `quoting_style="needed"` quotes every string cell, `"x"`, where the csv module
writes `x`.) The score stays Python's `repr(round(x, 3))`: Arrow formats floats otherwise (`1`,
`1e+16`, `0.00001` for `1.0`, `1e16`, `1e-05`). A batch it cannot vouch for raises (the prototype
has no slow path; none occurs in a scale.py archive).

Beside it, in turns, the shell, `plnfilter export`, the same plain SELECT fetched by Python and
thrown away, the same for csv_lines' line SELECT, a bare Python start and `import pyarrow,
pyarrow.compute`: the floors any Python-fetch design pays. Prints the medians of wall and CPU
(user+sys) time and their ratios to the shell's, and whether the prototype's bytes are plnfilter's.
"""

from __future__ import annotations

import argparse
import filecmp
import os
import sys
import tempfile
from pathlib import Path

from plnfilter.store.columns import POST_SCHEMA, VERDICT_SCHEMA
from plnfilter.store.rows import BOOL_COLUMNS as BOOLS
from plnfilter.store.rows import FORMULA_START
from plnfilter.store.rows import JSON_LIST_COLUMNS as LISTS

HERE = Path(__file__).resolve().parent
sys.path[:0] = [str(HERE)]

INTS = {name for name, kind in {**VERDICT_SCHEMA, **POST_SCHEMA}.items() if kind is int} - BOOLS
FORMULA = "^[" + "".join("\\" + c if c in "-\\" else c for c in FORMULA_START) + "]"
NEEDS_QUOTES = '[,"\r\n]'
PLAIN_LIST = r'^(\[\]|\["[^"\\\x00-\x1f]*"(,"[^"\\\x00-\x1f]*")*\])$'
BATCH = 5000


def arrow_export(db: str, sql: str, out: str) -> None:
    """The prototype (a child process: its import of pyarrow is timed with it)."""
    import csv
    import io
    import sqlite3

    import pyarrow as pa
    import pyarrow.compute as pc

    true_false = pa.array(["false", "true"])

    def text_cells(arr):
        formula = pc.match_substring_regex(arr, FORMULA)
        if pc.any(formula).as_py():
            arr = pc.if_else(formula, pc.binary_join_element_wise("'", arr, ""), arr)
        needs = pc.match_substring_regex(arr, NEEDS_QUOTES)
        if pc.any(needs).as_py():
            quoted = pc.binary_join_element_wise('"', pc.replace_substring(arr, '"', '""'), '"', "")
            arr = pc.if_else(needs, quoted, arr)
        return arr

    def cells(name, values):
        if name == "score":
            if not set(map(type, values)) <= {float, type(None)}:
                raise ValueError("a score that is not a float")
            return pa.array(["" if v is None else repr(round(v, 3)) for v in values], pa.string())
        if name in BOOLS or name in INTS:
            ints = pa.array(values, pa.int64())
            made = pc.take(true_false, pc.cast(pc.not_equal(ints, 0), pa.int8())) if name in BOOLS else ints
            return pc.fill_null(pc.cast(made, pa.string()), "")
        arr = pc.fill_null(pa.array(values, pa.string()), "")
        if name in LISTS:
            if not pc.all(pc.match_substring_regex(arr, PLAIN_LIST)).as_py():
                raise ValueError("a list that is not plain")
            arr = pc.replace_substring(pc.utf8_slice_codeunits(arr, 2, -2), '","', " ")
        return text_cells(arr)

    cursor = sqlite3.connect(f"file:{db}?mode=ro", uri=True).execute(sql)
    names = [d[0] for d in cursor.description]
    with open(out, "wb") as f:
        header = io.StringIO()
        csv.writer(header, lineterminator="\r\n").writerow(names)
        f.write(header.getvalue().encode())
        while batch := cursor.fetchmany(BATCH):
            columns = [cells(n, c) for n, c in zip(names, zip(*batch, strict=True), strict=True)]
            lines = pc.binary_join_element_wise(pc.binary_join_element_wise(*columns, ","), "\r\n", "")
            _, offsets, data = lines.buffers()
            bounds = memoryview(offsets).cast("i")
            f.write(memoryview(data)[bounds[lines.offset] : bounds[lines.offset + len(lines)]])


def fetch_only(db: str, sql: str) -> None:
    import sqlite3

    cursor = sqlite3.connect(f"file:{db}?mode=ro", uri=True).execute(sql)
    while cursor.fetchmany(BATCH):
        pass


def line_sql(plain: str) -> str:
    """csv_lines' SELECT for the same rows: its select list in place of the plain one."""
    from plnfilter.store.csv_lines import line_plan

    head, rest = plain.split(" FROM posts ", 1)
    names = [column.rsplit(".", 1)[-1] for column in head.removeprefix("SELECT ").split(", ")]
    plan = line_plan(names)
    assert plan is not None
    return f"SELECT {plan.select_list} FROM posts {rest}"  # noqa: S608 (the select list is plnfilter's own)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--db", type=Path)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--work", type=Path)
    parser.add_argument("--child", nargs="+", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        kind, db, sql_file, *out = args.child
        sql = Path(sql_file).read_text()
        arrow_export(db, sql, out[0]) if kind == "arrow" else fetch_only(db, sql)
        return
    measure(args.db.resolve(), args.repeat, args.work or Path(tempfile.mkdtemp(prefix="csv-arrow-")))


def measure(db: Path, repeat: int, work: Path) -> None:
    import shutil

    from bench_cli import shell_sql
    from measure import PLNFILTER, PYTHON, median_cpu_seconds, median_seconds, run_child

    from plnfilter.query import Selection

    work.mkdir(parents=True, exist_ok=True)
    plain = shell_sql(Selection(kept=None))
    (work / "plain.sql").write_text(plain)
    (work / "line.sql").write_text(line_sql(plain))
    env = {k: v for k, v in os.environ.items() if not k.startswith("PLNFILTER_")}
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    env.update(PYTHONPYCACHEPREFIX=str(work / "pycache"), PLNFILTER_HOME=str(work / "home"))
    me = [PYTHON, __file__, "--child"]
    outputs = {"plnfilter export": work / "export.csv", "arrow prototype": work / "arrow.csv"}
    shell = [shutil.which("sqlite3") or "sqlite3", "-readonly", "-csv", "-header", str(db), plain]
    export = [PLNFILTER, "export", "--all", "--format", "csv", "--db", str(db), "-o"]
    commands = {
        "sqlite3 -csv": shell,
        "plnfilter export": [*export, str(outputs["plnfilter export"])],
        "arrow prototype": [*me, "arrow", str(db), str(work / "plain.sql"), str(outputs["arrow prototype"])],
        "plain SELECT fetched, no output": [*me, "fetch", str(db), str(work / "plain.sql")],
        "line SELECT fetched, no output": [*me, "fetch", str(db), str(work / "line.sql")],
        "python -c pass": [PYTHON, "-c", "pass"],
        "import pyarrow, pyarrow.compute": [PYTHON, "-c", "import pyarrow, pyarrow.compute"],
    }
    shell_out = work / "shell.csv"
    results: dict[str, list] = {name: [] for name in commands}
    for turn in range(repeat + 1):  # the first turn untimed: bytecode and page caches warm
        for name, argv in commands.items():
            if name in outputs:
                outputs[name].unlink(missing_ok=True)
            result = run_child(argv, env=env, stdout_to=shell_out if name == "sqlite3 -csv" else None)
            if result.returncode != 0:
                raise RuntimeError(f"{name} exited {result.returncode}: {result.stderr.decode()[-500:]}")
            if turn:
                results[name].append(result)
    same = filecmp.cmp(outputs["plnfilter export"], outputs["arrow prototype"], shallow=False)
    shell_runs = results["sqlite3 -csv"]
    print(f"load {os.getloadavg()[0]:.2f}; medians of {repeat}; arrow bytes identical to plnfilter's: {same}")
    for name, runs in results.items():
        wall, cpu = median_seconds(runs), median_cpu_seconds(runs)
        wall_ratio, cpu_ratio = wall / median_seconds(shell_runs), cpu / median_cpu_seconds(shell_runs)
        print(f"{name:34s} wall {wall:6.3f} s ({wall_ratio:.2f})  CPU {cpu:6.3f} s ({cpu_ratio:.2f})")


if __name__ == "__main__":
    main()
