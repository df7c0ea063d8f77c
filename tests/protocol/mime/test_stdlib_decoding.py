"""Where SEARCH decoding uses the standard library ``email`` package, and its guards.

RFC 2047 words go through ``email.header.decode_header`` (joined per charset
before conversion), RFC 2231 ``charset*=`` through ``email.utils``; malformed
words, odd bytes and huge headers fall back or are cut so that nothing raises
and nothing goes quadratic (see protocol/mime/textdecode.py).
"""

from __future__ import annotations

import email.header
import re

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from crispin.protocol.mime import body_text, header_text, parse_message
from crispin.protocol.mime.params import parse_content_type, text_charset
from crispin.protocol.mime.textdecode import MAX_RUN_WORDS, decode_words

_WHOLE_WORD = re.compile(r"=\?[^?\s]+\?[bBqQ]\?[^?\s]*\?=")


def test_character_split_across_encoded_words() -> None:
    # RFC 2047 §5 forbids splitting a character, mailers do it; joined before decoding
    assert decode_words(b"=?utf-8?Q?=C3?= =?UTF-8?Q?=89loise?=") == "Éloise"
    assert decode_words(b"=?utf-8?B?w4lsb2lz?=\r\n =?utf-8?B?ZQ==?=") == "Éloise"
    # different charsets are not joined
    assert decode_words(b"=?iso-8859-1?Q?=E9?= =?utf-8?Q?=C3=A9?=") == "éé"


def test_malformed_b_word_falls_back_word_by_word() -> None:
    assert decode_words(b"=?utf-8?q?a?= =?utf-8?B?w?= =?utf-8?q?b?=") == "ab"
    assert decode_words(b"x =?utf-8?B?w?= y") == "x  y"


def test_raw_8bit_next_to_encoded_words() -> None:
    # C3 85 ("Å" in UTF-8) holds 0x85, a line break for str.splitlines on a Latin-1 read
    assert decode_words(b"\xc3\x85se =?utf-8?q?caf=C3=A9?=") == "Åse café"
    assert decode_words(b"na\xefve =?utf-8?q?x?=") == "naïve x"


def test_space_between_words_dropped_only_between_words() -> None:
    assert decode_words(b"=?a?q?x?=  \t=?a?q?y?= z =?a?q?w?=") == "xy z w"
    assert decode_words(b"=?utf-8?q?a_b?=") == "a b"
    assert decode_words(b"=?utf-8?q?a b?=") == "=?utf-8?q?a b?="  # no space inside a word


def test_long_runs_are_cut_but_decode_the_same() -> None:
    n = MAX_RUN_WORDS * 3 + 5
    assert decode_words(b" ".join([b"=?us-ascii?q?x?="] * n)) == "x" * n


def test_adversarial_headers_stay_fast(monkeypatch: pytest.MonkeyPatch) -> None:
    # decode_header's own regex is quadratic on openers without "?=", and it is quadratic
    # in the number of words it is given (minutes for these inputs): both are kept away
    # from it. Checked on what it is handed, not by a clock (machines here are noisy).
    handed: list[str] = []
    original = email.header.decode_header

    def recording(value: str) -> object:
        handed.append(value)
        return original(value)

    monkeypatch.setattr(email.header, "decode_header", recording)
    assert decode_words(b"=?a?q?x" * 20000) == "=?a?q?x" * 20000
    assert decode_words(b"=?a?q?x?= " * 100000) == "x" * 100000 + " "
    raw = b"Subject: " + b"=?a?q?x?= =?b?b?w?= " * 20000 + b"\r\n\r\n"
    header_text(raw, parse_message(raw).part_tree)
    assert handed
    for value in handed:
        words = _WHOLE_WORD.findall(value)
        assert len(words) <= MAX_RUN_WORDS
        # every opener it sees closes: no rescan to the end of the line from an open "=?"
        assert value.count("=?") == len(words), value[:80]


@settings(max_examples=300, deadline=None)
@given(st.lists(st.sampled_from([
    b"=?utf-8?q?", b"=?", b"?=", b"?q?", b"?B?", b"=C3", b"=89", b"w4k=", b"=", b"?", b" ",
    b"\t", b"\r\n", b"\x85", b"\xc3", b"_", b"a", b"*en", b"=?iso-8859-1*fr?Q?",
    b"=?bogus?b?", b"\0"]), max_size=40).map(b"".join))
def test_decode_words_never_raises(value: bytes) -> None:
    assert isinstance(decode_words(value), str)


def test_rfc2231_charset_for_body_text() -> None:
    ct = parse_content_type(b"text/plain; charset*=''iso-8859-1")
    assert ct is not None
    assert ct[2] == [(b"charset*", b"''iso-8859-1")]  # BODYSTRUCTURE keeps it encoded
    assert text_charset(ct[2]) == "iso-8859-1"
    raw = b"Content-Type: text/plain; charset*=us-ascii'en'ISO-8859-1\r\n\r\ncaf\xe9\r\n"
    assert body_text(raw, parse_message(raw).part_tree) == "café\n"


def test_text_charset_plain_and_odd() -> None:
    assert text_charset([(b"CHARSET", b"UTF-8")]) == "utf-8"
    assert text_charset([]) == ""
    assert text_charset([(b"charset*", b"utf-8''%75tf-8")]) == "utf-8"
    assert text_charset([(b"charset*", b"x\0y''ab")]) in ("", "ab")  # never raises
