"""The mail-import readers (mbox, Maildir, .eml) and the progress bar."""

from __future__ import annotations

import io
import os
import tracemalloc
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import pytest

from crispin.server.importer import (
    ImportedMessage,
    ImportError_,
    Progress,
    count_messages,
    detect_format,
    from_line_date,
    maildir_subfolders,
    read_messages,
    to_crlf,
)

T0 = 1_700_000_000  # 2023-11-14 22:13:20 UTC


def read_all(path: Path) -> list[ImportedMessage]:
    return list(read_messages(path))


def write(path: Path, data: bytes, mtime: float | None = None) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    if mtime is not None:
        os.utime(path, (mtime, mtime))
    return path


# ------------------------------------------------------------------------ line endings

@pytest.mark.parametrize(("raw", "crlf"), [
    (b"a\nb\n", b"a\r\nb\r\n"),
    (b"a\r\nb\r\n", b"a\r\nb\r\n"),
    (b"a\r\nb\nc", b"a\r\nb\r\nc"),
    (b"a\rb\n", b"a\rb\r\n"),          # a lone CR is not a line ending: left alone
    (b"\n\n", b"\r\n\r\n"),
    (b"a\r\r\n", b"a\r\r\n"),
    (b"", b""),
])
def test_to_crlf(raw: bytes, crlf: bytes) -> None:
    assert to_crlf(raw) == crlf


# -------------------------------------------------------------------------------- mbox

MBOX = (
    b"From alice@example.com Thu Jan  4 10:20:30 2024\n"
    b"From: Alice <alice@example.com>\n"
    b"Subject: first\n"
    b"Status: RO\n"
    b"X-Status: AF\n"
    b"\n"
    b"Hello.\n"
    b">From the start, quoted by the writer.\n"
    b">>From deeper quoting.\n"
    b"> From is not quoting (space after >).\n"
    b"\n"
    b"From bob@example.com Fri Feb 29 23:59:59 2024\n"
    b"From: Bob <bob@example.com>\n"
    b"Subject: second\n"
    b"Status: O\n"
    b"X-Status: TD\n"
    b"\n"
    b"Body two.\n"
    b"\n"
    b"From MAILER-DAEMON Sat Mar  2 08:00:00 2024\n"
    b"Subject: third, no flag headers\n"
    b"\n"
    b"Body three.\n"
    b"\n"
)


def test_mbox_messages_flags_dates(tmp_path: Path) -> None:
    path = write(tmp_path / "inbox", MBOX)
    assert detect_format(path) == "mbox"
    assert count_messages(path) == 3
    msgs = read_all(path)
    assert len(msgs) == 3
    one, two, three = msgs
    assert one.data == (
        b"From: Alice <alice@example.com>\r\n"
        b"Subject: first\r\n"
        b"\r\n"
        b"Hello.\r\n"
        b"From the start, quoted by the writer.\r\n"
        b">From deeper quoting.\r\n"
        b"> From is not quoting (space after >).\r\n"
    )
    assert one.flags == ("\\Seen", "\\Answered", "\\Flagged")
    assert one.internal_date == datetime(2024, 1, 4, 10, 20, 30, tzinfo=UTC)
    assert one.source == f"{path}:1"
    assert two.flags == ("\\Deleted", "\\Draft")        # Status O: old, not seen
    assert two.internal_date == datetime(2024, 2, 29, 23, 59, 59, tzinfo=UTC)
    assert two.data.endswith(b"\r\n\r\nBody two.\r\n")
    assert b"Status" not in two.data
    assert three.flags == ()
    assert three.data == b"Subject: third, no flag headers\r\n\r\nBody three.\r\n"
    assert three.source == f"{path}:20"


