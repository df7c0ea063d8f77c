"""Deterministic test messages for bench/mailbox100k.py (and other benchmarks).

Realistic mail: varied subjects (some RFC 2047 encoded or folded), From/To/Cc, Message-ID,
References, 1-20 KB text bodies, some multipart with a small base64 attachment, some
quoted-printable. Needles let SEARCH answers be checked exactly: no generated word, name or
header contains one by accident.
"""

from __future__ import annotations

import base64
import bisect
import random
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from email.utils import format_datetime

SEED = 20261126

# Needles. No generated word, name or header contains one of them by accident (checked at
# import time below), so the expected SEARCH results are exactly the flags in Meta.
NEEDLE_SUBJECT = "quarterly"     # ~4% of subjects (some RFC 2047 encoded, some folded)
NEEDLE_FROM = "quimby"           # From of ~2% (and Cc of ~1% more, which FROM must not match)
NEEDLE_BODY = "xylophonist"      # 1% of bodies (in QP bodies split by a soft line break)
NEEDLE_TEXT = "zeppelin"         # 0.5% of subjects + 0.5% of bodies (TEXT = headers + body)


def _split(text: str) -> list[str]:
    return text.split()


WORDS = _split("""the of and to in is that it was for on are as with his they at be this from have
or by one had not but what all were when we there can an your which their said if do will
each about how up out them then she many some so these would other into has more her two like
him see time could no make than first been its who now people my made over did down only way
find use may water long little very after words called just where most know get through back
much before go good new write our used me man too any day same right look think also around
another came come work three word must because does part even place well such here take why
things help put years different away again off went old number great tell men say small every
found still between name should home big give air line set own under read last never us left
end along while might next sound below saw something thought both few those always looked show
large often together asked house world going want school important until form food keep
children feet land side without boy once animals life enough took sometimes four head above
kind began almost live page got earth need far hand high year mother light parts country father
let night following picture being study second eyes soon times story boys since white days ever
paper hard near sentence better best across during today others sure means knew its try told
young miles sun ways thing whole hear example heard several change answer room sea against top
turned learn point city play toward five using himself usually money seen car morning report
budget meeting review draft invoice schedule project release server client mailbox archive
backup network update status ticket deadline contract proposal summary agenda minutes""")

FIRST = _split("""Alice Bob Carol David Erin Frank Grace Heidi Ivan Judy Karl Laura Mallory
Niaj Olivia Peggy Rupert Sybil Trent Uma Victor Walter Xena Yusuf Zoe Anna Bernd Chloe
Dieter Elena Fritz
Greta Hans Ines Jonas Klara Lukas Marta Nils Otto Paula Rosa Stefan Tilde Ute Vera Wim""")
LAST = _split("""Smith Jones Miller Brown Davis Wilson Moore Taylor Anderson Thomas Jackson
White Harris Martin Thompson Garcia Martinez Robinson Clark Lewis Lee Walker Hall Allen
Young King Wright
Lopez Hill Scott Green Adams Baker Nelson Carter Mitchell Perez Roberts Turner Phillips Campbell
Parker Evans Edwards Collins Stewart Morris Rogers Reed Cook Morgan Bell Murphy Bailey""")
DOMAINS = ["example.com", "example.org", "example.net", "mail.example.de", "corp.example"]
ACCENTED = ["Grüße", "Café", "Überweisung", "naïve", "Fußball", "Señor", "Ångström", "Prüfung"]
UNICODE = ["Ελληνικά", "日本語のメール", "Привет", "Ünïcödé"]

for _w in WORDS + FIRST + LAST + DOMAINS + ACCENTED + UNICODE:
    for _n in (NEEDLE_SUBJECT, NEEDLE_FROM, NEEDLE_BODY, NEEDLE_TEXT):
        assert _n not in _w.casefold(), (_w, _n)

BASE_DATE = datetime(2024, 1, 1, 8, 0, tzinfo=timezone(timedelta(hours=1)))


def _corpus() -> tuple[bytes, list[int]]:
    """~1.5 MB of text lines (CRLF) made of WORDS; bodies are slices of it at line starts."""
    rng = random.Random(SEED)
    lines, offsets, pos = [], [], 0
    for _ in range(22000):
        words: list[str] = []
        length = 0
        limit = rng.randint(40, 74)
        while length < limit:
            w = rng.choice(WORDS)
            words.append(w)
            length += len(w) + 1
        if rng.random() < 0.15:
            words[0] = words[0].capitalize()
        line = (" ".join(words) + ("." if rng.random() < 0.3 else "")).encode() + b"\r\n"
        if rng.random() < 0.06:
            line += b"\r\n"   # paragraph break
        offsets.append(pos)
        lines.append(line)
        pos += len(line)
    offsets.append(pos)
    return b"".join(lines), offsets


