"""SEARCH's cost budget (issue 11 point 3): too many criteria, or a query running past its
time, is answered NO [LIMIT] and the session goes on."""

from __future__ import annotations

import time

import pytest

from crispin.server.outcome import CommandFailed
from crispin.server.search_budget import deadline_check
from crispin.server.threader import references, render
from crispin.storage.sorting import ThreadRow
from tests.server.harness import PASSWORD, RawClient, ServerThread


def login_selected(server: ServerThread, messages: int) -> RawClient:
    raw = server.raw()
    assert raw.command(b"l", b'LOGIN alice "%s"' % PASSWORD.encode())[-1].startswith(b"l OK")
    for i in range(messages):
        msg = b"Subject: note %d\r\n\r\nsome text about item %d\r\n" % (i, i)
        raw.send(b"a%d APPEND INBOX {%d+}\r\n%s\r\n" % (i, len(msg), msg))
    for i in range(messages):
        assert raw.until_tagged(b"a%d" % i)[-1].startswith(b"a%d OK" % i)
    assert raw.command(b"s", b"SELECT INBOX")[-1].startswith(b"s OK")
    return raw


def test_too_many_criteria(make_server) -> None:  # type: ignore[no-untyped-def]
    server: ServerThread = make_server(limits={"search_max_criteria": 20})
    raw = login_selected(server, 3)
    ten = b" ".join(b"NOT TEXT q%d" % i for i in range(10))  # 20 criteria: within
    assert raw.command(b"a", b"SEARCH " + ten)[-2:] == [b"* SEARCH 1 2 3",
                                                       b"a OK SEARCH completed"]
    assert raw.command(b"b", b"SEARCH " + ten + b" ALL") == \
        [b"b NO [LIMIT] Too many search criteria (at most 20)"]
    nested = b"OR " * 10 + b" ".join([b"ALL"] * 11)
    assert raw.command(b"c", b"UID SEARCH " + nested)[-1].startswith(b"c NO [LIMIT]")
    assert raw.command(b"d", b"NOOP")[-1].startswith(b"d OK")


def test_the_default_budget_refuses_the_attack(server: ServerThread) -> None:
    raw = login_selected(server, 2)
    attack = b" ".join(b"NOT TEXT q%d" % i for i in range(4000))
    assert raw.command(b"a", b"SEARCH " + attack)[-1].startswith(b"a NO [LIMIT]")
    assert raw.command(b"b", b"SEARCH TEXT item")[-2:] == [b"* SEARCH 1 2",
                                                          b"b OK SEARCH completed"]


def test_refusal_stops_at_the_budget_and_is_not_a_bad_command(make_server) -> None:  # type: ignore[no-untyped-def]
    """The 4,000-key program is refused at its 101st key (what follows is not even
    parsed: here, garbage that would be BAD), and as a well-formed command over a limit it
    does not count toward ``max_bad_commands`` (5 here): the connection goes on."""
    server: ServerThread = make_server(limits={"max_bad_commands": 5})
    raw = login_selected(server, 2)
    attack = b" ".join(b"NOT TEXT q%d" % i for i in range(60)) + b" ((garbage"
    for i in range(8):
        assert raw.command(b"a%d" % i, b"SEARCH " + attack) == \
            [b"a%d NO [LIMIT] Too many search criteria (at most 100)" % i]
    for cmd in (b"UID SORT (ARRIVAL) UTF-8 ", b"THREAD REFERENCES UTF-8 "):
        assert raw.command(b"s", cmd + attack)[-1].startswith(b"s NO [LIMIT]")
    assert raw.command(b"b", b"SEARCH TEXT item")[-2:] == [b"* SEARCH 1 2",
                                                          b"b OK SEARCH completed"]


