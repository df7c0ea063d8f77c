"""HTTP/1.1 on asyncio: read a request within limits, hand it to a handler, write the answer.

The header block is parsed by the standard library (``http.client.parse_headers``, what
``http.server`` itself uses: line length and header count limits, folding, encodings); this
module only frames it (RFC 9112 §2: request line, headers up to the empty line, then a body of
``Content-Length`` bytes) and keeps a slow or hostile client from costing more than one
connection slot: the head is capped at :data:`MAX_HEAD` bytes, a whole request must arrive
within ``request_timeout`` (a slowloris gets ``408`` and is closed), bodies beyond the limit
are refused with ``413`` before they are read, and an answer the client does not read is
abandoned after the same timeout. Nothing here blocks the event loop: the connection is a
coroutine like an IMAP session.
"""

from __future__ import annotations

import asyncio
import contextlib
import email.utils
import http.client
import io
import json
import logging
import urllib.parse
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from http import HTTPStatus
from typing import Any

log = logging.getLogger("crispin.http")

MAX_HEAD = 64 * 1024
"""Request line and headers together, in bytes (``431`` beyond)."""

SERVER_NAME = "Crispin"


class HttpError(Exception):
    """Answer with ``status`` and a JSON ``{"error": message}``."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


@dataclass
class Request:
    method: str
    target: str
    headers: http.client.HTTPMessage
    body: bytes
    peer: str
    version: str = "HTTP/1.1"
    path: str = field(init=False)
    query: dict[str, list[str]] = field(init=False)

    def __post_init__(self) -> None:
        split = urllib.parse.urlsplit(self.target)
        self.path = split.path
        try:
            self.query = urllib.parse.parse_qs(split.query, keep_blank_values=True,
                                               errors="strict", max_num_fields=100)
        except ValueError:
            raise HttpError(400, "malformed query string") from None

    def arg(self, name: str, default: str | None = None) -> str | None:
        values = self.query.get(name)
        return values[-1] if values else default

    def int_arg(self, name: str, default: int, low: int = 0, high: int = 2**31) -> int:
        value = self.arg(name)
        if value is None or value == "":
            return default
        try:
            number = int(value)
        except ValueError:
            raise HttpError(400, f"{name} must be an integer") from None
        if not low <= number <= high:
            raise HttpError(400, f"{name} must be between {low} and {high}")
        return number

    def float_arg(self, name: str, default: float, high: float) -> float:
        value = self.arg(name)
        if value is None or value == "":
            return default
        try:
            number = float(value)
        except ValueError:
            raise HttpError(400, f"{name} must be a number") from None
        if not 0 <= number <= high:
            raise HttpError(400, f"{name} must be between 0 and {high:g}")
        return number

    def json(self) -> dict[str, Any]:
        """The body as a JSON object (``400`` otherwise)."""
        try:
            data = json.loads(self.body or b"{}")
        except (ValueError, UnicodeDecodeError):
            raise HttpError(400, "the body is not valid JSON") from None
        if not isinstance(data, dict):
            raise HttpError(400, "the body must be a JSON object")
        return data


@dataclass
class Response:
    status: int = 200
    body: bytes = b""
    content_type: str = "application/json"
    headers: dict[str, str] = field(default_factory=dict)
    stream: AsyncIterator[bytes] | None = None
    """Sent after the head until exhausted, then the connection closes (server-sent events)."""

    @classmethod
    def json(cls, data: Any, status: int = 200) -> Response:
        return cls(status, json.dumps(data, ensure_ascii=False).encode() + b"\n")

    @classmethod
    def empty(cls, status: int = 204) -> Response:
        return cls(status, b"", "")


def error_response(status: int, message: str) -> Response:
    return Response.json({"error": message}, status)


Handler = Callable[[Request], Awaitable[Response]]


class _Reject(Exception):
    """The request cannot be read; answer and close."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


