"""Summarise a py-spy ``record -f raw`` file (collapsed stacks): where the samples went.

    .venv/bin/python bench/spy_summary.py PROFILE.txt [--top 25] [--include-idle]

Prints the share of samples per function by self time and by inclusive time (a function
counted once per stack). Samples whose leaf is the event loop's select() or an idle pool
thread's queue wait are "idle" and left out unless --include-idle.
"""

from __future__ import annotations

import argparse
import collections
import re
import sys

_LOC = re.compile(r" \((.*):\d+\)$")


def func(frame: str) -> str:
    # "name (file:line)" -> "name (file)": group all lines of one function.
    return _LOC.sub(lambda m: f" ({m.group(1)})", frame.strip())


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("profile")
    ap.add_argument("--top", type=int, default=25)
    ap.add_argument("--include-idle", action="store_true")
    args = ap.parse_args()
    self_t: collections.Counter[str] = collections.Counter()
    incl: collections.Counter[str] = collections.Counter()
    threads: collections.Counter[str] = collections.Counter()
    total = idle = 0
    with open(args.profile) as fh:
        for line in fh:
            stack, _, count = line.rstrip("\n").rpartition(" ")
            if not stack:
                continue
            n = int(count)
            frames = stack.split(";")
            leaf = frames[-1]
            # Waiting, not working: the event loop's select(), an idle pool thread.
            if leaf.startswith(("select (", "_worker (concurrent/futures/thread.py:81)")):
                idle += n
                if not args.include_idle:
                    continue
            total += n
            name = frames[0].split(":")[-1].strip() if frames[0].startswith("thread") else "?"
            threads[name] += n
            self_t[func(leaf)] += n
            for f in {func(f) for f in frames[1:]}:
                incl[f] += n
    if not total:
        print("no samples")
        return 1
    print(f"{total} busy samples ({idle} idle samples left out)")
    print("\nby thread:")
    for t, n in threads.most_common():
        print(f"  {100 * n / total:5.1f}%  {t}")
    print(f"\nself time, top {args.top}:")
    for f, n in self_t.most_common(args.top):
        print(f"  {100 * n / total:5.1f}%  {f}")
    print(f"\ninclusive time, top {args.top}:")
    for f, n in incl.most_common(args.top):
        print(f"  {100 * n / total:5.1f}%  {f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
