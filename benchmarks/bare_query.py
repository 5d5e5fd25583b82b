"""The start-up baseline: a bare click command importing only sqlite3 (and json to print) that runs
the SQL plnfilter would run and prints JSON lines. Not a tool: a floor to measure plnfilter against.

    bare_query.py --db ARCHIVE --sql-json '["SELECT ...", [params]]'
"""

import json
import sqlite3

import click


@click.command()
@click.option("--db", "db_path", required=True)
@click.option("--sql-json", required=True, help="[sql, params] as JSON.")
def main(db_path: str, sql_json: str) -> None:
    """Print the rows of one SELECT as JSON lines."""
    sql, params = json.loads(sql_json)
    conn = sqlite3.connect(f"file:{db_path}?mode=ro", uri=True)
    cursor = conn.execute(sql, params)
    names = [d[0] for d in cursor.description]
    out = click.get_text_stream("stdout")
    for row in cursor:
        out.write(json.dumps(dict(zip(names, row, strict=True)), ensure_ascii=False) + "\n")


if __name__ == "__main__":
    main()