def test_mbox_crlf_file_is_not_doubled(tmp_path: Path) -> None:
    path = write(tmp_path / "crlf.mbox", MBOX.replace(b"\n", b"\r\n"))
    lf = read_all(write(tmp_path / "lf.mbox", MBOX))
    crlf = read_all(path)
    assert [m.data for m in crlf] == [m.data for m in lf]
    assert [m.flags for m in crlf] == [m.flags for m in lf]
    assert all(b"\r\r" not in m.data for m in crlf)
    assert count_messages(path) == 3


def test_mbox_empty_and_blank(tmp_path: Path) -> None:
    empty = write(tmp_path / "empty", b"")
    assert detect_format(empty) == "mbox"
    assert read_all(empty) == []
    assert count_messages(empty) == 0
    blank = write(tmp_path / "blank.mbox", b"\n\n")
    assert read_all(blank) == []


def test_mbox_last_message_without_newline(tmp_path: Path) -> None:
    path = write(tmp_path / "m", b"From a Mon Jan  1 00:00:00 2024\nSubject: x\n\nno newline")
    (msg,) = read_all(path)
    assert msg.data == b"Subject: x\r\n\r\nno newline"


def test_mbox_keeps_message_blank_lines_and_drops_only_the_separator(tmp_path: Path) -> None:
    path = write(tmp_path / "m", (
        b"From a Mon Jan  1 00:00:00 2024\nSubject: x\n\nbody\n\n\n\n"
        b"From b Mon Jan  1 00:00:01 2024\nSubject: y\n\n"       # headers only
        b"From c Mon Jan  1 00:00:02 2024\nSubject: z\n\nlast\n"   # no trailing blank line
    ))
    a, b, c = read_all(path)
    assert a.data == b"Subject: x\r\n\r\nbody\r\n\r\n\r\n"
    assert b.data == b"Subject: y\r\n"
    assert c.data == b"Subject: z\r\n\r\nlast\r\n"


def test_mbox_from_separator_rules(tmp_path: Path) -> None:
    # An unquoted "From " line inside a body (no empty line before, no date) is body text;
    # a separator with a date but no empty line before it still starts a message.
    path = write(tmp_path / "m", (
        b"From a Mon Jan  1 00:00:00 2024\nSubject: x\n\nline\nFrom me to you\n"
        b"From b Tue Jan  2 00:00:00 2024\nSubject: y\n\nbody\n"
    ))
    a, b = read_all(path)
    assert a.data == b"Subject: x\r\n\r\nline\r\nFrom me to you\r\n"
    assert b.internal_date == datetime(2024, 1, 2, tzinfo=UTC)


def test_mbox_binary_and_nul_preserved(tmp_path: Path) -> None:
    body = bytes(b for b in range(256) if b not in (10, 13)) + b"\x00\x00end"
    path = write(tmp_path / "m", b"From a Mon Jan  1 00:00:00 2024\nSubject: bin\n\n"
                 + body + b"\n\n")
    (msg,) = read_all(path)
    assert msg.data == b"Subject: bin\r\n\r\n" + body + b"\r\n"


def test_mbox_metadata_headers_and_keywords(tmp_path: Path) -> None:
    path = write(tmp_path / "m", (
        b"From a Mon Jan  1 00:00:00 2024\n"
        b"Subject: x\n"
        b"X-Keywords: $Label1 Junk\n"
        b"  $label1 bad(kw\n"              # folded; duplicate (case-insensitive) and invalid
        b"X-UID: 17\n"
        b"Status: R\n"
        b"X-Mozilla-Status: 1002\n"           # replied + forwarded; header kept
        b"X-Mozilla-Keys: $label2\n"
        b"\n"
        b"Status: R in the body is not a header\n"
    ))
    (msg,) = read_all(path)
    assert msg.flags == ("\\Seen", "\\Answered", "$Label1", "Junk", "$Forwarded", "$label2")
    assert msg.data == (
        b"Subject: x\r\n"
        b"X-Mozilla-Status: 1002\r\n"
        b"X-Mozilla-Keys: $label2\r\n"
        b"\r\n"
        b"Status: R in the body is not a header\r\n"
    )


