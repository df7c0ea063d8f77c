"""IDLE (RFC 2177): changes by other sessions reach an idling client promptly."""

from __future__ import annotations

import socket
import subprocess
import sys
import time
from pathlib import Path

from tests.server.harness import PASSWORD, RawClient, ServerThread

MSG = b"From: a@example.com\r\nSubject: idle test\r\n\r\nhello\r\n"


def idler(server: ServerThread, mailbox: bytes = b"INBOX") -> RawClient:
    raw = server.raw()
    raw.command(b"a1", b'LOGIN alice "' + PASSWORD.encode() + b'"')
    raw.command(b"a2", b"SELECT " + mailbox)
    raw.send(b"a3 IDLE\r\n")
    assert raw.line() == b"+ idling"
    return raw


def wait_line(raw: RawClient, timeout: float = 5.0) -> bytes:
    raw.sock.settimeout(timeout)
    return raw.line()


def test_idle_sees_append_flags_and_expunge(server: ServerThread) -> None:
    raw = idler(server)
    other = server.login()
    other.append("INBOX", None, None, MSG)
    assert wait_line(raw) == b"* 1 EXISTS"
    assert wait_line(raw) == b"* 1 RECENT"
    other.select("INBOX")
    other.store("1", "+FLAGS", "(\\Flagged)")
    assert wait_line(raw).startswith(b"* 1 FETCH (UID 1 FLAGS (\\Flagged")
    other.store("1", "+FLAGS", "(\\Deleted)")
    wait_line(raw)
    other.expunge()
    assert wait_line(raw) == b"* 1 EXPUNGE"
    raw.send(b"DONE\r\n")
    assert raw.until_tagged(b"a3")[-1].startswith(b"a3 OK")
    assert raw.command(b"a4", b"NOOP")[-1].startswith(b"a4 OK")
    other.logout()


def test_idle_many_idlers_all_woken(server: ServerThread) -> None:
    idlers = [idler(server) for _ in range(20)]
    other = server.login()
    other.append("INBOX", None, None, MSG)
    for raw in idlers:
        assert wait_line(raw) == b"* 1 EXISTS"
    for raw in idlers:
        raw.send(b"DONE\r\n")
        assert raw.until_tagged(b"a3")[-1].startswith(b"a3 OK")
    other.logout()


def test_idle_sees_change_from_another_process(server: ServerThread, tmp_path: Path) -> None:
    """A write by another process (here: the storage API used by a separate Python
    process on the same database) is noticed by the server's poll, not only in-process
    writes."""
    raw = idler(server)
    code = (
        "import asyncio, sys\n"
        "from pathlib import Path\n"
        "from crispin.storage import Store\n"
        "async def main():\n"
        "    s = await Store.open(Path(sys.argv[1]))\n"
        "    u = await s.get_user('alice')\n"
        "    box = await s.get_mailbox(u.id, 'INBOX')\n"
        "    from crispin.server.ingest import deliver\n"
        "    await deliver(s, box.id, b'Subject: x\\r\\n\\r\\nbody\\r\\n')\n"
        "    await s.close()\n"
        "asyncio.run(main())\n"
    )
    root = Path(__file__).resolve().parents[2]
    subprocess.run([sys.executable, "-c", code, str(server.config.data_dir)], check=True,
                   cwd=root, timeout=60)
    assert wait_line(raw) == b"* 1 EXISTS"
    raw.send(b"DONE\r\n")
    raw.until_tagged(b"a3")


def test_idle_bad_continuation_and_disconnect(server: ServerThread) -> None:
    raw = idler(server)
    raw.send(b"NOT DONE\r\n")
    assert raw.until_tagged(b"a3")[-1].startswith(b"a3 BAD")
    assert raw.command(b"a4", b"NOOP")[-1].startswith(b"a4 OK")
    # A client that closes the socket in the middle of IDLE costs nothing.
    for _ in range(5):
        r = idler(server)
        r.sock.shutdown(socket.SHUT_RDWR)
        r.close()
    deadline = time.monotonic() + 5
    while len(server.running.listener.tasks) > 1 and time.monotonic() < deadline:
        time.sleep(0.05)
    assert len(server.running.listener.tasks) == 1


def test_idle_in_authenticated_state(server: ServerThread) -> None:
    raw = server.raw()
    raw.command(b"a1", b'LOGIN alice "' + PASSWORD.encode() + b'"')
    raw.send(b"a2 IDLE\r\n")
    assert raw.line() == b"+ idling"
    raw.send(b"DONE\r\n")
    assert raw.until_tagged(b"a2")[-1].startswith(b"a2 OK")


def test_idle_woken_by_commit_report_of_any_write(make_server, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    """The hub learns of changes from storage's commit reports, not from a list of mutators
    it wraps: even a write storage has no method for wakes the idler, with the poll for
    other processes' changes out of the way."""
    import crispin.server.hub

    monkeypatch.setattr(crispin.server.hub, "POLL_INTERVAL", 3600.0)
    srv = make_server()
    other = srv.login()
    other.append("INBOX", None, None, MSG)
    raw = idler(srv)
    store = srv.running.ctx.store

    def flag_all(conn) -> None:  # type: ignore[no-untyped-def]
        (modseq,) = conn.execute("SELECT highest_modseq + 1 FROM mailboxes"
                                 " WHERE name = 'INBOX'").fetchone()
        conn.execute("UPDATE mailbox_messages SET flags = 4, modseq = ?", (modseq,))
        conn.execute("UPDATE mailboxes SET highest_modseq = ? WHERE name = 'INBOX'", (modseq,))

    srv.call(store.database.write(flag_all))
    assert wait_line(raw).startswith(b"* 1 FETCH (UID 1 FLAGS (\\Flagged")
    raw.send(b"DONE\r\n")
    assert raw.until_tagged(b"a3")[-1].startswith(b"a3 OK")
    other.logout()
