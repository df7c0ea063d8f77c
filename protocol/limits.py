"""Resource limits applied while framing and parsing commands.

Every limit is answered with a tagged ``BAD`` carrying an RFC 5530 response code
(``TOOBIG`` for sizes, ``LIMIT`` for counts and depth) instead of unbounded memory.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Limits:
    """Per-connection limits (RFC 3501 §9 leaves command size to the server).

    ``literal_minus``: when the server advertises LITERAL- rather than LITERAL+,
    non-synchronising literals over 4096 octets are refused (RFC 7888 §5).

    ``max_command_literal_bytes``: the literals of one command together (APPEND messages
    excepted); ``max_connection_literal_bytes``: all literals the connection sends while
    these limits are in force. None: no such bound. The server tightens both before login
    (Dovecot's login processes likewise hold only a few KB per unauthenticated client).

    ``max_search_criteria``: search keys in one SEARCH, SORT or THREAD program, each NOT and
    OR counted too (the server's ``limits.search_max_criteria``). The parser stops at the
    first key past it and the command is answered ``NO [LIMIT]`` (RFC 5530 §3), so a
    refused program of thousands of keys costs only the keys up to the limit.

    ``commands``: the command names whose arguments are parsed; any other command is
    answered BAD as soon as its name is read, whatever follows it. The server gives the few
    commands of the not-authenticated state (RFC 3501 §6.1, §6.2) before login, so that a
    stranger cannot make it parse a 64 KB FETCH or SEARCH only to be told "not now"
    (issue 10 point 14). None: every command.
    """

    max_line_length: int = 65536
    max_literal_size: int = 65536
    max_literals_per_command: int = 64
    max_nesting: int = 16
    literal_minus: bool = False
    max_command_literal_bytes: int | None = None
    max_connection_literal_bytes: int | None = None
    max_search_criteria: int | None = None
    commands: frozenset[str] | None = None


DEFAULT_LIMITS = Limits()

#: RFC 2971 §3.3: "Implementations MUST NOT send more than 30 field-value pairs".
MAX_ID_PAIRS = 30

#: RFC 7888 §5: the largest non-synchronising literal a LITERAL- server accepts.
LITERAL_MINUS_MAX = 4096
