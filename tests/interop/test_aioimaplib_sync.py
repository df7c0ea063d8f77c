"""aioimaplib (PyPI) keeping several connections in sync: IDLE pushes of another connection's
APPEND / STORE / EXPUNGE, MOVE and UID MOVE with ``[COPYUID]`` (RFC 6851, RFC 4315), and
CONDSTORE (RFC 7162) through aioimaplib's generic calls: ``uid('fetch', ..., '(FLAGS)
(CHANGEDSINCE n)')`` and ``uid('store', ..., '(UNCHANGEDSINCE n) +FLAGS (...)')`` losing to a
second connection with ``[MODIFIED]``.

aioimaplib hands back raw lines with the ``* `` stripped (and the tagged line's text last);
they are parsed with the strict grammar checker of ``tests/server/test_client_sequences.py``.
The server is a real ``crispin serve`` process (the interop ``crispin`` fixture: user alice,
fresh data, trace printed on failure); every client call runs under ``asyncio.wait_for``.
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import AsyncIterator, Callable, Coroutine
from typing import Any, TypeVar

import pytest
from aioimaplib import IMAP4, Response

from tests.interop import messages
from tests.interop.conftest import InteropServer
from tests.server.response_grammar import parse_data, uid_set

T = TypeVar("T")
STEP = 10  # seconds for any one client call


async def step(coro: Coroutine[Any, Any, T]) -> T:
    return await asyncio.wait_for(coro, STEP)


def ok(response: Response) -> Response:
    assert response.result == "OK", response
    return response


def data_lines(response: Response) -> list[bytes]:
    """Untagged lines (literals joined back in) without the final tagged text."""
    out: list[bytes] = []
    after_literal = False
    for item in response.lines[:-1]:
        if isinstance(item, bytearray):
            out[-1] += b"\r\n" + bytes(item)
            after_literal = True
        elif after_literal:
            out[-1] += item
            after_literal = False
        else:
            out.append(bytes(item))
    for line in out:
        parse_data(line)  # balanced, single-spaced
    return out


def fetched(lines: list[bytes]) -> list[tuple[int, dict[str, Any]]]:
    """``n FETCH (k v ...)`` lines → [(n, {K: v})]."""
    out = []
    for line in lines:
        if re.match(rb"\d+ FETCH \(", line):
            n, _, items = parse_data(line)
            out.append((int(n), {k.upper(): v for k, v in
                                 zip(items[::2], items[1::2], strict=True)}))
    return out


def code(lines: list[bytes], name: bytes) -> list[bytes]:
    return [m[1] for x in lines if (m := re.search(rb"\[" + name + rb" ([^\]]*)\]", x))]


@pytest.fixture
async def connect(crispin: InteropServer
                  ) -> AsyncIterator[Callable[[], Coroutine[Any, Any, IMAP4]]]:
    clients: list[IMAP4] = []

    async def make() -> IMAP4:
        c = IMAP4("127.0.0.1", crispin.port, timeout=STEP)
        clients.append(c)
        await step(c.wait_hello_from_server())
        ok(await step(c.login(crispin.user, crispin.password)))
        await step(c.protocol.capability())
        return c

    yield make
    for c in clients:
        if c.get_state() == "LOGOUT":
            continue
        try:
            if c.has_pending_idle():
                c.idle_done()
            await asyncio.wait_for(c.logout(), 5)
        except Exception:
            pass


def load(crispin: InteropServer, n: int) -> list[bytes]:
    msgs = [messages.extra_message(i, f"sync {i}") for i in range(1, n + 1)]
    crispin.load([(messages.INBOX, m, ()) for m in msgs])
    return msgs


async def pushed_until(c: IMAP4, pattern: bytes) -> list[bytes]:
    """Lines pushed during IDLE up to one matching ``pattern``."""
    seen: list[bytes] = []
    while not any(re.search(pattern, x) for x in seen):
        batch = await c.wait_server_push(timeout=STEP)
        assert isinstance(batch, list), batch
        for line in batch:
            parse_data(bytes(line))
        seen += [bytes(x) for x in batch]
    return seen


async def test_idle_sees_append_store_expunge(crispin: InteropServer, connect) -> None:  # type: ignore[no-untyped-def]
    load(crispin, 2)
    async with asyncio.timeout(40):
        watcher, actor = await connect(), await connect()
        r = ok(await step(watcher.select("INBOX")))
        assert b"2 EXISTS" in r.lines, r
        ok(await step(actor.select("INBOX")))
        idle = await step(watcher.idle_start(timeout=60))
        assert watcher.has_pending_idle()

        # APPEND elsewhere → EXISTS at once (RFC 2177).
        new = messages.extra_message(3, "pushed")
        r = ok(await step(actor.append(new, mailbox="INBOX")))
        [appenduid] = code([bytes(r.lines[-1])], b"APPENDUID")
        assert appenduid.split()[1] == b"3", r
        seen = await pushed_until(watcher, rb"^3 EXISTS$")
        assert b"3 EXISTS" in seen, seen

        # STORE elsewhere → FETCH with the new flags.
        ok(await step(actor.uid("store", "1", "+FLAGS", "(\\Flagged)")))
        seen = await pushed_until(watcher, rb"^1 FETCH ")
        [(n, items)] = [f for f in fetched(seen) if f[0] == 1]
        assert "\\Flagged" in items["FLAGS"], seen

        # EXPUNGE elsewhere → EXPUNGE with the right sequence number.
        ok(await step(actor.uid("store", "2", "+FLAGS.SILENT", "(\\Deleted)")))
        r = ok(await step(actor.uid("expunge", "2")))
        assert data_lines(r) == [b"2 EXPUNGE"], r
        seen = await pushed_until(watcher, rb"EXPUNGE")
        assert [x for x in seen if x.endswith(b"EXPUNGE")] == [b"2 EXPUNGE"], seen

        watcher.idle_done()
        r = await step(idle)
        assert r.result == "OK", r
        assert not watcher.has_pending_idle()
        r = ok(await step(watcher.uid("fetch", "1:*", "(UID FLAGS)")))
        got = {int(items["UID"]): items["FLAGS"] for _, items in fetched(data_lines(r))}
        assert sorted(got) == [1, 3] and "\\Flagged" in got[1], r
        # IDLE again works after DONE (clients loop on it).
        idle = await step(watcher.idle_start(timeout=60))
        ok(await step(actor.uid("store", "3", "+FLAGS", "(\\Seen)")))
        seen = await pushed_until(watcher, rb"^2 FETCH ")
        assert "\\Seen" in dict(fetched(seen))[2]["FLAGS"], seen
        watcher.idle_done()
        assert (await step(idle)).result == "OK"


async def test_move_and_uid_move(crispin: InteropServer, connect) -> None:  # type: ignore[no-untyped-def]
    msgs = load(crispin, 5)
    async with asyncio.timeout(40):
        c = await connect()
        ok(await step(c.select("INBOX")))
        archive = ok(await step(c.status("Archive", "(UIDVALIDITY UIDNEXT)")))
        [status] = data_lines(archive)  # aioimaplib drops the command's own name
        name, items = parse_data(status)
        assert name == "Archive", status
        archive_v = int(dict(zip(items[::2], items[1::2], strict=True))["UIDVALIDITY"])

        # MOVE by sequence number: COPYUID first, then EXPUNGE (RFC 6851 §4.3).
        r = ok(await step(c.move("1", "Archive")))
        lines = data_lines(r)
        assert len(lines) == 2 and lines[0].startswith(b"OK [COPYUID "), r
        assert lines[1] == b"1 EXPUNGE", r
        v, src, dst = code(lines, b"COPYUID")[0].split()
        assert (int(v), src, dst) == (archive_v, b"1", b"1"), lines

        # UID MOVE of several: the UIDs pair up in order (RFC 4315 §3).
        r = ok(await step(c.uid("move", "3:5", "Trash")))
        lines = data_lines(r)
        assert lines[0].startswith(b"OK [COPYUID "), r
        assert lines[1:] == [b"2 EXPUNGE"] * 3, r
        v, src, dst = code(lines, b"COPYUID")[0].split()
        pairs = dict(zip(sorted(uid_set(src.decode())), sorted(uid_set(dst.decode())),
                         strict=True))
        assert sorted(pairs) == [3, 4, 5], lines

        r = ok(await step(c.uid("fetch", "1:*", "(UID)")))
        assert [int(items["UID"]) for _, items in fetched(data_lines(r))] == [2], r
        ok(await step(c.select("Trash")))
        r = ok(await step(c.uid("fetch", "1:*", "(UID BODY.PEEK[])")))
        bodies = {int(items["UID"]): items["BODY[]"] for _, items in fetched(data_lines(r))}
        assert bodies == {pairs[u]: msgs[u - 1] for u in (3, 4, 5)}, sorted(bodies)
        ok(await step(c.select("Archive")))
        r = ok(await step(c.uid("fetch", "1", "(BODY.PEEK[])")))
        assert fetched(data_lines(r))[0][1]["BODY[]"] == msgs[0]


async def test_condstore(crispin: InteropServer, connect) -> None:  # type: ignore[no-untyped-def]
    load(crispin, 3)
    async with asyncio.timeout(40):
        c1, c2 = await connect(), await connect()
        r = ok(await step(c1.select("INBOX")))
        [hms] = code(data_lines(r), b"HIGHESTMODSEQ")
        base = int(hms)
        ok(await step(c2.select("INBOX")))

        # Nothing changed yet.
        r = ok(await step(c1.uid("fetch", "1:*", f"(FLAGS) (CHANGEDSINCE {base})")))
        assert fetched(data_lines(r)) == [], r

        # c2 changes message 2; c1 gets exactly that, with UID and MODSEQ.
        ok(await step(c2.uid("store", "2", "+FLAGS", "(\\Seen)")))
        r = ok(await step(c1.uid("fetch", "1:*", f"(FLAGS) (CHANGEDSINCE {base})")))
        # The change may also come as an unsolicited FETCH before the answer (the same data).
        got = fetched(data_lines(r))
        assert got and all(f == got[0] for f in got), r
        n, items = got[0]
        assert n == 2 and int(items["UID"]) == 2 and "\\Seen" in items["FLAGS"], r
        [changed] = items["MODSEQ"]
        assert int(changed) > base, r

        # c2 flags message 2, c1 does not know yet; c1's conditional STORE with the modseq it
        # had fails for 2 ([MODIFIED 2], nothing stored there) and goes through for the
        # others (RFC 7162 §3.1.3).
        ok(await step(c2.uid("store", "2", "+FLAGS", "(\\Flagged)")))
        r = ok(await step(c1.uid("store", "1:3", f"(UNCHANGEDSINCE {base}) +FLAGS (\\Flagged)")))
        assert re.match(rb"\[MODIFIED 2\] ", bytes(r.lines[-1])), r
        got = {int(items["UID"]): items for _, items in fetched(data_lines(r))}
        for uid in (1, 3):
            assert "\\Flagged" in got[uid]["FLAGS"], r
            assert int(got[uid]["MODSEQ"][0]) > int(changed), r
        # The server may (RECOMMENDED) tell c1 why 2 failed: c2's flags, c2's modseq.
        if 2 in got:
            assert set(got[2]["FLAGS"]) - {"\\Recent"} == {"\\Seen", "\\Flagged"}, r

        # With the message's current modseq the store goes through.
        r = ok(await step(c1.uid("fetch", "2", "(MODSEQ)")))
        [(_, items)] = fetched(data_lines(r))
        now = int(items["MODSEQ"][0])
        assert now > int(changed), r
        r = ok(await step(c1.uid("store", "2", f"(UNCHANGEDSINCE {now}) +FLAGS (\\Draft)")))
        assert b"[MODIFIED" not in bytes(r.lines[-1]), r
        [(_, items)] = fetched(data_lines(r))
        assert int(items["MODSEQ"][0]) > now and "\\Draft" in items["FLAGS"], r

        r = ok(await step(c2.uid("fetch", "1:*", "(UID FLAGS MODSEQ)")))
        flags = {int(items["UID"]): set(items["FLAGS"]) - {"\\Recent"}
                 for _, items in fetched(data_lines(r))}
        assert flags == {1: {"\\Flagged"}, 2: {"\\Seen", "\\Flagged", "\\Draft"},
                         3: {"\\Flagged"}}, r
        r = ok(await step(c2.uid("fetch", "1:*", f"(FLAGS) (CHANGEDSINCE {changed})")))
        assert sorted({int(i["UID"]) for _, i in fetched(data_lines(r))}) == [1, 2, 3], r
