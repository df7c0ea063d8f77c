"""Run ``crispin`` with every event-loop callback timed: how long each one holds the loop.

Used as a server wrapper by ``loop_hold.py`` (``python bench/_loop_timer.py serve ...``):
every callback the loop runs (each step of each task, each I/O callback) goes through
``asyncio.events.Handle._run``; this wraps it with two ``perf_counter`` reads. On SIGUSR1
the figures since the last report are written as JSON to ``$CRISPIN_LOOP_HOLD_OUT`` and
reset: callbacks, the longest holds (with the coroutine or callback they belong to), how
many held the loop more than 10 and 50 ms. A bench-only patch: the server itself is the
code of the checkout this runs in (its working directory comes first on ``sys.path``).
"""

from __future__ import annotations

import asyncio.events
import json
import os
import signal
import sys
import time
from typing import Any

sys.path.insert(0, os.getcwd())

from crispin.server.cli import main

OUT = os.environ.get("CRISPIN_LOOP_HOLD_OUT", "loop-hold.json")
TOP = 20

_holds: list[float] = []
_cpu_max = [0.0]  # the longest hold in CPU time of the loop's thread (the host is shared)
_top: list[tuple[float, str]] = []
_original = asyncio.events.Handle._run


def _name(handle: asyncio.events.Handle) -> str:
    callback: Any = getattr(handle, "_callback", None)
    owner = getattr(callback, "__self__", None)
    if isinstance(owner, asyncio.Task):
        # The task's coroutine and where its innermost coroutine stopped after this step
        # (the line after the long slice: where it awaited next).
        coro: Any = owner.get_coro()
        name = getattr(coro, "__qualname__", repr(coro))
        inner = coro
        while getattr(inner, "cr_await", None) is not None and \
                getattr(inner.cr_await, "cr_frame", None) is not None:
            inner = inner.cr_await
        frame = getattr(inner, "cr_frame", None)
        if frame is not None and inner is not coro:
            name += f" @ {frame.f_code.co_qualname}:{frame.f_lineno}"
        return name
    return getattr(callback, "__qualname__", repr(callback))


def _timed_run(self: asyncio.events.Handle) -> None:
    t0 = time.perf_counter()
    c0 = time.thread_time()
    try:
        _original(self)
    finally:
        held = time.perf_counter() - t0
        _cpu_max[0] = max(_cpu_max[0], time.thread_time() - c0)
        _holds.append(held)
        if held > 0.005 and (len(_top) < TOP or held > _top[-1][0]):
            _top.append((held, _name(self)))
            _top.sort(reverse=True)
            del _top[TOP:]


def _report(signum: int, frame: object) -> None:
    holds = sorted(_holds)
    _holds.clear()
    n = len(holds)
    data = {
        "callbacks": n,
        "p99_ms": round(holds[min(n - 1, int(n * 0.99))] * 1000, 2) if n else 0.0,
        "max_ms": round(holds[-1] * 1000, 2) if n else 0.0,
        "cpu_max_ms": round(_cpu_max[0] * 1000, 2),
        "over_10ms": sum(1 for h in holds if h > 0.010),
        "over_50ms": sum(1 for h in holds if h > 0.050),
        "total_s": round(sum(holds), 3),
        "longest": [(round(h * 1000, 1), name) for h, name in _top],
    }
    _top.clear()
    _cpu_max[0] = 0.0
    tmp = OUT + ".tmp"
    with open(tmp, "w") as fh:
        json.dump(data, fh)
    os.replace(tmp, OUT)


asyncio.events.Handle._run = _timed_run  # type: ignore[method-assign]
signal.signal(signal.SIGUSR1, _report)

if __name__ == "__main__":
    sys.exit(main())
