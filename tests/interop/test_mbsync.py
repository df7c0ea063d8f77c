"""mbsync (isync, Debian package ``isync``) against Crispin: two-way Maildir synchronisation.

mbsync keeps a local Maildir and the server in step in both directions: it reads every folder
(LIST), downloads with UID FETCH, uploads with APPEND (using APPENDUID, RFC 4315), creates
folders (CREATE), propagates flags with UID STORE and deletions with \\Deleted plus EXPUNGE /
UID EXPUNGE. It is strict about UIDs: a server that changes UIDs or UIDVALIDITY, reports
wrong flags or loses an APPENDed message makes its next run duplicate or lose mail.

isync 1.4 keeps folder names verbatim: the non-ASCII folder appears locally under its
modified UTF-7 name; :func:`local_folders` decodes it for comparison.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable
from pathlib import Path

from tests.interop import messages as m
from tests.interop.conftest import InteropServer, describe, require, run_client

MAILDIR_FLAGS = {"D": "\\Draft", "F": "\\Flagged", "R": "\\Answered", "S": "\\Seen",
                 "T": "\\Deleted"}
MUTATING = re.compile(r" C: \S+ (?:UID )?(?:APPEND|STORE|EXPUNGE|CREATE|DELETE|RENAME|COPY|"
                      r"MOVE|SUBSCRIBE|UNSUBSCRIBE)\b", re.IGNORECASE)


def write_config(path: Path, srv: InteropServer, local: Path, *, starttls: bool) -> Path:
    if starttls:
        # Verify the way a user does with a real certificate: the system trust store
        # (pointed at our certificate with SSL_CERT_FILE), full chain and host name checks.
        security = (f"Host localhost\nPort {srv.port}\nSSLType STARTTLS\n"
                    "SystemCertificates yes\n")
    else:
        security = (f"Host 127.0.0.1\nPort {srv.tls_port}\nSSLType IMAPS\n"
                    f"CertificateFile {srv.cert}\nSystemCertificates no\n")
    path.write_text(
        f"IMAPAccount crispin\n{security}User {srv.user}\nPass \"{srv.password}\"\n\n"
        "IMAPStore remote\nAccount crispin\n\n"
        f"MaildirStore local\nPath {local}/\nInbox {local}/INBOX\nSubFolders Verbatim\n\n"
        "Channel everything\nFar :remote:\nNear :local:\nPatterns *\nCreate Both\n"
        "Expunge Both\nSyncState *\n"
    )
    return path


def mbsync(config: Path, home: Path, srv: InteropServer, *, starttls: bool = False
           ) -> str:
    require("mbsync")
    env = {"SSL_CERT_FILE": str(srv.cert)} if starttls else {}
    result = run_client(["mbsync", "-c", str(config), "-V", "-a"], timeout=60, home=home,
                        env=env)
    assert result.returncode == 0, describe(result)
    assert "error" not in result.stderr.lower(), describe(result)
    return result.stdout + result.stderr


def local_folders(root: Path) -> dict[str, dict[int | None, tuple[frozenset[str], bytes]]]:
    """{folder: {uid or None: (flags, bytes)}} of a Maildir++-less (Verbatim) tree."""
    out: dict[str, dict[int | None, tuple[frozenset[str], bytes]]] = {}
    for cur in sorted(root.rglob("cur")):
        folder = m.mutf7_decode(cur.parent.relative_to(root).as_posix())
        entries: dict[int | None, tuple[frozenset[str], bytes]] = {}
        for sub in ("cur", "new"):
            for f in sorted((cur.parent / sub).iterdir()):
                base, _, info = f.name.partition(":2,")
                uid_match = re.search(r",U=(\d+)", base)
                uid = int(uid_match.group(1)) if uid_match else None
                assert uid not in entries or uid is None, f
                flags = frozenset(MAILDIR_FLAGS[c] for c in info if c in MAILDIR_FLAGS)
                entries[uid] = (flags, f.read_bytes())
        out[folder] = entries
    return out


def server_as_local(srv: InteropServer) -> dict[str, dict[int | None, tuple[frozenset[str],
                                                                            bytes]]]:
    return {folder: {msg.uid: (msg.flags - {"\\Recent"}, m.normalize(msg.body))
                     for msg in msgs}
            for folder, msgs in srv.snapshot().items()}


def normalized(local: dict[str, dict[int | None, tuple[frozenset[str], bytes]]]
               ) -> dict[str, dict[int | None, tuple[frozenset[str], bytes]]]:
    return {folder: {uid: (flags, m.normalize(body)) for uid, (flags, body) in msgs.items()}
            for folder, msgs in local.items()}


def assert_in_step(srv: InteropServer, local: Path) -> None:
    server = server_as_local(srv)
    mine = normalized(local_folders(local))
    assert set(mine) == set(server)
    for folder in server:
        assert mine[folder].keys() == server[folder].keys(), folder
        for uid in server[folder]:
            assert mine[folder][uid][0] == server[folder][uid][0], (folder, uid)
            assert mine[folder][uid][1] == server[folder][uid][1], (folder, uid)


def find(folder: Path, uid: int) -> Path:
    (path,) = [p for p in folder.glob("*/*") if re.search(rf",U={uid}(?::|$)", p.name)]
    return path


def set_flags(path: Path, flags: str) -> Path:
    """Rename a Maildir file to carry exactly ``flags``, moving it to cur/ as MUAs do."""
    base = path.name.partition(":2,")[0]
    target = path.parent.parent / "cur" / f"{base}:2,{''.join(sorted(flags))}"
    path.rename(target)
    return target


def new_maildir(path: Path) -> Path:
    for sub in ("cur", "new", "tmp"):
        (path / sub).mkdir(parents=True, exist_ok=True)
    return path


def test_two_way_sync_over_imaps(crispin: InteropServer, tmp_path: Path,
                                 client_home: Path) -> None:
    require("mbsync")
    msgs = crispin.load()
    local = tmp_path / "Mail"
    local.mkdir()
    config = write_config(tmp_path / "mbsyncrc", crispin, local, starttls=False)

    # 1. First run: everything comes down, byte for byte, with flags and UIDs.
    mbsync(config, client_home, crispin)
    assert_in_step(crispin, local)
    down = normalized(local_folders(local))
    for folder, data, flags in msgs:
        assert (frozenset(flags), m.normalize(data)) in down[folder].values(), folder
    assert m.UMLAUT in down and m.PROJECTS in down

    # 2. Local changes of every kind.
    inbox = local / "INBOX"
    before = {msg.uid: msg for msg in crispin.read("INBOX")}
    unseen_uid = next(u for u, msg in before.items() if not msg.flags)
    seen_uid = next(u for u, msg in before.items() if msg.flags == {"\\Seen"})
    answered_uid = next(u for u, msg in before.items() if "\\Answered" in msg.flags)
    set_flags(find(inbox, unseen_uid), "S")                       # read it
    set_flags(find(inbox, seen_uid), "FS")                        # flag it
    set_flags(find(inbox, answered_uid), "RST")                   # delete it (trash flag)
    archive_first = min(msg.uid for msg in crispin.read(m.ARCHIVE))
    find(local / m.ARCHIVE, archive_first).unlink()               # delete the file
    new_local = b"From: me@example.org\nSubject: written offline\n\nDraft body\n"
    (inbox / "new" / "1700000000.1.laptop").write_bytes(new_local)
    folder_msg = b"From: me@example.org\nSubject: in a new folder\n\nHello\n"
    (new_maildir(local / "Lokal") / "cur" / "1700000000.2.laptop:2,S").write_bytes(folder_msg)
    nested_msg = b"From: me@example.org\nSubject: nested new folder\n\nHi\n"
    (new_maildir(local / "Projekte" / "Neu") / "new" / "1700000000.3.laptop"
     ).write_bytes(nested_msg)
    time.sleep(1.1)   # Maildir timestamps have one-second resolution; mbsync waits otherwise

    # 3. Second run pushes every change to the server.
    mbsync(config, client_home, crispin)
    after = {msg.uid: msg for msg in crispin.read("INBOX")}
    assert after[unseen_uid].flags == {"\\Seen"}
    assert after[seen_uid].flags == {"\\Seen", "\\Flagged"}
    assert answered_uid not in after, "a locally trashed message must be expunged (Expunge Both)"
    new_uids = set(after) - set(before)
    assert len(new_uids) == 1
    (new_uid,) = new_uids
    assert new_uid > max(before)
    assert m.normalize(after[new_uid].body) == new_local
    assert b"\n" not in after[new_uid].body.replace(b"\r\n", b""), "stored with CRLF"
    for uid in set(before) - {answered_uid}:
        assert after[uid].body == before[uid].body
    assert archive_first not in {msg.uid for msg in crispin.read(m.ARCHIVE)}

    imap = crispin.imap()
    try:
        folders = m.list_folders(imap)
    finally:
        imap.logout()
    assert "Lokal" in folders and "Projekte/Neu" in folders
    (lokal,) = crispin.read("Lokal")
    assert lokal.flags == {"\\Seen"} and m.normalize(lokal.body) == folder_msg
    (neu,) = crispin.read("Projekte/Neu")
    assert not neu.flags and m.normalize(neu.body) == nested_msg
    # Locally the uploaded messages now carry the UIDs the server assigned (APPENDUID).
    assert_in_step(crispin, local)

    # 4. Third run: nothing to do, on either side.
    server_before = crispin.snapshot()
    files_before = sorted(p.relative_to(local).as_posix() for p in local.rglob("*")
                          if p.is_file() and not p.name.startswith(".mbsync"))
    log_mark = len(crispin.log_text())
    output = mbsync(config, client_home, crispin)
    client_lines = [line for line in crispin.log_text()[log_mark:].splitlines()
                    if " C: " in line]
    assert any("SELECT" in line or "EXAMINE" in line for line in client_lines), output
    mutating = [line for line in client_lines if MUTATING.search(line)]
    assert not mutating, "\n".join(mutating)
    assert crispin.snapshot() == server_before
    assert sorted(p.relative_to(local).as_posix() for p in local.rglob("*")
                  if p.is_file() and not p.name.startswith(".mbsync")) == files_before
    crispin.assert_no_protocol_errors()


def test_starttls_with_system_trust_and_server_side_changes(
        crispin: InteropServer, tmp_path: Path, client_home: Path) -> None:
    """STARTTLS on the plain port, certificate checked as a trust anchor plus host name
    (``localhost`` must be in the SAN); then changes made on the server come down."""
    require("mbsync")
    crispin.load(m.message_set(large=False))
    local = tmp_path / "Mail"
    local.mkdir()
    config = write_config(tmp_path / "mbsyncrc", crispin, local, starttls=True)
    # Control: without our certificate as trust anchor mbsync refuses, so the run below
    # really verified the chain and the name.
    untrusted = run_client(["mbsync", "-c", str(config), "-a"], timeout=60, home=client_home)
    assert untrusted.returncode != 0 and "certificate" in untrusted.stderr, describe(untrusted)
    output = mbsync(config, client_home, crispin, starttls=True)
    assert "STARTTLS" in crispin.log_text(), output
    assert_in_step(crispin, local)

    # Changes on the server: a flag, an expunge, a new message, a new folder.
    imap = crispin.imap()
    try:
        imap.select("INBOX")
        imap.uid("STORE", "1", "+FLAGS", "(\\Answered)")
        imap.uid("STORE", "2", "+FLAGS", "(\\Deleted)")
        assert imap.expunge()[0] == "OK"
        m.load_messages(imap, [("INBOX", m.extra_message(50), ("\\Flagged",)),
                               ("Neu vom Server", m.extra_message(51), ())])
    finally:
        imap.logout()
    time.sleep(1.1)
    mbsync(config, client_home, crispin, starttls=True)
    assert_in_step(crispin, local)
    mine = normalized(local_folders(local))
    inbox = mine["INBOX"]
    assert "\\Answered" in inbox[1][0] and 2 not in inbox
    assert (frozenset({"\\Flagged"}), m.normalize(m.extra_message(50))) in inbox.values()
    assert list(mine["Neu vom Server"].values()) == [
        (frozenset(), m.normalize(m.extra_message(51)))]
    crispin.assert_no_protocol_errors()


def test_8bit_header_refused_rest_synced(make_crispin: Callable[..., InteropServer],
                                         tmp_path: Path, client_home: Path) -> None:
    """UTF8=ACCEPT is offered by default, and mbsync (isync 1.4) never enables it: RFC 6855
    §4 "the server MUST reject, with a "NO" response, an "APPEND" command that includes any
    8-bit character in message header fields". mbsync names the refused message, stores the
    others and exits 0; with ``imap.utf8_accept = false`` (a migration window,
    docs/utf8-accept.md) the same upload takes all three."""
    raw_subject = b"From: a@example.org\r\nSubject: caf\xe9 (Latin-1, raw)\r\n\r\nx\r\n"
    ascii_ones = [b"From: a@example.org\r\nSubject: ascii %d\r\n\r\nx\r\n" % n for n in (1, 3)]
    for name, env in (("default", {}), ("off", {"CRISPIN_IMAP_UTF8_ACCEPT": "false"})):
        srv = make_crispin(env=env)
        local = tmp_path / name
        inbox = new_maildir(local / "INBOX")
        for n, data in enumerate((ascii_ones[0], raw_subject, ascii_ones[1]), 1):
            (inbox / "cur" / f"{n}.local:2,S").write_bytes(data)
        config = write_config(tmp_path / f"mbsyncrc-{name}", srv, local, starttls=False)
        require("mbsync")
        result = run_client(["mbsync", "-c", str(config), "-a"], timeout=60, home=client_home)
        assert result.returncode == 0, describe(result)
        subjects = sorted(msg.body.split(b"Subject: ", 1)[1].split(b"\r\n", 1)[0]
                          for msg in srv.read("INBOX"))
        if name == "default":
            assert "refuses to store message" in result.stderr, describe(result)
            assert subjects == [b"ascii 1", b"ascii 3"]
        else:
            assert "refuses" not in result.stderr, describe(result)
            assert subjects == [b"ascii 1", b"ascii 3", b"caf\xe9 (Latin-1, raw)"]
