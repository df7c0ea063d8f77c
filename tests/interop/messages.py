"""A test-message set the project writes itself, and helpers to load and read it back.

The set covers what real clients trip over: plain text, multipart/mixed with a base64
attachment, multipart/alternative, a nested message/rfc822, an RFC 2047 encoded non-ASCII
subject, an 8-bit UTF-8 body, a 5 MB message, and several folders including one with a
non-ASCII name (sent over IMAP as modified UTF-7, RFC 3501 §5.1.3).

Every message uses CRLF line endings, so the bytes APPENDed are the bytes stored (imaplib turns
bare LF into CRLF on APPEND). Clients that write a local Maildir or mbox store LF; compare with
:func:`normalize`.

The helpers talk to the server with ``imaplib`` over their own connection, independent of the
client under test, and encode folder names with the small modified UTF-7 codec below (not the
server's own), so a server encoding bug cannot hide behind a shared implementation.
"""

from __future__ import annotations

import base64
import hashlib
import imaplib
import re
from collections.abc import Iterable
from dataclasses import dataclass

CRLF = b"\r\n"

# Folder names as users see them (Unicode). "/" is the server's hierarchy separator.
INBOX = "INBOX"
ARCHIVE = "Archive"
PROJECTS = "Projekte/Crispin"
UMLAUT = "Entwürfe-alt"
FOLDERS = (INBOX, ARCHIVE, PROJECTS, UMLAUT)

Message = tuple[str, bytes, tuple[str, ...]]   # (folder, RFC 5322 bytes, flags)


# -- modified UTF-7 (RFC 3501 §5.1.3), written independently of protocol/mutf7.py ----------

def mutf7_encode(name: str) -> str:
    out: list[str] = []
    pending: list[str] = []

    def flush() -> None:
        if pending:
            raw = "".join(pending).encode("utf-16-be")
            out.append("&" + base64.b64encode(raw).decode().rstrip("=").replace("/", ",") + "-")
            pending.clear()

    for ch in name:
        if 0x20 <= ord(ch) <= 0x7E:
            flush()
            out.append("&-" if ch == "&" else ch)
        else:
            pending.append(ch)
    flush()
    return "".join(out)


def mutf7_decode(name: str) -> str:
    def repl(m: re.Match[str]) -> str:
        chunk = m.group(1)
        if not chunk:
            return "&"
        b64 = chunk.replace(",", "/")
        b64 += "=" * (-len(b64) % 4)
        return base64.b64decode(b64).decode("utf-16-be")

    return re.sub(r"&([A-Za-z0-9+,]*)-", repl, name)


# -- the messages -------------------------------------------------------------------------

def _msg(headers: list[str], body: bytes | str) -> bytes:
    head = CRLF.join(h.encode("utf-8") for h in headers)
    if isinstance(body, str):
        body = body.encode("utf-8")
    body = body.replace(b"\r\n", b"\n").replace(b"\n", CRLF)
    return head + CRLF + CRLF + body


TEXT_PLAIN = "Content-Type: text/plain; charset=us-ascii"


def _common(n: int, subject: str, *extra: str) -> list[str]:
    return [
        "From: Alice Example <alice@example.org>",
        "To: Bob Example <bob@example.org>",
        f"Subject: {subject}",
        "Date: Mon, 06 Jan 2025 10:00:00 +0100",
        f"Message-ID: <interop-{n}@crispin.test>",
        "MIME-Version: 1.0",
        *extra,
    ]


def plain_text(n: int = 1) -> bytes:
    return _msg(_common(n, f"Plain text message {n}", TEXT_PLAIN),
                f"Hello Bob,\n\nthis is plain message number {n}.\n"
                "A line with trailing spaces   \n"
                "From the start of a line (mbox clients quote this).\n"
                ".\n"
                "..a line starting with dots\n\n-- \nAlice\n")


def multipart_mixed() -> bytes:
    attachment = hashlib.sha256(b"crispin").digest() * 64     # 2 KiB of binary data
    b64 = base64.encodebytes(attachment).decode()
    body = (
        "This is a multi-part message in MIME format.\n"
        "--=_mixed_boundary\n"
        "Content-Type: text/plain; charset=us-ascii\n\n"
        "See the attachment.\n"
        "--=_mixed_boundary\n"
        "Content-Type: application/octet-stream; name=\"data.bin\"\n"
        "Content-Transfer-Encoding: base64\n"
        "Content-Disposition: attachment; filename=\"data.bin\"\n\n"
        f"{b64}"
        "--=_mixed_boundary--\n"
    )
    return _msg(_common(2, "Report with attachment",
                        'Content-Type: multipart/mixed; boundary="=_mixed_boundary"'), body)