CORPUS, CORPUS_OFFSETS = _corpus()


@dataclass(frozen=True)
class Meta:
    subject_needle: bool
    from_needle: bool
    body_needle: bool
    text_in_subject: bool
    text_in_body: bool


def _rng(i: int) -> random.Random:
    return random.Random(f"{SEED}:{i}")


def meta(i: int) -> Meta:
    """What message ``i`` contains (the first draws of its generator: cheap)."""
    rng = _rng(i)
    r = rng.random()
    return Meta(subject_needle=rng.random() < 0.04, from_needle=rng.random() < 0.02,
                body_needle=rng.random() < 0.01, text_in_subject=r < 0.005,
                text_in_body=0.005 <= r < 0.01)


def message_id(i: int) -> str:
    return f"<{i}.{(i * 2654435761) % 2**32:08x}@gen.crispin.example>"


def _address(rng: random.Random, quimby: bool = False) -> tuple[str, str]:
    first = rng.choice(FIRST)
    last = "Quimby" if quimby else rng.choice(LAST)
    return f"{first} {last}", f"{first.lower()}.{last.lower()}@{rng.choice(DOMAINS)}"


def _fmt_addr(name: str, addr: str, rng: random.Random) -> str:
    if rng.random() < 0.1:
        return addr
    if rng.random() < 0.05:  # an RFC 2047 display name
        b = base64.b64encode(f"{name} {rng.choice(ACCENTED)}".encode()).decode()
        return f"=?UTF-8?B?{b}?= <{addr}>"
    return f'"{name}" <{addr}>' if rng.random() < 0.3 else f"{name} <{addr}>"


def _encode_subject(text: str, rng: random.Random) -> str:
    try:
        latin = text.encode("latin-1")
    except UnicodeEncodeError:
        latin = None
    if latin is not None and rng.random() < 0.5:
        q = "".join(chr(c) if (48 <= c <= 57 or 65 <= c <= 90 or 97 <= c <= 122) else
                    "_" if c == 32 else f"={c:02X}" for c in latin)
        return f"=?ISO-8859-1?Q?{q}?="
    return f"=?UTF-8?B?{base64.b64encode(text.encode()).decode()}?="


def _qp_line(line: bytes) -> bytes:
    out = []
    for c in line:
        if c == 61 or c > 126:
            out.append(f"={c:02X}".encode())
        else:
            out.append(bytes([c]))
    return b"".join(out)