def test_search_past_its_time_is_interrupted(make_server) -> None:  # type: ignore[no-untyped-def]
    # No time at all: SQLite's first progress check interrupts the query.
    server: ServerThread = make_server(limits={"search_time_limit": 0.0})
    raw = login_selected(server, 60)
    costly = b" ".join(b"NOT TEXT q%d" % i for i in range(40))
    assert raw.command(b"a", b"SEARCH " + costly) == \
        [b"a NO [LIMIT] Search took too long; narrow it down"]
    assert raw.command(b"b", b"UID SEARCH MODSEQ 1 " + costly)[-1] \
        .startswith(b"b NO [LIMIT]")
    assert raw.command(b"c", b"FETCH 1 FLAGS")[-1].startswith(b"c OK")


def test_sort_and_thread_are_within_the_same_budget(make_server) -> None:  # type: ignore[no-untyped-def]
    """Issue 11: SORT and THREAD search too; their queries get the SEARCH time limit (none
    at all here, so SQLite interrupts them at once) and their programs the same count."""
    server: ServerThread = make_server(limits={"search_time_limit": 0.0,
                                               "search_max_criteria": 90})
    raw = login_selected(server, 60)
    costly = b" ".join(b"NOT TEXT q%d" % i for i in range(40))  # 80 criteria
    for cmd in (b"SORT (SUBJECT) UTF-8 ", b"UID SORT RETURN (COUNT) (REVERSE DATE) UTF-8 ",
                b"THREAD REFERENCES UTF-8 ", b"UID THREAD ORDEREDSUBJECT UTF-8 "):
        assert raw.command(b"a", cmd + costly) == \
            [b"a NO [LIMIT] Search took too long; narrow it down"]
        assert raw.command(b"b", cmd + costly + b" NOT ALL" * 6) == \
            [b"b NO [LIMIT] Too many search criteria (at most 90)"]
    assert raw.command(b"c", b"FETCH 1 FLAGS")[-1].startswith(b"c OK")


def test_threading_stops_at_the_deadline() -> None:
    """THREAD's own pass over the matches (crispin.server.sorting) is bounded by the same time."""
    deadline_check(time.monotonic() + 60)()  # in time: nothing
    with pytest.raises(CommandFailed) as exc:
        deadline_check(time.monotonic() - 1)()
    assert exc.value.code == "LIMIT"
    # The threader calls it while it links the messages' references.
    rows: list[tuple[ThreadRow, int]] = [((n, 0, n, f"s{n}", 0, f"m{n}", ""), n)
                                         for n in range(1, 10_000)]
    with pytest.raises(CommandFailed):
        references(rows, deadline_check(time.monotonic() - 1))
    assert render(references(rows, deadline_check(time.monotonic() + 60))).startswith(b"(1)(2)(3)")


def test_a_refused_search_with_save_empties_the_saved_result(server: ServerThread) -> None:
    """RFC 5182 §2.1: a SEARCH with SAVE answered NO sets "$" to no messages, also when it
    is refused while parsing (too many criteria); a BAD one leaves "$" alone."""
    raw = login_selected(server, 3)
    assert raw.command(b"a", b"SEARCH RETURN (SAVE) ALL")[-1].startswith(b"a OK")
    over = b" ".join([b"NOT TEXT q"] * 60)  # 120 criteria
    assert raw.command(b"b", b"SEARCH RETURN (SAVE) UNSEEN )(")[-1].startswith(b"b BAD")
    assert raw.command(b"c", b"SEARCH $")[-2:] == [b"* SEARCH 1 2 3", b"c OK SEARCH completed"]
    assert raw.command(b"d", b"SEARCH " + over)[-1].startswith(b"d NO [LIMIT]")
    assert raw.command(b"e", b"SEARCH $")[-2:] == [b"* SEARCH 1 2 3", b"e OK SEARCH completed"]
    assert raw.command(b"f", b"SEARCH RETURN (SAVE) " + over)[-1].startswith(b"f NO [LIMIT]")
    assert raw.command(b"g", b"SEARCH $")[-2:] == [b"* SEARCH", b"g OK SEARCH completed"]
