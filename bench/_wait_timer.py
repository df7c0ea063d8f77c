"""Run ``crispin`` with each command's waits timed: where a command type spends its time.

A server wrapper for ``mixed_load.py --wait-timer`` (``python bench/_wait_timer.py serve
...``). Per command type (the parsed command's class, FETCH split into flag-only and other),
it sums the handler's wall time (``Session._run``: from the handler's start to the tagged
answer queued) and, inside it, the time spent awaiting ``Database.write`` and
``Database.read``. Each write is further split where the single writer spends it:

- ``queue``: from ``write()`` to its function starting on the writer thread (the batch
  before it, the hop to the thread, the functions ahead of it in its own batch);
- ``run``: its own function;
- ``commit``: from its function's end to COMMIT returned (the rest of its batch, the
  COMMIT and its fsync with ``synchronous=FULL``);
- ``back``: from COMMIT returned to the caller resuming on the event loop (the hop back,
  and whatever else the loop was running meanwhile: other sessions' callbacks).

Reads: ``wait`` (for an idle reader, and the hop to its thread), ``run`` (the read),
``back`` (the hop back and the loop's delay); and which read functions each command
ran. On SIGUSR1 the figures since the last report go as JSON to
``$CRISPIN_WAIT_OUT`` and are reset. A bench-only patch: the server is the code of the
checkout this runs in (its working directory comes first on ``sys.path``).
"""

from __future__ import annotations

import contextvars
import json
import os
import signal
import sqlite3
import sys
import time
from collections import defaultdict
from collections.abc import Callable
from typing import Any

sys.path.insert(0, os.getcwd())

from crispin.server.cli import main
from crispin.server.session import Session
from crispin.storage.db import Database

OUT = os.environ.get("CRISPIN_WAIT_OUT", "wait-timer.json")

_command: contextvars.ContextVar[str] = contextvars.ContextVar("command", default="(other)")
# (command, part) -> list of seconds
_times: dict[tuple[str, str], list[float]] = defaultdict(list)
# Per running command: seconds awaited on writes and reads, added to _times when it ends.
_spent: contextvars.ContextVar[dict[str, float] | None] = contextvars.ContextVar(
    "spent", default=None)
_batches: list[tuple[int, float]] = []  # (size, seconds on the writer thread)
_counts: dict[tuple[str, str], int] = defaultdict(int)  # (command, write function) -> writes
_read_counts: dict[tuple[str, str], int] = defaultdict(int)


def _fn_name(fn: Any) -> str:
    while hasattr(fn, "func"):  # functools.partial
        fn = fn.func
    return str(getattr(fn, "__qualname__", repr(fn)))


def _name(command: Any) -> str:
    name = type(command).__name__.upper()
    if name == "FETCH":
        names = {getattr(item, "name", None) for item in command.items}
        name += " flags" if names <= {"UID", "FLAGS"} else " other"
    return name


_original_run = Session._run


async def _timed_run(self: Session, tag: str, command: Any, spec: Any) -> None:
    name = _name(command)
    token = _command.set(name)
    spent: dict[str, float] = defaultdict(float)
    token2 = _spent.set(spent)
    t0 = time.perf_counter()
    try:
        await _original_run(self, tag, command, spec)
    finally:
        _times[(name, "handler")].append(time.perf_counter() - t0)
        for part, seconds in spent.items():
            _times[(name, part)].append(seconds)
        _command.reset(token)
        _spent.reset(token2)


_original_write = Database.write
_original_read = Database.read
_original_batch = Database._run_batch


class _Stamped:
    """A write's function, noting when the writer thread ran it."""

    def __init__(self, fn: Callable[[sqlite3.Connection], Any]) -> None:
        self.fn = fn
        self.start = self.end = self.committed = 0.0

    def __call__(self, conn: sqlite3.Connection) -> Any:
        self.start = time.perf_counter()
        try:
            return self.fn(conn)
        finally:
            self.end = time.perf_counter()