def test_mbox_uw_imap_pseudo_message_skipped(tmp_path: Path) -> None:
    path = write(tmp_path / "m", (
        b"From MAILER-DAEMON Mon Jan  1 00:00:00 2024\n"
        b"Subject: DON'T DELETE THIS MESSAGE -- FOLDER INTERNAL DATA\n"
        b"X-IMAP: 1234567890 0000000002\n\nThis text is part of the internal format.\n\n"
        b"From a Mon Jan  1 00:00:01 2024\nSubject: real\n\nbody\n"
    ))
    skipped: list[tuple[str, str]] = []
    msgs = list(read_messages(path, on_skip=lambda src, why: skipped.append((src, why))))
    assert [m.data for m in msgs] == [b"Subject: real\r\n\r\nbody\r\n"]
    assert skipped and skipped[0][0] == f"{path}:1"


@pytest.mark.parametrize(("line", "expected"), [
    (b"From a@b Thu Jan  4 10:20:30 2024\n", datetime(2024, 1, 4, 10, 20, 30, tzinfo=UTC)),
    (b"From a@b  Thu Jan 4 10:20 2024\r\n", datetime(2024, 1, 4, 10, 20, tzinfo=UTC)),
    (b"From a@b Thu Jan  4 10:20:30 2024 -0500\n",
     datetime(2024, 1, 4, 10, 20, 30, tzinfo=timezone(timedelta(hours=-5)))),
    (b"From a@b Thu Jan  4 10:20:30 +0100 2024\n",
     datetime(2024, 1, 4, 10, 20, 30, tzinfo=timezone(timedelta(hours=1)))),
    (b"From a@b Thu Jan  4 10:20:30 PST 2024\n", datetime(2024, 1, 4, 10, 20, 30, tzinfo=UTC)),
    (b"From a@b Thu, 04 Jan 2024 10:20:30 +0000\n", datetime(2024, 1, 4, 10, 20, 30, tzinfo=UTC)),
    (b"From the start of time\n", None),
    (b"From a@b Thu Feb 30 10:20:30 2024\n", None),
])
def test_from_line_date(line: bytes, expected: datetime | None) -> None:
    assert from_line_date(line) == expected


def test_mbox_streams_with_bounded_memory(tmp_path: Path) -> None:
    path = tmp_path / "big.mbox"
    body = b"".join(b"line %05d of a reasonably long body, >From quoted\n" % i for i in range(200))
    n = 0
    with path.open("wb") as f:
        while f.tell() < 20 * 1024 * 1024:
            f.write(b"From x@example.com Mon Jan  1 00:00:00 2024\n"
                    b"Subject: message %d\nStatus: RO\n\n" % n + body + b"\n")
            n += 1
    size = path.stat().st_size
    assert count_messages(path) == n
    tracemalloc.start()
    try:
        count = total = 0
        for msg in read_messages(path):
            count += 1
            total += len(msg.data)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert count == n
    assert total > size  # CRLF conversion made every message grow
    assert peak < size // 20, f"peak {peak} bytes for a {size}-byte mbox"


def test_count_messages_mbox_limit(tmp_path: Path) -> None:
    path = write(tmp_path / "m", MBOX)
    assert count_messages(path, max_mbox_bytes=10) is None
    assert count_messages(path, max_mbox_bytes=10_000) == 3


# ----------------------------------------------------------------------------- Maildir

def make_maildir(root: Path) -> Path:
    for sub in ("cur", "new", "tmp"):
        (root / sub).mkdir(parents=True)
    return root


