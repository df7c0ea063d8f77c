"""Response objects and the value types they carry (RFC 3501 §7)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TypeAlias


class Atom(str):
    """Written raw: ``\\Seen``, ``EXISTS``, ``BODY[HEADER]<0>``. The serializer
    refuses characters an atom cannot hold (besides ``\\ [ ] . < >``)."""

    __slots__ = ()


class Raw(bytes):
    """Pre-serialised bytes written verbatim (ENVELOPE/BODYSTRUCTURE prepared at APPEND)."""

    __slots__ = ()


class Literal(bytes):
    """Always written as a ``{n}`` literal (RFC 3501 §4.3)."""

    __slots__ = ()


class Literal8(bytes):
    """Always written as a ``~{n}`` literal8 (RFC 3516 §4.2)."""

    __slots__ = ()


class Mailbox(str):
    """A mailbox name, written in modified UTF-7 (RFC 3501 §5.1.3) as a string."""

    __slots__ = ()


Value: TypeAlias = "int | str | bytes | list[Value] | tuple[Value, ...] | None"
"""``None`` → NIL, int → number, str/bytes → quoted string or literal,
list/tuple → parenthesised list; the subclasses above change the form."""


@dataclass(frozen=True)
class StatusResponse:
    """Tagged or untagged OK/NO/BAD, untagged BYE/PREAUTH (RFC 3501 §7.1).

    ``code`` and ``code_args`` form the response code (RFC 3501 §7.1,
    RFC 5530): ``code="UIDVALIDITY", code_args=(42,)`` → ``[UIDVALIDITY 42]``.
    """

    tag: str | None
    status: str
    text: str
    code: str | None = None
    code_args: tuple[Value, ...] = ()


@dataclass(frozen=True)
class DataResponse:
    """Untagged data (RFC 3501 §7.2-7.4): ``* `` followed by the items."""

    items: tuple[Value, ...]


@dataclass(frozen=True)
class ContinuationResponse:
    """Command continuation request (RFC 3501 §7.5)."""

    text: str


Response: TypeAlias = StatusResponse | DataResponse | ContinuationResponse
