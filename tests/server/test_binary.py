"""BINARY (RFC 3516): FETCH BINARY[section]<partial>, BINARY.PEEK and BINARY.SIZE with the
transfer encoding undone, NO [UNKNOWN-CTE], literal8 only for data with NUL (§4.3), and
APPEND of a literal8 (§4.4); on real sockets."""

from __future__ import annotations

import base64
import binascii
import re

from tests.server.harness import PASSWORD, RawClient, ServerThread

LOGIN = b'LOGIN alice "' + PASSWORD.encode() + b'"'

QP_TEXT = "Caf\u00e9 cr\u00e8me, a long line that the encoder has to break " * 3 + "\r\n"
BLOB = bytes(range(256)) * 4  # NULs and every other octet
UNIX_TEXT = b"line one\nline two\n"


def mime_message(attachment: bytes = BLOB) -> bytes:
    qp = binascii.b2a_qp(QP_TEXT.encode("utf-8"))
    b64 = base64.encodebytes(attachment).replace(b"\n", b"\r\n")
    return b"\r\n".join([
        b"From: a@example.com",
        b"Subject: binary",
        b"MIME-Version: 1.0",
        b'Content-Type: multipart/mixed; boundary="XX"',
        b"",
        b"--XX",
        b"Content-Type: text/plain; charset=utf-8",
        b"Content-Transfer-Encoding: quoted-printable",
        b"",
        qp,
        b"--XX",
        b"Content-Type: application/octet-stream",
        b"Content-Transfer-Encoding: base64",
        b"",
        b64,
        b"--XX",
        b"Content-Type: text/plain",
        b"Content-Transfer-Encoding: BASE64",
        b"",
        base64.b64encode(UNIX_TEXT),
        b"--XX",
        b"Content-Type: application/octet-stream",
        b"Content-Transfer-Encoding: x-uuencode",
        b"",
        b"begin 644 x",
        b"--XX--",
        b""])


class Reader:
    """Reads responses whose lines may carry literals ({n} and literal8 ~{n})."""

    def __init__(self, client: RawClient) -> None:
        self.c = client

    def read_exact(self, n: int) -> bytes:
        while len(self.c.buf) < n:
            chunk = self.c.sock.recv(1 << 20)
            if not chunk:
                raise ConnectionError("closed")
            self.c.buf += chunk
        data, self.c.buf = self.c.buf[:n], self.c.buf[n:]
        return data

    def response(self) -> tuple[bytes, list[bytes]]:
        """One response: its text (each literal replaced by {n} / ~{n}), its literals."""
        text, literals = b"", []
        while True:
            line = self.c.line()
            text += line
            m = re.search(rb"(~?)\{(\d+)\}$", line)
            if m is None:
                return text, literals
            literals.append(self.read_exact(int(m[2])))

    def command(self, tag: bytes, cmd: bytes) -> list[tuple[bytes, list[bytes]]]:
        self.c.send(tag + b" " + cmd + b"\r\n")
        out = []
        while True:
            out.append(self.response())
            if out[-1][0].startswith(tag + b" "):
                return out


def setup(server: ServerThread, body: bytes) -> Reader:
    c = server.raw()
    assert c.command(b"l", LOGIN)[-1].startswith(b"l OK")
    c.send(b"a APPEND INBOX {%d+}\r\n" % len(body) + body + b"\r\n")
    assert c.until_tagged(b"a")[-1].startswith(b"a OK")
    c.command(b"s", b"SELECT INBOX")
    return Reader(c)


def one(r: Reader, items: bytes) -> tuple[bytes, list[bytes]]:
    answer = r.command(b"f", b"FETCH 1 (" + items + b")")
    assert answer[-1][0].startswith(b"f OK"), answer
    assert len(answer) == 2, answer
    return answer[0]


def test_capability(server: ServerThread) -> None:
    c = server.raw()
    c.command(b"l", LOGIN)
    assert b"BINARY" in c.command(b"c", b"CAPABILITY")[0].split()
    c.close()