def test_maildir_flags_dates_and_order(tmp_path: Path) -> None:
    md = make_maildir(tmp_path / "Maildir")
    write(md / "cur" / f"{T0 + 30}.M2P1.host:2,S", b"Subject: c\n\nthird\n", mtime=T0 + 300)
    write(md / "cur" / f"{T0 + 10}.M5P1.host:2,FRS", b"Subject: a\n\nfirst\n", mtime=T0 + 100)
    write(md / "cur" / f"{T0 + 10}.M900P1.host:2,DPT", b"Subject: b\r\n\r\nsecond\r\n",
          mtime=T0 + 200)
    write(md / "new" / f"{T0 + 40}.M1P1.host", b"Subject: d\n\nfourth\n", mtime=T0 + 400)
    write(md / "new" / f"{T0 + 50}.M1P1.host:2,S", b"Subject: e\n\nfifth\n", mtime=T0 + 500)
    write(md / "tmp" / f"{T0}.M1P1.host", b"Subject: in delivery\n\n")
    write(md / "cur" / ".hidden", b"Subject: no\n\n")
    assert detect_format(md) == "maildir"
    assert count_messages(md) == 5
    msgs = read_all(md)
    assert [m.data.split(b"\r\n")[0] for m in msgs] == [
        b"Subject: a", b"Subject: b", b"Subject: c", b"Subject: d", b"Subject: e"]
    assert msgs[0].data == b"Subject: a\r\n\r\nfirst\r\n"
    assert msgs[1].data == b"Subject: b\r\n\r\nsecond\r\n"
    assert [m.flags for m in msgs] == [
        ("\\Seen", "\\Answered", "\\Flagged"),
        ("\\Deleted", "\\Draft", "$Forwarded"),
        ("\\Seen",),
        (),
        (),                                    # in new/: never \Seen
    ]
    assert [m.internal_date for m in msgs] == [
        datetime.fromtimestamp(T0 + t, UTC) for t in (100, 200, 300, 400, 500)]
    assert msgs[0].source == str(md / "cur" / f"{T0 + 10}.M5P1.host:2,FRS")


def test_maildir_mtime_fallback_order(tmp_path: Path) -> None:
    md = make_maildir(tmp_path / "md")
    write(md / "cur" / "zzz:2,", b"Subject: older\n\n", mtime=T0)
    write(md / "cur" / "aaa:2,", b"Subject: newer\n\n", mtime=T0 + 60)
    assert [m.data for m in read_all(md)] == [b"Subject: older\r\n\r\n", b"Subject: newer\r\n\r\n"]


def test_maildir_dovecot_uidlist_order(tmp_path: Path) -> None:
    md = make_maildir(tmp_path / "md")
    write(md / "cur" / f"{T0 + 1}.M1P1.host:2,S", b"Subject: uid 9\n\n")
    write(md / "cur" / f"{T0 + 2}.M1P1.host:2,", b"Subject: uid 3\n\n")
    write(md / "new" / f"{T0}.M1P1.host", b"Subject: not listed\n\n")
    (md / "dovecot-uidlist").write_text(
        "3 V1700000000 N10 G0123456789abcdef\n"
        f"3 :{T0 + 2}.M1P1.host\n"
        f"9 W123 :{T0 + 1}.M1P1.host\n")
    subjects = [m.data.split(b"\r\n")[0] for m in read_all(md)]
    assert subjects == [b"Subject: uid 3", b"Subject: uid 9", b"Subject: not listed"]


def test_maildir_dovecot_keywords(tmp_path: Path) -> None:
    md = make_maildir(tmp_path / "md")
    (md / "dovecot-keywords").write_text("0 $Junk\n1 Work\n2\nbad line\n3 $label1\n")
    write(md / "cur" / f"{T0}.M1P1.host:2,Sabdz", b"Subject: k\n\n")
    (msg,) = read_all(md)
    assert msg.flags == ("\\Seen", "$Junk", "Work", "$label1")


def test_maildir_keyword_letters_without_keywords_file(tmp_path: Path) -> None:
    md = make_maildir(tmp_path / "md")
    write(md / "cur" / f"{T0}.M1P1.host:2,Fab", b"Subject: k\n\n")
    assert read_all(md)[0].flags == ("\\Flagged",)


