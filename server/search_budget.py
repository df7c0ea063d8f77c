"""SEARCH's cost budget (issue 11 point 3), in one place for every command that searches.

One user's search must not stall everyone: two ``SEARCH NOT TEXT q0 … NOT TEXT q3999`` on a
few thousand messages once held both database readers for seconds. Three bounds:

* the number of criteria in the program (``limits.search_max_criteria``), checked before any
  work: every search key counts, and so does each NOT and OR around them;
* the time the query may run (``limits.search_time_limit``), enforced inside SQLite by a
  progress handler (``crispin.storage.db.Database.read(..., time_limit=)``), so even one costly
  statement is interrupted on time;
* such reads never take the last free database reader (``Database.read``), so the other
  sessions' commands keep being served meanwhile (bench/search_attack.py).

SORT and THREAD (RFC 5256) search too, so they go through the same budget: their programs
are counted, their queries (the ordering included, done by SQLite) get the time limit, and
THREAD's own Python work (linking the references of every match) runs off the event loop
under the same limit (:func:`deadline_check`).  The count is also enforced by the parser itself
(``protocol.Limits.max_search_criteria``), which stops at the first key over it so that a
refused program of thousands of keys is not parsed whole; :meth:`SearchBudget.check` stays
for programs that did not come through it.

Over budget: ``NO [LIMIT]`` (RFC 5530 §3), and the connection goes on.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

from crispin.protocol import SearchAnd, SearchKey, SearchNot, SearchOr
from crispin.server.config import Config
from crispin.server.outcome import CommandFailed


@dataclass(frozen=True)
class SearchBudget:
    max_criteria: int
    time_limit: float

    @classmethod
    def of(cls, config: Config) -> SearchBudget:
        return cls(int(config.get("limits", "search_max_criteria")),
                   float(config.get("limits", "search_time_limit")))

    def deadline(self) -> float:
        """The ``time.monotonic()`` by which work started now must be over."""
        return time.monotonic() + self.time_limit

    def check(self, key: SearchKey) -> None:
        """NO [LIMIT] when the program has more criteria than the budget allows."""
        if count_criteria(key, self.max_criteria) > self.max_criteria:
            raise CommandFailed(
                f"Too many search criteria (at most {self.max_criteria})", "LIMIT")


def count_criteria(key: SearchKey, stop: int) -> int:
    """Search keys, NOTs and ORs in ``key`` (an AND is only their juxtaposition); counting
    stops once past ``stop``. The parser bounds the nesting depth."""
    if isinstance(key, SearchAnd):
        total = 0
        for k in key.keys:
            total += count_criteria(k, stop - total)
            if total > stop:
                break
        return total
    if isinstance(key, SearchOr):
        left = count_criteria(key.left, stop - 1)
        return 1 + left + (count_criteria(key.right, stop - 1 - left) if left < stop else 0)
    if isinstance(key, SearchNot):
        return 1 + count_criteria(key.key, stop - 1)
    return 1


TIME_LIMIT_TEXT = "Search took too long; narrow it down"


def deadline_check(deadline: float) -> Callable[[], None]:
    """A check that raises NO [LIMIT] once ``time.monotonic()`` passes ``deadline``: a
    pure-Python pass over a search's matches (THREAD's linking) calls it every few
    thousand messages."""
    def check() -> None:
        if time.monotonic() > deadline:
            raise CommandFailed(TIME_LIMIT_TEXT, "LIMIT")

    return check