def multipart_alternative() -> bytes:
    body = (
        "--alt-1\n"
        "Content-Type: text/plain; charset=us-ascii\n\n"
        "Plain version.\n"
        "--alt-1\n"
        "Content-Type: text/html; charset=us-ascii\n\n"
        "<html><body><p>HTML <b>version</b>.</p></body></html>\n"
        "--alt-1--\n"
    )
    return _msg(_common(3, "Alternative parts",
                        'Content-Type: multipart/alternative; boundary="alt-1"'), body)


def nested_rfc822() -> bytes:
    inner = plain_text(40).decode()
    body = (
        "--outer\n"
        "Content-Type: text/plain; charset=us-ascii\n\n"
        "Forwarding the message below.\n"
        "--outer\n"
        "Content-Type: message/rfc822\n"
        "Content-Disposition: inline\n\n"
        f"{inner}\n"
        "--outer--\n"
    )
    return _msg(_common(4, "Fwd: Plain text message 40",
                        'Content-Type: multipart/mixed; boundary="outer"'), body)


def encoded_subject() -> bytes:
    word = base64.b64encode("Grüße aus Köln".encode()).decode()
    return _msg(_common(5, f"=?UTF-8?B?{word}?=", TEXT_PLAIN), "Encoded subject.\n")


def eight_bit_body() -> bytes:
    return _msg(_common(6, "8bit body", "Content-Type: text/plain; charset=utf-8",
                        "Content-Transfer-Encoding: 8bit"),
                "Grüße aus Köln! Ça va? Τα λέμε. 日本語のテキスト.\n")  # noqa: RUF001