def test_maildir_without_tmp_and_empty_files(tmp_path: Path) -> None:
    md = tmp_path / "md"
    write(md / "cur" / f"{T0}.M1P1.host:2,S", b"")
    write(md / "cur" / f"{T0 + 1}.M1P1.host:2,S", b"Subject: ok\n\n")
    skipped: list[str] = []
    msgs = list(read_messages(md, on_skip=lambda src, why: skipped.append(why)))
    assert [m.data for m in msgs] == [b"Subject: ok\r\n\r\n"]
    assert skipped == ["empty file"]


def test_maildir_subfolders_not_read_but_listed(tmp_path: Path) -> None:
    md = make_maildir(tmp_path / "md")
    write(md / "cur" / f"{T0}.M1P1.host:2,S", b"Subject: top\n\n")
    make_maildir(md / ".Sent")
    make_maildir(md / ".Archive.2023")
    make_maildir(md / ".Archive")
    write(md / ".Archive.2023" / "cur" / f"{T0}.M1P1.host:2,", b"Subject: deep\n\n")
    (md / ".notamaildir").mkdir()
    make_maildir(md / ".bad..name")
    assert [m.data for m in read_all(md)] == [b"Subject: top\r\n\r\n"]
    assert maildir_subfolders(md) == [
        ("Archive", md / ".Archive"),
        ("Archive/2023", md / ".Archive.2023"),
        ("Sent", md / ".Sent"),
    ]


# -------------------------------------------------------------------------------- .eml

def test_single_eml(tmp_path: Path) -> None:
    path = write(tmp_path / "note.EML", b"Subject: hi\n\n\x00\xff8bit\r\nmixed\n", mtime=T0)
    assert detect_format(path) == "eml"
    assert count_messages(path) == 1
    (msg,) = read_all(path)
    assert msg == ImportedMessage(b"Subject: hi\r\n\r\n\x00\xff8bit\r\nmixed\r\n", (),
                                  datetime.fromtimestamp(T0, UTC), str(path))


def test_message_file_without_eml_suffix(tmp_path: Path) -> None:
    path = write(tmp_path / "message.txt", b"Received: from x\nSubject: hi\n\nbody\n")
    assert detect_format(path) == "eml"
    assert read_all(path)[0].data.startswith(b"Received: from x\r\n")


def test_eml_with_envelope_line(tmp_path: Path) -> None:
    path = write(tmp_path / "m.eml", b"From a@b Mon Jan  1 00:00:00 2024\nSubject: hi\n\nbody\n")
    assert read_all(path)[0].data == b"Subject: hi\r\n\r\nbody\r\n"


def test_eml_directory(tmp_path: Path) -> None:
    d = tmp_path / "eml"
    write(d / "10.eml", b"Subject: ten\n\n", mtime=T0 + 10)
    write(d / "2.eml", b"Subject: two\n\n", mtime=T0 + 2)
    write(d / "1.eml", b"Subject: one\n\n", mtime=T0 + 1)
    write(d / "notes.txt", b"not a message")
    write(d / "sub" / "3.eml", b"Subject: not recursive\n\n")
    write(d / "empty.eml", b"")
    assert detect_format(d) == "eml"
    assert count_messages(d) == 4
    msgs = read_all(d)
    assert [m.data for m in msgs] == [b"Subject: one\r\n\r\n", b"Subject: two\r\n\r\n",
                                      b"Subject: ten\r\n\r\n"]
    assert [m.internal_date for m in msgs] == [
        datetime.fromtimestamp(T0 + t, UTC) for t in (1, 2, 10)]
    assert all(m.flags == () for m in msgs)


# --------------------------------------------------------------------------- detection

