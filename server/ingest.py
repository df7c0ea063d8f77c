"""Taking a message into a mailbox: parse it once, store it with what FETCH and SEARCH need.

Every way mail arrives is parsed here, by :func:`analyse` (DESIGN.md "Storage": parse each
message once; FETCH never re-parses for ENVELOPE or BODYSTRUCTURE): APPEND, ``crispin
import`` and the preload store into one mailbox through :func:`deliver`; SMTP, LMTP and
the HTTP API (``crispin.server.delivery``), one message to several mailboxes in one transaction,
through :func:`analyse_body` and ``Store.append_to_mailboxes``.
"""

from __future__ import annotations

import asyncio
import logging
import multiprocessing
import os
import threading
import time
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import Future, ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from datetime import datetime
from pathlib import Path
from typing import TypeVar

from crispin.protocol.mime import ParsedMessage, parse_message, part_tree_to_bytes
from crispin.protocol.mime.preview import message_preview
from crispin.server.search import search_columns
from crispin.server.sorting import sort_columns
from crispin.storage import PreparedBody, Store

log = logging.getLogger(__name__)
Columns = dict[str, bytes | int | str | None]
T = TypeVar("T")

# Parsing costs ~0.2 ms for a typical message and a few ms per MB: small ones are parsed on
# the event loop, anything that could take over a millisecond in a thread so other
# sessions keep going (issue 10.7).
THREAD_THRESHOLD = 64 * 1024
# A thread still holds the GIL in turns with the event loop: a message built to be costly
# (30 MB of header fields, 857,000 addresses: ~2 s of pure Python even with the parse's
# bounds) made other users' NOOPs take 236-445 ms (issue 11). From this size on, the parse
# runs in a separate process, which has its own GIL (and its own peak memory).
PROCESS_THRESHOLD = 1024 * 1024
# Two at a time: there is one event loop to keep responsive, and the machine's cores to
# share with SQLite; a third large APPEND waits for a worker.
PROCESS_WORKERS = 2

_pool: ProcessPoolExecutor | None = None
_pool_lock = threading.Lock()


def _submit(fn: Callable[[T], Columns], arg: T) -> Future[Columns]:
    """Hand ``fn(arg)`` to the parse processes, starting them the first time (most servers
    never need them). Called in a thread: starting processes waits for them.
    spawn: a fork of this multi-threaded process would not be safe, and the workers are
    the server's own children (forkserver's would belong to the fork server)."""
    global _pool
    with _pool_lock:
        if _pool is None:
            _pool = ProcessPoolExecutor(PROCESS_WORKERS,
                                        mp_context=multiprocessing.get_context("spawn"),
                                        initializer=_watch_server, initargs=(os.getpid(),))
        return _pool.submit(fn, arg)


def _watch_server(server_pid: int) -> None:
    """In each parse process: exit when the server is gone, even killed by SIGKILL (the
    worker holds both ends of its task queue, so it would otherwise wait forever)."""
    def watch() -> None:
        while os.getppid() == server_pid:
            time.sleep(1.0)
        os._exit(0)

    threading.Thread(target=watch, name="crispin-parse-watch", daemon=True).start()


async def stop_parse_processes() -> None:
    """End the parse processes (at server stop; started again if a server needs them)."""
    global _pool
    with _pool_lock:
        pool, _pool = _pool, None
    if pool is not None:
        await asyncio.to_thread(pool.shutdown)


async def _off_loop(fn: Callable[[T], Columns], arg: T, size: int) -> Columns:
    """``fn(arg)`` away from the event loop: in a thread, or for a large message
    (``size`` bytes) in a parse process. If the processes cannot take it (they could not
    start, one was killed, by the OOM killer for instance), that message is parsed in a
    thread instead, and the next one gets new processes."""
    global _pool
    if size >= PROCESS_THRESHOLD:
        try:
            future = await asyncio.to_thread(_submit, fn, arg)
        except Exception:
            log.warning("message parse processes unavailable; parsing in a thread",
                        exc_info=True)
            with _pool_lock:
                _pool = None  # the next large message tries afresh
        else:
            try:
                return await asyncio.wrap_future(future)
            except BrokenProcessPool:
                log.warning("a message parse process died; parsing in a thread")
                with _pool_lock:
                    _pool = None
    return await asyncio.to_thread(fn, arg)


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
    columns["preview"] = message_preview(raw, tree)  # RFC 8970, computed once, here
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
    columns = await analysed(store, body)
    return await store.append_message(mailbox_id, body, tuple(flags), internal_date, columns,
                                      viewer=viewer)


async def analysed(store: Store, body: bytes | Path | PreparedBody) -> Columns:
    """:func:`analyse_body` of a body as :func:`deliver` takes it; a spooled body that
    cannot be analysed is dropped."""
    if isinstance(body, PreparedBody):
        assert body.tmp_path is not None
        try:
            return await analyse_body(body.tmp_path)
        except BaseException:
            store.discard_body(body)
            raise
    return await analyse_body(body)


async def deliver_all(store: Store, mailbox_id: int,
                      messages: Sequence[tuple[bytes | PreparedBody, Iterable[str],
                                               datetime | None]],
                      *, viewer: int | None = None,
                      replace: tuple[int, int] | None = None) -> list[int]:
    """Store several messages in one transaction, all or none (MULTIAPPEND, RFC 3502
    §6.3.11); returns their UIDs in order. Each is parsed first, one after another (a
    message that cannot be analysed stores nothing); every spooled body is moved into
    place or dropped, whatever happens. ``replace``: (mailbox id, UID) of a message removed
    in the same transaction (REPLACE, RFC 8508)."""
    prepared: list[PreparedBody] = [m[0] for m in messages if isinstance(m[0], PreparedBody)]
    try:
        items = []
        for body, flags, internal_date in messages:
            if isinstance(body, PreparedBody):
                assert body.tmp_path is not None
                columns = await analyse_body(body.tmp_path)
            else:
                columns = await analyse_body(body)
                body = await store.prepare_body(body)
                prepared.append(body)
            items.append((body, tuple(flags), internal_date, columns))
        done = await store.append_messages(mailbox_id, items, viewer=viewer, replace=replace)
    finally:
        for body in prepared:
            store.discard_body(body)  # a no-op for the ones moved into place
    return [uid for uid, _ in done]


async def analyse_body(body: bytes | Path) -> Columns:
    """:func:`analyse` for a message in memory or in a spool file, off the event loop when
    it is big (in a thread; in a parse process when it is very big). Same function, same
    columns, whichever runs it."""
    if isinstance(body, Path):
        # The file's name goes to the parse process, not its bytes.
        return await _off_loop(_analyse_file, body, body.stat().st_size)
    if len(body) > THREAD_THRESHOLD:
        return await _off_loop(analyse, body, len(body))
    return analyse(body)
