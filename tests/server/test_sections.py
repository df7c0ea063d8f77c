"""The per-command BODY[section] fast paths give exactly what crispin.protocol.mime gives."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

from crispin.protocol import BodySection
from crispin.protocol.mime import fetch_section, parse_message, part_tree_to_bytes
from crispin.server.sections import SectionPlan
from crispin.storage.models import MessageRecord

CORPUS = sorted((Path(__file__).resolve().parents[1] / "protocol" / "mime" / "corpus")
                .glob("*.eml"))
EXTRA = [
    b"From: a@x\r\nSubject: one\r\n two\r\nX-Empty:\r\nsubject : again\r\n\r\nbody\r\n",
    b"From: a@x\nTo: b@y\n\tcontinued\nNoColonLine\n\nbody\n",
    b"Subject: no body and no newline",
    b"",
]
FIELD_SETS = [("SUBJECT",), ("FROM", "TO", "CC", "SUBJECT", "DATE", "MESSAGE-ID"),
              ("X-EMPTY",), ("CONTENT-TYPE", "REFERENCES", "IN-REPLY-TO"), ("NOPE",)]


def messages() -> list[bytes]:
    return [p.read_bytes() for p in CORPUS] + EXTRA


@pytest.mark.parametrize("raw", messages())
def test_top_level_sections_match_protocol_mime(raw: bytes) -> None:
    parsed = parse_message(raw)
    tree = parsed.part_tree
    rec = MessageRecord(uid=1, message_id=1, flags=(), modseq=1,
                        internaldate=datetime.now(UTC), size=len(raw),
                        header_size=tree.body_start - tree.header_start, lines=tree.lines,
                        envelope=b"", bodystructure=b"", body_simple=b"",
                        part_tree=part_tree_to_bytes(tree))
    for text in (None, "HEADER", "TEXT"):
        item = BodySection(peek=True, part=(), text=text)
        assert SectionPlan(item).data(raw, rec) == fetch_section(raw, tree, (), text)
    for fields in FIELD_SETS:
        for text in ("HEADER.FIELDS", "HEADER.FIELDS.NOT"):
            item = BodySection(peek=True, part=(), text=text, fields=fields)
            assert SectionPlan(item).data(raw, rec) == fetch_section(raw, tree, (), text,
                                                                     fields), (text, fields)
    item = BodySection(peek=True, part=(1,), text=None, partial=(2, 5))
    expected = fetch_section(raw, tree, (1,), None)
    assert SectionPlan(item).data(raw, rec) == (None if expected is None else expected[2:7])