def test_detect_errors(tmp_path: Path) -> None:
    with pytest.raises(ImportError_, match="no such file"):
        detect_format(tmp_path / "missing")
    (tmp_path / "emptydir").mkdir()
    with pytest.raises(ImportError_, match="neither a Maildir"):
        detect_format(tmp_path / "emptydir")
    junk = write(tmp_path / "junk.bin", b"\x89PNG\r\n\x1a\n\x00\x00")
    with pytest.raises(ImportError_, match="not an mbox"):
        detect_format(junk)
    with pytest.raises(ImportError_, match="not an mbox"):
        read_messages(junk)  # raised at call time, not at the first next()
    named_mbox = write(tmp_path / "inbox.mbox", b"Subject: no envelope line\n\n")
    with pytest.raises(ImportError_, match="not an mbox"):
        detect_format(named_mbox)
    gz = write(tmp_path / "inbox.gz", b"\x1f\x8b\x08\x00rest")
    with pytest.raises(ImportError_, match="compressed"):
        count_messages(gz)
    with pytest.raises(ImportError_, match="unknown import format"):
        read_messages(junk, fmt="pst")


def test_mbox_with_garbage_before_first_separator(tmp_path: Path) -> None:
    path = write(tmp_path / "m", b"junk\nFrom a Mon Jan  1 00:00:00 2024\n\n")
    with pytest.raises(ImportError_, match="not an mbox"):
        read_messages(path)
    with pytest.raises(ImportError_, match="line 1: not an mbox"):
        list(read_messages(path, fmt="mbox"))
    leading_blank = write(tmp_path / "m2", b"\n\nFrom a Mon Jan  1 00:00:00 2024\nSubject: x\n")
    assert detect_format(leading_blank) == "mbox"
    assert count_messages(leading_blank) == 1
    assert [m.data for m in read_all(leading_blank)] == [b"Subject: x\r\n"]


# ---------------------------------------------------------------------------- progress

class FakeTTY(io.StringIO):
    def isatty(self) -> bool:
        return True


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_progress_on_a_tty() -> None:
    out, clock = FakeTTY(), Clock()
    bar = Progress(5000, out, width=10, clock=clock)
    clock.now += 4.0
    bar.advance(1240)
    assert out.getvalue() == "\rImporting  1240/5000 [##........] 24%  310 msg/s  ETA 0:12"
    out.truncate(0)
    out.seek(0)
    clock.now += 0.06
    bar.advance(10)               # too soon: not redrawn
    assert out.getvalue() == ""
    clock.now += 0.06
    bar.advance(0)
    assert out.getvalue().startswith("\rImporting  1250/5000 [##........] 25%")
    clock.now += 8.0
    bar.advance(3750)
    assert "5000/5000 [##########] 100%" in out.getvalue()
    assert "ETA" not in out.getvalue().rsplit("\r", 1)[1]
    bar.close()
    last = out.getvalue().rsplit("\r", 1)[1]
    assert last.startswith("Imported 5000 messages in 12.1 s")
    assert last.endswith("\n") and last.rstrip(" \n") == "Imported 5000 messages in 12.1 s"
    bar.close()  # idempotent
    assert out.getvalue().count("Imported") == 1


def test_progress_unknown_total_and_overflow() -> None:
    out, clock = FakeTTY(), Clock()
    bar = Progress(None, out, label="Reading", clock=clock)
    clock.now += 2
    bar.advance(40)
    assert out.getvalue() == "\rReading  40  20 msg/s"
    out2 = FakeTTY()
    over = Progress(2, out2, width=4, clock=clock)
    over.advance(3)
    assert "3/2 [####] 100%" in out2.getvalue()


def test_progress_silent_on_non_tty() -> None:
    out, clock = io.StringIO(), Clock()
    with Progress(3, out, clock=clock) as bar:
        for _ in range(3):
            clock.now += 0.5
            bar.advance()
        assert out.getvalue() == ""
    assert out.getvalue() == "Imported 3 messages in 1.5 s\n"
    quiet = io.StringIO()
    with Progress(1, quiet, summary=False) as bar:
        bar.advance()
    assert quiet.getvalue() == ""


def test_progress_singular_and_default_stream(capsys: pytest.CaptureFixture[str]) -> None:
    bar = Progress(1)
    bar.advance()
    bar.close()
    assert capsys.readouterr().err.startswith("Imported 1 message in ")