def large_message(size: int = 5 * 1024 * 1024) -> bytes:
    """A message of about ``size`` bytes: base64 lines of deterministic pseudo-random data."""
    block = b"".join(hashlib.sha256(i.to_bytes(4, "big")).digest() for i in range(1024))
    raw = (block * (size * 3 // 4 // len(block) + 1))[: size * 3 // 4]
    lines = base64.encodebytes(raw).replace(b"\n", CRLF)
    head = _msg(_common(7, "Large message", 'Content-Type: multipart/mixed; boundary="big"'),
                "--big\nContent-Type: text/plain\n\nA big file follows.\n--big\n"
                "Content-Type: application/octet-stream; name=\"big.bin\"\n"
                "Content-Transfer-Encoding: base64\n\n")
    return head + lines + b"--big--" + CRLF


def message_set(*, large: bool = True) -> list[Message]:
    """The standard set: (folder, bytes, flags), spread over :data:`FOLDERS`."""
    msgs: list[Message] = [
        (INBOX, plain_text(1), ()),
        (INBOX, multipart_mixed(), ("\\Seen",)),
        (INBOX, encoded_subject(), ("\\Flagged",)),
        (INBOX, eight_bit_body(), ("\\Seen", "\\Answered")),
        (ARCHIVE, multipart_alternative(), ("\\Seen",)),
        (ARCHIVE, plain_text(8), ("\\Seen", "\\Flagged")),
        (PROJECTS, nested_rfc822(), ()),
        (UMLAUT, plain_text(9), ("\\Draft", "\\Seen")),
    ]
    if large:
        msgs.insert(4, (INBOX, large_message(), ()))
    return msgs


def extra_message(n: int, subject: str | None = None) -> bytes:
    """A small new message, for "a new one arrives" steps."""
    return _msg(_common(n, subject or f"New message {n}", TEXT_PLAIN),
                f"Newly arrived, number {n}.\n")


# -- comparing ------------------------------------------------------------------------------

def normalize(data: bytes) -> bytes:
    """Bytes as a local store keeps them: LF line ends, no client bookkeeping headers."""
    data = data.replace(b"\r\n", b"\n")
    head, sep, body = data.partition(b"\n\n")
    kept = [line for line in head.split(b"\n")
            if not line.lower().startswith((b"x-tuid:", b"x-offlineimap:"))]
    return b"\n".join(kept) + sep + body


def subject_of(data: bytes) -> str:
    m = re.search(rb"^Subject: (.*)$", data.replace(b"\r\n", b"\n"), re.M)
    return m.group(1).decode() if m else ""


# -- talking to the server independently -----------------------------------------------------

@dataclass(frozen=True)
class ServerMessage:
    uid: int
    flags: frozenset[str]
    body: bytes


def connect(port: int, user: str, password: str, host: str = "127.0.0.1") -> imaplib.IMAP4:
    imap = imaplib.IMAP4(host, port, timeout=30)
    typ, _ = imap.login(user, password)
    assert typ == "OK"
    return imap


def _ok(result: tuple[str, list[object]], what: str) -> list[object]:
    typ, data = result
    assert typ == "OK", f"{what}: {typ} {data!r}"
    return data


def load_messages(imap: imaplib.IMAP4, messages: Iterable[Message]) -> None:
    """APPEND each message, creating (and subscribing) folders that do not exist yet."""
    existing = set(list_folders(imap))
    for folder, data, flags in messages:
        wire = mutf7_encode(folder)
        if folder not in existing:
            _ok(imap.create(_quote(wire)), f"CREATE {folder}")
            _ok(imap.subscribe(_quote(wire)), f"SUBSCRIBE {folder}")
            existing.add(folder)
        flag_list = "(" + " ".join(flags) + ")" if flags else None
        _ok(imap.append(_quote(wire), flag_list, None, data), f"APPEND {folder}")


def load_set(port: int, user: str, password: str, messages: Iterable[Message]) -> None:
    imap = connect(port, user, password)
    try:
        load_messages(imap, messages)
    finally:
        imap.logout()


_LIST_RE = re.compile(rb'^\((?P<attrs>[^)]*)\) (?:"(?:[^"\\]|\\.)*"|NIL) (?P<name>.*)$')


def list_folders(imap: imaplib.IMAP4) -> dict[str, set[str]]:
    """All folders (decoded to Unicode) with their LIST attributes."""
    result: dict[str, set[str]] = {}
    for item in _ok(imap.list('""', "*"), "LIST"):
        if isinstance(item, tuple):         # the name came as a literal
            m = _LIST_RE.match(item[0])
            name = item[1]
        else:
            assert isinstance(item, bytes)
            m = _LIST_RE.match(item)
            name = m.group("name") if m else b""
        assert m, item
        if name.startswith(b'"'):
            name = re.sub(rb"\\(.)", rb"\1", name[1:-1])
        attrs = set(m.group("attrs").decode().split())
        result[mutf7_decode(name.decode("ascii"))] = attrs
    return result


def _quote(name: str) -> str:
    return '"' + name.replace("\\", "\\\\").replace('"', '\\"') + '"'


_FETCH_RE = re.compile(rb"UID (\d+)|FLAGS \(([^)]*)\)")


def read_mailbox(imap: imaplib.IMAP4, folder: str) -> list[ServerMessage]:
    """UID, FLAGS (without \\Recent) and BODY.PEEK[] of every message, in UID order.

    The folder is opened with EXAMINE, so reading changes nothing.
    """
    exists = _ok(imap.select(_quote(mutf7_encode(folder)), readonly=True), f"EXAMINE {folder}")
    out: list[ServerMessage] = []
    if exists and exists[0] not in (b"0", None):
        data = _ok(imap.uid("FETCH", "1:*", "(UID FLAGS BODY.PEEK[])"), f"FETCH {folder}")
        for item in data:
            if not isinstance(item, tuple):
                continue            # the closing ")" of each FETCH response
            meta, body = item
            uid = flags = None
            for m in _FETCH_RE.finditer(meta):
                if m.group(1):
                    uid = int(m.group(1))
                else:
                    flags = frozenset(m.group(2).decode().split()) - {"\\Recent"}
            assert uid is not None and flags is not None, meta
            out.append(ServerMessage(uid, flags, body))
    _ok(imap.close(), "CLOSE")
    return sorted(out, key=lambda m: m.uid)


def snapshot(port: int, user: str, password: str) -> dict[str, list[ServerMessage]]:
    """Every selectable folder's contents, over a fresh connection."""
    imap = connect(port, user, password)
    try:
        folders = list_folders(imap)
        return {name: read_mailbox(imap, name) for name, attrs in folders.items()
                if "\\Noselect" not in attrs and "\\NonExistent" not in attrs}
    finally:
        imap.logout()
