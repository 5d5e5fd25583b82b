"""`query --limit 20`, `top` and `top FILTER` end to end for two commits in the same run, each beside
a bare click start-up (bare_query.py --help), as benchmarks/scale.py measures them.

    git worktree add --detach /tmp/before COMMIT
    .venv/bin/python benchmarks/startup_ab.py --before /tmp/before --db ARCHIVE [--repeat 20]

"before" runs the checkout at --before (put first on PYTHONPATH), "after" this checkout; every
command and the bare script take turns, so the load on the machine falls on all alike. Prints the
median wall and CPU (user+sys) time of each, and its ratios to the bare script's. No bytecode is
compiled per run (PYTHONPYCACHEPREFIX in a temporary folder), as for an installed plnfilter. Each
variant has its own PLNFILTER_HOME: the filter cache holds one code stamp, so two checkouts sharing
it would each find the other's and check the file again at every run (`top FILTER` uncached).
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path[:0] = [str(HERE)]

from measure import PLNFILTER, PYTHON, interleaved_children  # noqa: E402
from scale import AS_OF, BARE  # noqa: E402

FILTER = HERE.parent / "filters" / "pln-digest.yaml"


def commands(db: Path) -> dict[str, list[str]]:
    args = ["--format", "jsonl", "--db", str(db)]
    return {
        "query --limit 20": ["query", "--limit", "20", *args],
        "top": ["top", "--as-of", AS_OF, *args],
        "top FILTER": ["top", str(FILTER), "--as-of", AS_OF, *args],
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--before", type=Path, required=True, help="a checkout of the commit to compare")
    parser.add_argument("--db", type=Path, required=True, help="the archive (e.g. scale.py --keep's)")
    parser.add_argument("--repeat", type=int, default=20)
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="plnfilter-startup-") as work:
        env = {k: v for k, v in os.environ.items() if not k.startswith("PLNFILTER_")}
        env.pop("PYTHONDONTWRITEBYTECODE", None)
        env.update(PYTHONPYCACHEPREFIX=str(Path(work) / "pycache"), PLNFILTER_HOME=work)
        # `env` runs each child with its own PYTHONPATH; the bare script pays the same exec.
        variants = {"before": str(args.before.resolve()), "after": ""}
        runs = {"bare click start-up": ["env", "PYTHONPATH=", PYTHON, BARE, "--help"]}
        for name, command in commands(args.db).items():
            for variant, path in variants.items():
                home = Path(work) / variant  # each its own filter cache: one would evict the other's
                runs[f"{name} {variant}"] = [
                    "env",
                    f"PYTHONPATH={path}",
                    f"PLNFILTER_HOME={home}",
                    PLNFILTER,
                    *command,
                ]
        results = interleaved_children(runs, args.repeat, env=env)
    bare = statistics.median(r.seconds for r in results["bare click start-up"])
    bare_cpu = statistics.median(r.cpu_seconds for r in results["bare click start-up"])
    print(f"{'command':28s} {'wall ms':>8s} {'ratio':>6s} {'CPU ms':>8s} {'ratio':>6s}")
    for name, found in results.items():
        wall = statistics.median(r.seconds for r in found)
        cpu = statistics.median(r.cpu_seconds for r in found)
        print(f"{name:28s} {wall * 1000:8.1f} {wall / bare:6.2f} {cpu * 1000:8.1f} {cpu / bare_cpu:6.2f}")
    print("load average", ", ".join(f"{x:.1f}" for x in os.getloadavg()))
    return 0


if __name__ == "__main__":
    sys.exit(main())
