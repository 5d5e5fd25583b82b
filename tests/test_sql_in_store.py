"""SQL lives only in plnfilter/store/ (STYLE.md rule 2): no other module writes a statement or runs one."""

from __future__ import annotations

import ast
import re
from pathlib import Path

ROOT = Path(__file__).parent.parent
PACKAGE = ROOT / "plnfilter"

SQL_PATTERNS = [
    re.compile(pattern, re.IGNORECASE | re.DOTALL)
    for pattern in (
        r"\bSELECT\b.+?\bFROM\b",
        r"\b(INSERT|REPLACE)\s+(OR\s+\w+\s+)?INTO\b",
        r"\bUPDATE\s+\S+\s+SET\b",
        r"\bDELETE\s+FROM\b",
        r"\bCREATE\s+(UNIQUE\s+|VIRTUAL\s+|TEMP\s+|TEMPORARY\s+)?(TABLE|INDEX|TRIGGER|VIEW)\b",
        r"\bDROP\s+(TABLE|INDEX|TRIGGER|VIEW)\b",
        r"\bALTER\s+TABLE\b",
        r"\bPRAGMA\s+\w+",
        r"\b\w+\s+MATCH\s+\?",
    )
]
RUNNING_SQL = {"execute", "executemany", "executescript"}


def _docstrings(tree: ast.AST) -> set[int]:
    """ids of the docstring nodes: a command's help may show an example `--sql "select ... from"`."""
    found = set()
    for node in ast.walk(tree):
        if isinstance(node, (ast.Module, ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef)):
            body = node.body
            if body and isinstance(body[0], ast.Expr) and isinstance(body[0].value, ast.Constant):
                found.add(id(body[0].value))
    return found


def _strings(tree: ast.AST) -> list[tuple[int, str]]:
    """Every string literal with its line; an f-string's parts joined with {} where values go."""
    skip = _docstrings(tree)
    inside_fstrings = {
        id(part) for node in ast.walk(tree) if isinstance(node, ast.JoinedStr) for part in ast.walk(node)
    }
    out = []
    for node in ast.walk(tree):
        if isinstance(node, ast.JoinedStr):
            text = "".join(
                part.value if isinstance(part, ast.Constant) and isinstance(part.value, str) else "{}"
                for part in node.values
            )
            out.append((node.lineno, text))
        elif (
            isinstance(node, ast.Constant)
            and isinstance(node.value, str)
            and id(node) not in skip
            and id(node) not in inside_fstrings
        ):
            out.append((node.lineno, node.value))
    return out


def sql_outside_store(root: Path = PACKAGE) -> list[str]:
    """`file:line: what` for every SQL string or execute call in a module outside plnfilter/store/."""
    problems: list[tuple[Path, int, str]] = []
    for path in sorted(root.rglob("*.py")):
        if root / "store" in path.parents:
            continue
        where = path.relative_to(root.parent)
        tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
        for line, text in _strings(tree):
            for pattern in SQL_PATTERNS:
                found = pattern.search(text)
                if found:
                    problems.append((where, line, f"SQL in a string: {found.group(0)[:60]!r}"))
                    break
        for node in ast.walk(tree):
            if (
                isinstance(node, ast.Call)
                and isinstance(node.func, ast.Attribute)
                and node.func.attr in RUNNING_SQL
            ):
                problems.append((where, node.lineno, f"runs SQL: .{node.func.attr}(...)"))
    return [f"{where}:{line}: {what}" for where, line, what in sorted(problems)]


def test_no_module_outside_store_writes_or_runs_sql():
    problems = sql_outside_store()
    assert not problems, (
        "SQL belongs in plnfilter/store/ (a function there named for what it reads or writes):\n  "
        + "\n  ".join(problems)
    )


def test_the_scan_finds_sql_written_the_ways_the_package_writes_it(tmp_path):
    """The guard itself: each way SQL was written outside store/ before it moved is caught, with its line."""
    module = tmp_path / "plnfilter" / "digest.py"
    module.parent.mkdir()
    module.write_text(
        '"""Docstrings may say: plnfilter query --sql "select author from posts"."""\n'
        "def scan(conn, columns, where):\n"
        '    sql = f"SELECT {columns} FROM posts WHERE {where} ORDER BY id"\n'
        '    found = conn.execute("SELECT uri FROM posts WHERE url = ? LIMIT 1", [1])\n'
        '    conn.executemany("INSERT INTO runs (id) VALUES (?)", [])\n'
        "    fts = 'posts_fts MATCH ?'\n"
        '    note = "select the posts you want"\n'
        "    return sql, found, fts, note\n"
    )
    problems = sql_outside_store(tmp_path / "plnfilter")
    lines = sorted(int(p.split(":")[1]) for p in problems)
    assert lines == [3, 4, 4, 5, 5, 6], problems
    assert all(p.startswith(f"{Path('plnfilter', 'digest.py')}:") for p in problems)
