"""fetchmail and getmail6 (Debian packages ``fetchmail``, ``getmail6``) against Crispin.

Both fetch mail and leave it on the server ("keep"), but decide what is new differently:

- fetchmail (without ``fetchall``) asks the server which messages are unseen
  (``SEARCH UNSEEN``, falling back to ``FETCH 1:n FLAGS``), fetches each with
  ``RFC822.HEADER`` plus ``BODY.PEEK[TEXT]``, and marks it ``\\Seen`` with ``STORE +FLAGS``.
  A message the server reports unseen again is fetched again.
- getmail remembers ``UIDVALIDITY/UID`` pairs in its "oldmail" file, lists the mailbox with
  ``FETCH 1:n (UID RFC822.SIZE)`` and fetches new UIDs with ``BODY.PEEK[]``, leaving flags alone.

Both deliver through a tiny MDA (``sh -c 'cat > unique file'``) so each message is one file;
both add a trace header of their own (fetchmail: ``Received:``, getmail: ``Return-Path:`` and
``X-getmail-retrieved-from-mailbox:``), which :func:`strip_client_headers` removes before
comparing with what the server holds.
"""

from __future__ import annotations

import re
from pathlib import Path

from tests.interop import messages as m
from tests.interop.conftest import InteropServer, describe, require, run_client

FETCHMAIL_NO_MAIL = 1        # fetchmail's exit status when there was nothing to fetch


def strip_client_headers(data: bytes) -> bytes:
    """Remove the header lines fetchmail or getmail prepend/append, then :func:`normalize`."""
    data = data.replace(b"\r\n", b"\n")
    head, sep, body = data.partition(b"\n\n")
    lines = head.split(b"\n")
    if lines and lines[0].startswith(b"Received: ") and b"fetchmail" in head:
        del lines[0]
        while lines and lines[0][:1] in (b" ", b"\t"):
            del lines[0]
    lines = [line for line in lines
             if not line.startswith((b"Return-Path: ", b"X-getmail-retrieved-from-mailbox: "))]
    return m.normalize(b"\n".join(lines) + sep + body)


def delivered(out: Path) -> list[bytes]:
    """Messages delivered so far (and remove them, so the next step sees only new ones)."""
    found = []
    for path in sorted(out.iterdir()):
        found.append(strip_client_headers(path.read_bytes()))
        path.unlink()
    return found


def mda_command(out: Path) -> str:
    return f'cat > "$(mktemp -p {out} msg.XXXXXX)"'


# -- fetchmail -------------------------------------------------------------------------------

def fetchmail_rc(tmp: Path, srv: InteropServer, out: Path, *, implicit_tls: bool) -> Path:
    # The poll name is a label; "via" gives the address. fetchmail matches only DNS names of
    # the certificate, so it is told to expect "localhost" (which the SAN must contain).
    port = srv.tls_port if implicit_tls else srv.port
    ssl = "ssl " if implicit_tls else ""      # without "ssl", sslproto TLS1.2+ forces STARTTLS
    rc = tmp / "fetchmailrc"
    rc.write_text(
        "set no syslog\n"
        f"poll crispin via 127.0.0.1 service {port} protocol IMAP auth password timeout 30\n"
        f'  user "{srv.user}" there with password "{srv.password}" is "{srv.user}" here\n'
        "  folder INBOX\n"
        f'  options keep {ssl}sslcertck sslcertfile "{srv.cert}" sslproto "TLS1.2+"'
        ' sslcommonname "localhost"\n'
        f"  mda '{mda_command(out)}'\n"
    )
    rc.chmod(0o600)           # fetchmail refuses a run control file others may read
    return rc


def fetchmail(rc: Path, home: Path) -> int:
    require("fetchmail")
    result = run_client(["fetchmail", "-f", str(rc), "-N", "--nosyslog", "-i",
                         str(home / "fetchids")], timeout=60, home=home,
                        env={"FETCHMAILHOME": str(home)})
    assert result.returncode in (0, FETCHMAIL_NO_MAIL), describe(result)
    return result.returncode


