"""Taking a message into a mailbox: parse it once, store it with what FETCH and SEARCH need.

Every way mail arrives is parsed here, by :func:`analyse` (DESIGN.md "Storage": parse each
message once; FETCH never re-parses for ENVELOPE or BODYSTRUCTURE): APPEND, ``crispin
import`` and the preload store into one mailbox through :func:`deliver`; SMTP, LMTP and
the HTTP API (``server.delivery``), one message to several mailboxes in one transaction,
through :func:`analyse_body` and ``Store.append_to_mailboxes``.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterable
from datetime import datetime
from pathlib import Path

from protocol.mime import ParsedMessage, parse_message, part_tree_to_bytes
from server.search import search_columns
from server.sorting import sort_columns
from storage import PreparedBody, Store

# Parsing costs ~0.2 ms for a typical message and a few ms per MB: small ones are parsed on
# the event loop, anything that could take over a millisecond in a thread so other
# sessions keep going (issue 10.7).
THREAD_THRESHOLD = 64 * 1024


def parsed_columns(raw: bytes, parsed: ParsedMessage) -> dict[str, bytes | int | str | None]:
    tree = parsed.part_tree
    columns: dict[str, bytes | int | str | None] = {
        "envelope": parsed.envelope,
        "bodystructure": parsed.bodystructure,
        "body_simple": parsed.body,
        "part_tree": part_tree_to_bytes(tree),
        "header_size": tree.body_start - tree.header_start,
        "lines": tree.lines,
    }
    columns.update(search_columns(raw, parsed))
    columns.update(sort_columns(parsed.sort_fields))
    return columns


def analyse(raw: bytes) -> dict[str, bytes | int | str | None]:
    return parsed_columns(raw, parse_message(raw))


def _analyse_file(path: Path) -> dict[str, bytes | int | str | None]:
    # The parser needs the message as bytes: it is held here, in the worker thread, for
    # the parse only; storage never reads it again (the file is moved into place).
    return analyse(path.read_bytes())


async def deliver(store: Store, mailbox_id: int, body: bytes | Path | PreparedBody,
                  flags: Iterable[str] = (), internal_date: datetime | None = None, *,
                  viewer: int | None = None) -> tuple[int, int]:
    """Store one message; returns (uid, modseq). ``body`` may be a file (kept), or a body
    spooled with ``Store.spool`` (moved into place, or dropped on failure).
    ``viewer``: whose private flags (\\Seen in a shared mailbox) ``flags`` set; None is
    the mailbox's owner (delivery, import)."""
    if isinstance(body, PreparedBody):
        assert body.tmp_path is not None
        try:
            columns = await asyncio.to_thread(_analyse_file, body.tmp_path)
        except BaseException:
            store.discard_body(body)
            raise
    elif isinstance(body, Path):
        columns = await asyncio.to_thread(_analyse_file, body)
    elif len(body) > THREAD_THRESHOLD:
        columns = await asyncio.to_thread(analyse, body)
    else:
        columns = analyse(body)
    return await store.append_message(mailbox_id, body, tuple(flags), internal_date, columns,
                                      viewer=viewer)


async def analyse_body(body: bytes | Path) -> dict[str, bytes | int | str | None]:
    """:func:`analyse` for a message in memory or in a spool file, off the event loop when
    it is big."""
    if isinstance(body, Path):
        return await asyncio.to_thread(_analyse_file, body)
    if len(body) > THREAD_THRESHOLD:
        return await asyncio.to_thread(analyse, body)
    return analyse(body)
