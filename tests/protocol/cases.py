"""Loader for the readable case files in ``data/``.

A case is a block of lines separated by a blank line:

``> text``   input line; CRLF is appended (``>> text`` appends nothing).
             Escapes: ``\\r``, ``\\n``, ``\\xNN``; every other backslash is literal.
``= text``   one expected event, rendered by :func:`harness.render`; ``<< text``
             lines show what accept/reject returned for a literal.
``@ limits name=value ...``   Limits for this case.
``@ decide reject accept ...``  answers to successive literal announcements.
``@ notrailer``  do not also run the case followed by another command.
``# ...``    comment.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

from crispin.protocol import Limits

DATA = Path(__file__).parent / "data"
_ESCAPE = re.compile(r"\\(r|n|x[0-9A-Fa-f]{2})")


def unescape(text: str) -> bytes:
    def sub(m: re.Match[str]) -> str:
        e = m[1]
        return {"r": "\r", "n": "\n"}.get(e) or chr(int(e[1:], 16))

    return _ESCAPE.sub(sub, text).encode("latin-1")


@dataclass
class Case:
    name: str
    data: bytes = b""
    expected: list[str] = field(default_factory=list)
    limits: Limits = field(default_factory=Limits)
    decisions: list[str] = field(default_factory=list)
    trailer: bool = True


def load(filename: str) -> list[Case]:
    cases: list[Case] = []
    current: Case | None = None
    path = DATA / filename
    for lineno, raw in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        line = raw.rstrip()
        if not line:
            current = None
            continue
        if line.startswith("#"):
            continue
        if current is None:
            current = Case(name=f"{filename}:{lineno}")
            cases.append(current)
        if line.startswith(">> "):
            current.data += unescape(line[3:])
        elif line.startswith("> ") or line == ">":
            current.data += unescape(line[2:]) + b"\r\n"
        elif line.startswith("= ") or line.startswith("<< "):
            current.expected.append(line[2:] if line.startswith("= ") else line)
        elif line.startswith("@ limits"):
            values = dict(item.split("=") for item in line.split()[2:])
            current.limits = Limits(**{
                k: (v == "true") if k == "literal_minus" else int(v) for k, v in values.items()
            })
        elif line.startswith("@ decide"):
            current.decisions = line.split()[2:]
        elif line == "@ notrailer":
            current.trailer = False
        else:
            raise ValueError(f"{path}:{lineno}: cannot parse {raw!r}")
    return cases