def test_decoded_parts_sizes_and_literal8(server: ServerThread) -> None:
    r = setup(server, mime_message())
    # quoted-printable, no NUL: a plain literal (§4.3 SHOULD)
    text, lits = one(r, b"BINARY.PEEK[1] BINARY.SIZE[1]")
    decoded = QP_TEXT.encode("utf-8")
    assert lits == [decoded]
    assert text == (b"* 1 FETCH (BINARY[1] {%d}" % len(decoded)
                    + b" BINARY.SIZE[1] %d)" % len(decoded))
    # base64 with NULs: a literal8, exactly the bytes encoded
    text, lits = one(r, b"BINARY.SIZE[2] BINARY.PEEK[2]")
    assert lits == [BLOB]
    assert text == b"* 1 FETCH (BINARY.SIZE[2] %d BINARY[2] ~{%d}" % (len(BLOB), len(BLOB)) + b")"
    # <partial> counts decoded octets; the response names the origin (RFC 3501 §7.4.2)
    text, lits = one(r, b"BINARY.PEEK[2]<1.4>")
    assert text == b"* 1 FETCH (BINARY[2]<1> {4})" and lits == [BLOB[1:5]]
    text, lits = one(r, b"BINARY.PEEK[2]<0.3>")
    assert text == b"* 1 FETCH (BINARY[2]<0> ~{3})" and lits == [BLOB[:3]]
    text, lits = one(r, b"BINARY.PEEK[2]<5000.10>")
    assert text == b"* 1 FETCH (BINARY[2]<5000> {0})" and lits == [b""]
    # §6: a textual part goes out with CRLF line ends, and its size says so
    text, lits = one(r, b"BINARY.PEEK[3] BINARY.SIZE[3]")
    assert lits == [b"line one\r\nline two\r\n"]
    assert text.endswith(b" BINARY.SIZE[3] 20)")
    # a part that does not exist
    text, lits = one(r, b"BINARY.PEEK[9] BINARY.SIZE[9]")
    assert text == b"* 1 FETCH (BINARY[9] NIL BINARY.SIZE[9] 0)"
    # BINARY[]: the whole message as stored
    text, lits = one(r, b"BINARY.PEEK[]")
    assert lits == [mime_message()]


def test_unknown_cte(server: ServerThread) -> None:
    r = setup(server, mime_message())
    for item in (b"BINARY.PEEK[4]", b"BINARY.SIZE[4]"):
        answer = r.command(b"u", b"FETCH 1 (" + item + b")")
        assert answer[-1][0].startswith(b"u NO [UNKNOWN-CTE]"), answer
    # a failed FETCH BINARY sets no \Seen
    answer = r.command(b"v", b"FETCH 1 (BINARY[4])")
    assert answer[-1][0].startswith(b"v NO [UNKNOWN-CTE]"), answer
    assert b"\\Seen" not in one(r, b"FLAGS")[0]
    # the connection goes on
    assert r.command(b"n", b"NOOP")[-1][0] == b"n OK NOOP completed"


def test_binary_sets_seen_and_peek_does_not(server: ServerThread) -> None:
    r = setup(server, mime_message())
    text, _ = one(r, b"BINARY.PEEK[1] FLAGS")
    assert b"\\Seen" not in text
    answer = r.command(b"f", b"FETCH 1 (BINARY[1])")
    assert b"\\Seen" in b" ".join(t for t, _ in answer)
    text, _ = one(r, b"FLAGS")
    assert b"\\Seen" in text


def test_large_base64_attachment_streamed(server: ServerThread) -> None:
    """A part kept in a file (above storage's inline size) is decoded as it is sent."""
    attachment = bytes((i * 7 + i // 251) % 256 for i in range(3 * 1024 * 1024))
    r = setup(server, mime_message(attachment))
    text, lits = one(r, b"BINARY.SIZE[2]")
    assert text == b"* 1 FETCH (BINARY.SIZE[2] %d)" % len(attachment)
    text, lits = one(r, b"BINARY.PEEK[2]")
    assert text == b"* 1 FETCH (BINARY[2] ~{%d})" % len(attachment)
    assert lits[0] == attachment
    middle = 1024 * 1024 + 3
    text, lits = one(r, b"BINARY.PEEK[2]<%d.700000>" % middle)
    assert lits == [attachment[middle:middle + 700000]]
    text, lits = one(r, b"BINARY.PEEK[1]")
    assert lits == [QP_TEXT.encode("utf-8")]


def test_append_literal8(server: ServerThread) -> None:
    c = server.raw()
    c.command(b"l", LOGIN)
    c.command(b"u", b"ENABLE UTF8=ACCEPT")  # RFC 6855 §4: for the 8-bit Subject
    eight = "Subject: caf\u00e9\r\n\r\nna\u00efve\r\n".encode()
    c.send(b"a APPEND INBOX ~{%d}\r\n" % len(eight))
    assert c.line() == b"+ Ready for literal data"
    c.send(eight + b"\r\n")
    assert c.until_tagged(b"a")[-1].startswith(b"a OK [APPENDUID")
    # §4.4: NUL octets this server cannot store: NO [UNKNOWN-CTE], nothing stored
    nul = b"Subject: nul\r\n\r\na\0b\r\n"
    c.send(b"b APPEND INBOX ~{%d+}\r\n" % len(nul) + nul + b"\r\n")
    assert c.until_tagged(b"b")[-1].startswith(b"b NO [UNKNOWN-CTE]")
    assert c.command(b"s", b"STATUS INBOX (MESSAGES)")[0].endswith(b"(MESSAGES 1)")
    c.command(b"x", b"SELECT INBOX")
    r = Reader(c)
    assert one(r, b"BODY.PEEK[]")[1] == [eight]
    c.close()