async def _timed_write(self: Database, fn: Callable[[sqlite3.Connection], Any]) -> Any:
    stamped = _Stamped(fn)
    t0 = time.perf_counter()
    try:
        return await _original_write(self, stamped)
    finally:
        t1 = time.perf_counter()
        name = _command.get()
        _counts[(name, _fn_name(fn))] += 1
        if stamped.committed:
            _times[(name, "write queue")].append(stamped.start - t0)
            _times[(name, "write run")].append(stamped.end - stamped.start)
            _times[(name, "write commit")].append(stamped.committed - stamped.end)
            _times[(name, "write back")].append(t1 - stamped.committed)
        spent = _spent.get()
        if spent is not None:
            spent["in writes"] += t1 - t0


def _timed_batch(self: Database, fns: list[Any], *rest: Any) -> Any:
    t0 = time.perf_counter()
    out = _original_batch(self, fns, *rest)
    t1 = time.perf_counter()
    _batches.append((len(fns), t1 - t0))
    for fn in fns:
        if isinstance(fn, _Stamped):
            fn.committed = t1
    return out


_databases: list[Database] = []  # for the inline reads' counts


async def _timed_read(self: Database, fn: Callable[[sqlite3.Connection], Any], *,
                      time_limit: float | None = None) -> Any:
    if not _databases:
        _databases.append(self)
    stamped = _Stamped(fn)
    t0 = time.perf_counter()
    try:
        return await _original_read(self, stamped, time_limit=time_limit)
    finally:
        t1 = time.perf_counter()
        name = _command.get()
        if stamped.end:
            _times[(name, "read wait")].append(stamped.start - t0)
            _times[(name, "read run")].append(stamped.end - stamped.start)
            _times[(name, "read back")].append(t1 - stamped.end)
        _read_counts[(name, _fn_name(fn))] += 1
        spent = _spent.get()
        if spent is not None:
            spent["in reads"] += t1 - t0


def _pct(values: list[float], q: float) -> float:
    s = sorted(values)
    return round(s[min(len(s) - 1, int(len(s) * q))] * 1000, 2) if s else 0.0


def _report(signum: int, frame: object) -> None:
    data: dict[str, Any] = {}
    for (name, part), values in sorted(_times.items()):
        data.setdefault(name, {})[part] = {
            "n": len(values), "p50_ms": _pct(values, 0.5), "p99_ms": _pct(values, 0.99),
            "mean_ms": round(sum(values) * 1000 / len(values), 2)}
    sizes = [n for n, _ in _batches]
    data["batches"] = {"n": len(_batches),
                       "mean_size": round(sum(sizes) / len(sizes), 2) if sizes else 0,
                       "p50_ms": _pct([s for _, s in _batches], 0.5),
                       "p99_ms": _pct([s for _, s in _batches], 0.99)}
    inline = _databases[0].inline if _databases else None
    if inline is not None:
        # Reads run on the loop's own connection, reads tried there and handed to a reader,
        # and the read functions whose running mean sends them to the readers.
        data["inline reads"] = {
            "runs": inline.runs, "handed_on": inline.handed_on,
            "to readers": {str(getattr(k, "co_qualname", k)): round(v * 1000, 3)
                           for k, v in inline._costs.items() if not inline.suits(k)}}
    for (name, fn_name), n in sorted(_counts.items()):
        data.setdefault(name, {}).setdefault("writes", {})[fn_name] = n
    for (name, fn_name), n in sorted(_read_counts.items()):
        data.setdefault(name, {}).setdefault("reads", {})[fn_name] = n
    _times.clear()
    _batches.clear()
    _counts.clear()
    _read_counts.clear()
    tmp = OUT + ".tmp"
    with open(tmp, "w") as fh:
        json.dump(data, fh, indent=1)
    os.replace(tmp, OUT)


Session._run = _timed_run  # type: ignore[method-assign]
Database.write = _timed_write  # type: ignore[method-assign]
Database.read = _timed_read  # type: ignore[method-assign]
Database._run_batch = _timed_batch  # type: ignore[method-assign]
signal.signal(signal.SIGUSR1, _report)
if os.environ.get("CRISPIN_SWITCH_INTERVAL"):  # experiment: the GIL's hand-over interval
    sys.setswitchinterval(float(os.environ["CRISPIN_SWITCH_INTERVAL"]))

if __name__ == "__main__":
    sys.exit(main())