def generate(i: int) -> bytes:
    """Message ``i`` (0-based), CRLF line ends, deterministic."""
    rng = _rng(i)
    r = rng.random()
    m = Meta(subject_needle=rng.random() < 0.04, from_needle=rng.random() < 0.02,
             body_needle=rng.random() < 0.01, text_in_subject=r < 0.005,
             text_in_body=0.005 <= r < 0.01)
    # --- subject
    words = [rng.choice(WORDS) for _ in range(rng.randint(2, 7))]
    if m.subject_needle:
        words.insert(rng.randint(0, len(words)), rng.choice([NEEDLE_SUBJECT, "Quarterly",
                                                                "QUARTERLY"]))
    if m.text_in_subject:
        words.insert(rng.randint(0, len(words)), NEEDLE_TEXT)
    prefix = rng.choice(["", "", "", "Re: ", "RE: ", "Fwd: ", "AW: "])
    kind = rng.random()
    if kind < 0.12:      # RFC 2047 encoded word with non-ASCII text
        words.insert(rng.randint(0, len(words)), rng.choice(ACCENTED + UNICODE))
        subject = prefix + _encode_subject(" ".join(words).capitalize(), rng)
    elif kind < 0.20:    # long, folded over two lines
        words += [rng.choice(WORDS) for _ in range(12)]
        half = len(words) // 2
        subject = (prefix + " ".join(words[:half]).capitalize() + "\r\n " +
                   " ".join(words[half:]))
    else:
        subject = prefix + " ".join(words).capitalize()
    # --- addresses
    from_name, from_addr = _address(rng, quimby=m.from_needle)
    to = ["Bench User <bench@crispin.example>"]
    for _ in range(rng.choice([0, 0, 0, 1, 2])):
        to.append(_fmt_addr(*_address(rng), rng))
    cc = [_fmt_addr(*_address(rng), rng) for _ in range(rng.choice([0, 0, 1, 2, 3]))]
    if not m.from_needle and rng.random() < 0.01:
        cc.append(_fmt_addr(*_address(rng, quimby=True), rng))
    date = BASE_DATE + timedelta(seconds=i * 300 + rng.randint(0, 299))
    headers = [
        f"Return-Path: <{from_addr}>",
        f"Received: from mx{rng.randint(1, 9)}.example.net (mx.example.net [192.0.2.{i % 250}])"
        f"\r\n\tby mail.crispin.example with ESMTPS id {i:x}; {format_datetime(date)}",
        f"Date: {format_datetime(date)}",
        f"From: {_fmt_addr(from_name, from_addr, rng)}",
        "To: " + ",\r\n ".join(to),
    ]
    if cc:
        headers.append("Cc: " + ", ".join(cc))
    headers.append(f"Subject: {subject}")
    headers.append(f"Message-ID: {message_id(i)}")
    if i > 10 and rng.random() < 0.35:
        refs = sorted({rng.randint(max(0, i - 2000), i - 1) for _ in range(rng.randint(1, 5))})
        headers.append(f"In-Reply-To: {message_id(refs[-1])}")
        headers.append("References: " + "\r\n ".join(message_id(j) for j in refs))
    if rng.random() < 0.05:
        headers.append("X-Priority: 1 (Highest)")
    headers.append("MIME-Version: 1.0")
    # --- body
    size = rng.randint(1024, 20 * 1024)
    start = rng.randrange(0, len(CORPUS_OFFSETS) - 1)
    a = CORPUS_OFFSETS[start]
    end = bisect.bisect_left(CORPUS_OFFSETS, a + size)
    if end >= len(CORPUS_OFFSETS):
        end = len(CORPUS_OFFSETS) - 1
        a = max(0, CORPUS_OFFSETS[end] - size)
        a = CORPUS_OFFSETS[bisect.bisect_left(CORPUS_OFFSETS, a)]
    lines = CORPUS[a:CORPUS_OFFSETS[end]].split(b"\r\n")[:-1]
    multipart = rng.random() < 0.10
    qp = not multipart and rng.random() < 0.05
    specials = []
    if m.body_needle:
        specials.append(f"The {NEEDLE_BODY} arrived early for the rehearsal.".encode())
    if m.text_in_body:
        specials.append(f"A {NEEDLE_TEXT} flew over the harbour at noon.".encode())
    for s in specials:
        lines.insert(rng.randint(0, len(lines)), s)
    if qp:
        qlines = []
        for ln in lines:
            if NEEDLE_BODY.encode() in ln:       # split the needle by a soft line break
                k = ln.index(NEEDLE_BODY.encode()) + 4
                qlines += [_qp_line(ln[:k]) + b"=", _qp_line(ln[k:])]
            else:
                qlines.append(_qp_line(ln))
        at = rng.randint(0, len(qlines))
        if at and qlines[at - 1].endswith(b"="):
            at += 1                              # never inside the soft-broken needle
        qlines.insert(at, _qp_line("Grüße aus München, café au lait, naïve Señor.".encode()))
        body = b"\r\n".join(qlines) + b"\r\n"
        headers += ["Content-Type: text/plain; charset=utf-8",
                    "Content-Transfer-Encoding: quoted-printable"]
    else:
        body = b"\r\n".join(lines) + b"\r\n"
        charset = rng.choice(["us-ascii", "utf-8", "utf-8"])
        if not multipart:
            headers += [f"Content-Type: text/plain; charset={charset}; format=flowed",
                        "Content-Transfer-Encoding: 7bit"]
    if multipart:
        boundary = f"----=_Part_{i}_{rng.randrange(10**9)}"
        headers.append(f'Content-Type: multipart/mixed; boundary="{boundary}"')
        blob = rng.randbytes(rng.randint(512, 4096))
        b64 = base64.encodebytes(blob).replace(b"\n", b"\r\n")
        name = rng.choice(["report.pdf", "scan.png", "data.bin", "invoice.pdf"])
        body = (b"This is a multi-part message in MIME format.\r\n\r\n"
                + f"--{boundary}\r\n".encode()
                + b"Content-Type: text/plain; charset=utf-8\r\n"
                + b"Content-Transfer-Encoding: 7bit\r\n\r\n" + body + b"\r\n"
                + f"--{boundary}\r\n".encode()
                + f'Content-Type: application/octet-stream; name="{name}"\r\n'.encode()
                + b"Content-Transfer-Encoding: base64\r\n"
                + f'Content-Disposition: attachment; filename="{name}"\r\n\r\n'.encode()
                + b64 + f"--{boundary}--\r\n".encode())
    return "\r\n".join(headers).encode() + b"\r\n\r\n" + body


# --------------------------------------------------------------------------------------------
# Client: blocking socket, raw reader
