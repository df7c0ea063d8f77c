"""Corpus: hand-worked ENVELOPE / BODYSTRUCTURE / BODY[section] for each corpus message."""

from __future__ import annotations

import datetime

import pytest

from crispin.protocol.mime import body_text, fetch_section, parse_message

from .corpus_format import CORPUS, load, names
from .syntax import check_body, check_envelope, read

NAMES = names()


def test_corpus_is_complete() -> None:
    assert len(NAMES) >= 19
    for name in NAMES:
        assert (CORPUS / f"{name}.expected").exists(), name


@pytest.mark.parametrize("name", NAMES)
def test_envelope_and_bodystructure(name: str) -> None:
    raw = (CORPUS / f"{name}.eml").read_bytes()
    exp = load(name)
    msg = parse_message(raw)
    assert msg.size == len(raw)
    assert msg.envelope == exp.values["envelope"]
    assert msg.bodystructure == exp.values["bodystructure"]
    if "body" in exp.values:
        assert msg.body == exp.values["body"]
    check_envelope(read(msg.envelope))
    check_body(read(msg.bodystructure), extended=True)
    check_body(read(msg.body), extended=False)


@pytest.mark.parametrize("name", NAMES)
def test_sections(name: str) -> None:
    raw = (CORPUS / f"{name}.eml").read_bytes()
    exp = load(name)
    tree = parse_message(raw).part_tree
    assert fetch_section(raw, tree, (), None) == raw
    for sec in exp.sections:
        got = fetch_section(raw, tree, sec.part, sec.text, sec.fields)
        assert got == sec.expect, f"BODY[{sec.spec}]"


@pytest.mark.parametrize("name", NAMES)
def test_search_values(name: str) -> None:
    raw = (CORPUS / f"{name}.eml").read_bytes()
    exp = load(name)
    msg = parse_message(raw)
    if "bodytext" in exp.values:
        want = exp.values["bodytext"]
        assert want is not None
        assert body_text(raw, msg.part_tree) == want.decode("utf-8")
    for key, value in exp.values.items():
        if not key.startswith("search."):
            continue
        got = getattr(msg.search_fields, key[len("search.") :])
        if key in ("search.from_", "search.to", "search.cc", "search.bcc") and got:
            # the decoded header; the parsed addresses follow it (test_units.py address_text)
            got = got.split("\n", 1)[0]
        if value is None:
            assert got is None, key
        elif isinstance(got, datetime.date):
            assert got.isoformat() == value.decode(), key
        else:
            assert got == value.decode("utf-8"), key
