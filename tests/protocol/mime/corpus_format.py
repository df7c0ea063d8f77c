"""Reader for the hand-written ``corpus/NAME.expected`` files.

Each non-comment line is ``key => value``. In values, ``<CRLF>``, ``<LF>``, ``<CR>`` and
``<xHH>`` stand for those bytes, ``<EMPTY>`` for an empty value and ``NONE`` for "no such
section" (None). Keys: ``envelope``, ``bodystructure``, ``body``, ``bodytext``,
``search.FIELD``, and ``section SPEC`` where SPEC is an RFC 3501 section-spec without the
brackets, e.g. ``2.1.HEADER.FIELDS (Subject From)``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

CORPUS = Path(__file__).parent / "corpus"

_TOKEN = re.compile(rb"<CRLF>|<LF>|<CR>|<EMPTY>|<x([0-9A-F]{2})>")
_SPEC = re.compile(
    r"^((?:[1-9][0-9]*|0)(?:\.(?:[1-9][0-9]*|0))*)?\.?"
    r"(HEADER\.FIELDS\.NOT|HEADER\.FIELDS|HEADER|TEXT|MIME)?(?: \((.*)\))?$"
)


def decode_value(raw: bytes) -> bytes | None:
    if raw == b"NONE":
        return None

    def sub(m: re.Match[bytes]) -> bytes:
        tok = m.group(0)
        if m.group(1):
            return bytes([int(m.group(1), 16)])
        return {b"<CRLF>": b"\r\n", b"<LF>": b"\n", b"<CR>": b"\r", b"<EMPTY>": b""}[tok]

    return _TOKEN.sub(sub, raw)


@dataclass
class Section:
    spec: str
    part: tuple[int, ...]
    text: str | None
    fields: tuple[str, ...]
    expect: bytes | None


@dataclass
class Expected:
    name: str
    values: dict[str, bytes | None]
    sections: list[Section]


def parse_spec(spec: str) -> tuple[tuple[int, ...], str | None, tuple[str, ...]]:
    m = _SPEC.match(spec)
    assert m is not None, spec
    part = tuple(int(n) for n in m.group(1).split(".")) if m.group(1) else ()
    fields = tuple(m.group(3).split()) if m.group(3) else ()
    return part, m.group(2), fields


def load(name: str) -> Expected:
    values: dict[str, bytes | None] = {}
    sections: list[Section] = []
    for line in (CORPUS / f"{name}.expected").read_bytes().split(b"\n"):
        if not line.strip() or line.startswith(b"#"):
            continue
        key_b, sep, value = line.partition(b" => ")
        assert sep, line
        key = key_b.decode()
        decoded = decode_value(value)
        if key.startswith("section "):
            spec = key[len("section ") :]
            part, text, fields = parse_spec(spec)
            sections.append(Section(spec, part, text, fields, decoded))
        else:
            values[key] = decoded
    return Expected(name, values, sections)


def names() -> list[str]:
    return sorted(p.stem for p in CORPUS.glob("*.eml"))