def test_fetchmail_keeps_and_fetches_only_unseen(crispin: InteropServer, tmp_path: Path,
                                                 client_home: Path) -> None:
    require("fetchmail")
    msgs = crispin.load()
    inbox = [(data, flags) for folder, data, flags in msgs if folder == "INBOX"]
    out = tmp_path / "delivered"
    out.mkdir()
    rc = fetchmail_rc(tmp_path, crispin, out, implicit_tls=True)
    before = crispin.read("INBOX")

    # First poll: every unseen message (including the 5 MB one), byte for byte.
    assert fetchmail(rc, client_home) == 0
    got = delivered(out)
    unseen = [m.normalize(data) for data, flags in inbox if "\\Seen" not in flags]
    assert sorted(got) == sorted(unseen)
    after = crispin.read("INBOX")
    assert [msg.uid for msg in after] == [msg.uid for msg in before], "keep: nothing deleted"
    for old, new in zip(before, after, strict=True):
        assert new.body == old.body
        assert new.flags == old.flags | {"\\Seen"}, "fetchmail marks what it fetched \\Seen"

    # Second poll: nothing new.
    assert fetchmail(rc, client_home) == FETCHMAIL_NO_MAIL
    assert delivered(out) == []

    # A message marked unseen again is fetched again, and only that one.
    target = next(msg for msg in after if "\\Answered" in msg.flags)
    imap = crispin.imap()
    try:
        imap.select("INBOX")
        assert imap.uid("STORE", str(target.uid), "-FLAGS", "(\\Seen)")[0] == "OK"
    finally:
        imap.logout()
    assert fetchmail(rc, client_home) == 0
    assert delivered(out) == [m.normalize(target.body)]

    # A new arrival is fetched, and only that one.
    m.load_set(crispin.port, crispin.user, crispin.password,
               [("INBOX", m.extra_message(70), ())])
    assert fetchmail(rc, client_home) == 0
    assert delivered(out) == [m.normalize(m.extra_message(70))]
    assert fetchmail(rc, client_home) == FETCHMAIL_NO_MAIL
    assert all("\\Seen" in msg.flags for msg in crispin.read("INBOX"))
    crispin.assert_no_protocol_errors()


def test_fetchmail_over_starttls(crispin: InteropServer, tmp_path: Path,
                                 client_home: Path) -> None:
    require("fetchmail")
    crispin.load(m.message_set(large=False))
    out = tmp_path / "delivered"
    out.mkdir()
    rc = fetchmail_rc(tmp_path, crispin, out, implicit_tls=False)
    assert fetchmail(rc, client_home) == 0
    assert re.search(r" C: \S+ STARTTLS", crispin.log_text()), "fetchmail did not upgrade"
    unseen = [m.normalize(data) for folder, data, flags in m.message_set(large=False)
              if folder == "INBOX" and "\\Seen" not in flags]
    assert sorted(delivered(out)) == sorted(unseen)
    assert fetchmail(rc, client_home) == FETCHMAIL_NO_MAIL
    crispin.assert_no_protocol_errors()


# -- getmail ---------------------------------------------------------------------------------

def getmail_rc(tmp: Path, srv: InteropServer, out: Path, mailboxes: tuple[str, ...]) -> Path:
    gmdir = tmp / "getmail"
    gmdir.mkdir(exist_ok=True)
    boxes = ", ".join(f'"{name}"' for name in mailboxes)
    (gmdir / "getmailrc").write_text(
        "[retriever]\ntype = SimpleIMAPSSLRetriever\n"
        f"server = localhost\nport = {srv.tls_port}\nusername = {srv.user}\n"
        f"password = {srv.password}\nca_certs = {srv.cert}\nmailboxes = ({boxes},)\n"
        "timeout = 30\n\n"
        # getmail's Maildir delivery refuses to run as root; an external MDA may.
        "[destination]\ntype = MDA_external\npath = /bin/sh\n"
        f"arguments = (\"-c\", '{mda_command(out)}')\nallow_root_commands = true\n\n"
        "[options]\nread_all = false\ndelete = false\ndelivered_to = false\n"
        "received = false\nverbose = 1\n",
        encoding="utf-8")
    return gmdir


def getmail(gmdir: Path, home: Path) -> str:
    require("getmail")
    result = run_client(["getmail", "--getmaildir", str(gmdir), "--rcfile", "getmailrc"],
                        timeout=60, home=home)
    assert result.returncode == 0, describe(result)
    assert "error" not in (result.stdout + result.stderr).lower(), describe(result)
    return result.stdout


def test_getmail_keeps_and_fetches_only_new_uids(crispin: InteropServer, tmp_path: Path,
                                                 client_home: Path) -> None:
    require("getmail")
    msgs = crispin.load()
    out = tmp_path / "delivered"
    out.mkdir()
    gmdir = getmail_rc(tmp_path, crispin, out, ("INBOX", m.UMLAUT))
    before = crispin.snapshot()

    # First run: everything in both mailboxes (the second named in Unicode; getmail sends
    # modified UTF-7), unchanged on the server, flags included (BODY.PEEK).
    output = getmail(gmdir, client_home)
    expected = [m.normalize(data) for folder, data, _ in msgs if folder in ("INBOX", m.UMLAUT)]
    assert sorted(delivered(out)) == sorted(expected), output
    assert crispin.snapshot() == before

    # Second run: nothing new.
    output = getmail(gmdir, client_home)
    assert delivered(out) == [], output
    assert "0 messages" in output

    # A new arrival in each mailbox: exactly those two.
    m.load_set(crispin.port, crispin.user, crispin.password,
               [("INBOX", m.extra_message(80), ()), (m.UMLAUT, m.extra_message(81), ())])
    output = getmail(gmdir, client_home)
    assert sorted(delivered(out)) == sorted(
        [m.normalize(m.extra_message(80)), m.normalize(m.extra_message(81))]), output
    output = getmail(gmdir, client_home)
    assert delivered(out) == [], output
    crispin.assert_no_protocol_errors()
