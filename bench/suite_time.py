"""The test suite's own time, before and after (issue 10): two checkouts, each with its own
``.venv``, run the tests both have (same node ids, outside ``tests/interop``) side by side,
so that both see the same load.  Prints wall time and the user+system CPU of pytest and
every process it reaped.

    python bench/suite_time.py /path/to/before-checkout /path/to/after-checkout
"""

from __future__ import annotations

import argparse
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

PYTEST = ["-m", "pytest", "-q", "-p", "no:cacheprovider"]


def collect(tree: Path) -> list[str]:
    out = subprocess.run([str(tree / ".venv/bin/python"), *PYTEST, "--collect-only",
                          "--ignore=tests/interop"], cwd=tree, capture_output=True, text=True)
    return [line for line in out.stdout.splitlines() if "::" in line]


def timed(tree: Path, ids: list[str]) -> None:
    """Child mode: run ``ids`` in ``tree`` and print one result line."""
    t0 = time.perf_counter()
    rc = subprocess.call([str(tree / ".venv/bin/python"), *PYTEST, *ids], cwd=tree,
                         stdout=subprocess.DEVNULL)
    wall = time.perf_counter() - t0
    ru = resource.getrusage(resource.RUSAGE_CHILDREN)
    print(f"{tree}\trc={rc}\twall={wall:.1f}s\tcpu={ru.ru_utime + ru.ru_stime:.1f}s",
          flush=True)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("before", type=Path)
    ap.add_argument("after", type=Path)
    ap.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    ap.add_argument("--ids", type=Path, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.child:
        timed(args.before, args.ids.read_text().splitlines())
        return 0
    common = sorted(set(collect(args.before)) & set(collect(args.after)))
    print(f"{len(common)} tests in both trees", flush=True)
    with tempfile.NamedTemporaryFile("w", suffix=".txt") as ids:
        ids.write("\n".join(common))
        ids.flush()
        runs = [subprocess.Popen([sys.executable, __file__, str(tree), str(tree), "--child",
                                  "--ids", ids.name]) for tree in (args.before, args.after)]
        return max(p.wait() for p in runs)


if __name__ == "__main__":
    sys.exit(main())