class HttpServer:
    def __init__(self, handler: Handler, *, request_timeout: float, max_connections: int,
                 max_body: int) -> None:
        self.handler = handler
        self.request_timeout = request_timeout
        self.max_connections = max_connections
        self.max_body = max_body
        self._server: asyncio.base_events.Server | None = None
        self._tasks: set[asyncio.Task[Any]] = set()

    async def start(self, host: str, port: int) -> tuple[str, int]:
        self._server = await asyncio.start_server(self._connected, host, port,
                                                  limit=MAX_HEAD, reuse_address=True)
        address: tuple[str, int] = self._server.sockets[0].getsockname()[:2]
        return address

    async def stop(self) -> None:
        if self._server is not None:
            self._server.close()
        for task in list(self._tasks):
            task.cancel()
        if self._tasks:
            await asyncio.wait(self._tasks, timeout=5)
        if self._server is not None:
            await self._server.wait_closed()

    async def _connected(self, reader: asyncio.StreamReader,
                         writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        if len(self._tasks) >= self.max_connections:
            log.warning("HTTP connection refused: %d connections open", len(self._tasks))
            await self._answer(writer, error_response(503, "too many connections"), False)
            writer.close()
            return
        self._tasks.add(task)
        peer = writer.get_extra_info("peername") or ("?", 0)
        try:
            await self._serve(reader, writer, f"{peer[0]}:{peer[1]}")
        except (ConnectionError, TimeoutError, asyncio.IncompleteReadError):
            pass
        finally:
            self._tasks.discard(task)
            writer.close()
            with contextlib.suppress(Exception):
                await asyncio.wait_for(writer.wait_closed(), 1)

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter,
                     peer: str) -> None:
        while True:
            try:
                async with asyncio.timeout(self.request_timeout):
                    request = await self._read_request(reader, writer, peer)
            except TimeoutError:
                await self._answer(writer, error_response(408, "request took too long"), False)
                return
            except _Reject as exc:
                await self._answer(writer, error_response(exc.status, exc.message), False)
                return
            except HttpError as exc:
                await self._answer(writer, error_response(exc.status, exc.message), False)
                return
            if request is None:
                return
            response = await self.handler(request)
            keep = _keep_alive(request) and response.stream is None
            if request.method == "HEAD":
                response.headers["Content-Length"] = str(len(response.body))
                response = Response(response.status, b"", response.content_type,
                                    response.headers)
            await self._answer(writer, response, keep)
            if not keep:
                return

    async def _read_request(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter,
                            peer: str) -> Request | None:
        try:
            head = await reader.readuntil(b"\r\n\r\n")
        except asyncio.IncompleteReadError as exc:
            if exc.partial.strip():
                raise _Reject(400, "incomplete request") from None
            return None  # the client closed between requests
        except asyncio.LimitOverrunError:
            raise _Reject(431, "request head too large") from None
        # RFC 9112 §2.2: empty lines before the request line are ignored.
        head = head.lstrip(b"\r\n")
        line, _, rest = head.partition(b"\r\n")
        parts = line.split(b" ")
        if len(parts) != 3 or not parts[0].isalpha() or not parts[1].startswith(b"/"):
            raise _Reject(400, "malformed request line")
        method, target, version = (p.decode("latin-1") for p in parts)
        if version not in ("HTTP/1.0", "HTTP/1.1"):
            raise _Reject(505, "only HTTP/1.0 and HTTP/1.1 are spoken here")
        try:
            headers = http.client.parse_headers(io.BytesIO(rest))
        except http.client.HTTPException as exc:
            raise _Reject(431, f"bad headers: {exc}") from None
        if headers.get("Transfer-Encoding"):
            # RFC 9112 §6.1: a server that does not understand a transfer coding answers 501.
            raise _Reject(501, "Transfer-Encoding is not supported; send Content-Length")
        lengths = set(headers.get_all("Content-Length") or ())
        length = 0
        if lengths:
            value = lengths.pop().strip()
            if lengths or not value.isdigit():
                raise _Reject(400, "bad Content-Length")  # RFC 9112 §6.3 item 5
            length = int(value)
        if length > self.max_body:
            raise _Reject(413, f"body larger than {self.max_body} bytes")
        if length and headers.get("Expect", "").lower() == "100-continue":
            writer.write(b"HTTP/1.1 100 Continue\r\n\r\n")  # RFC 9110 §10.1.1
        body = await reader.readexactly(length) if length else b""
        return Request(method.upper(), target, headers, body, peer, version)

    async def _answer(self, writer: asyncio.StreamWriter, response: Response,
                      keep_alive: bool) -> None:
        reason = HTTPStatus(response.status).phrase
        lines = [f"HTTP/1.1 {response.status} {reason}",
                 f"Date: {email.utils.formatdate(usegmt=True)}",
                 f"Server: {SERVER_NAME}",
                 "X-Content-Type-Options: nosniff",
                 "Cache-Control: no-store"]
        if response.content_type:
            lines.append(f"Content-Type: {response.content_type}")
        if response.stream is None and "Content-Length" not in response.headers:
            lines.append(f"Content-Length: {len(response.body)}")
        lines += [f"{k}: {v}" for k, v in response.headers.items()]
        lines.append("Connection: keep-alive" if keep_alive else "Connection: close")
        writer.write(("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + response.body)
        # A client that does not read its answer holds one slot for one timeout, no more.
        await asyncio.wait_for(writer.drain(), self.request_timeout)
        if response.stream is not None:
            try:
                async for chunk in response.stream:
                    writer.write(chunk)
                    await asyncio.wait_for(writer.drain(), self.request_timeout)
            finally:
                with contextlib.suppress(Exception):
                    await response.stream.aclose()  # type: ignore[attr-defined]


def _keep_alive(request: Request) -> bool:
    """RFC 9112 §9.3: HTTP/1.1 persists unless ``Connection: close``; 1.0 never here."""
    tokens = {t.strip().lower() for t in request.headers.get("Connection", "").split(",")}
    return request.version == "HTTP/1.1" and "close" not in tokens
