"""A message as JSON for people and tests: header fields, the text and HTML bodies, attachments,
and the MIME tree (RFC 2045/2046), decoded by the standard library's ``email`` package.

IMAP's own structures (ENVELOPE, BODYSTRUCTURE) stay in ``crispin.protocol.mime``; this is the
friendly form a test asserts on ("the HTML part contains the reset link").
"""

from __future__ import annotations

import email.policy
from datetime import datetime
from email.message import EmailMessage, Message
from email.parser import BytesHeaderParser, BytesParser
from typing import Any

_POLICY = email.policy.default


def _addresses(msg: Message, name: str) -> list[dict[str, str]]:
    try:
        header = msg[name]
        if header is None:
            return []
        return [{"name": a.display_name, "address": a.addr_spec}
                for a in getattr(header, "addresses", ())]
    except Exception:  # a malformed header: show it raw rather than fail the listing
        raw = msg.get_all(name, failobj=[])
        return [{"name": "", "address": str(v)} for v in raw]


def _text(msg: Message, name: str) -> str | None:
    try:
        value = msg[name]
    except Exception:
        return None
    return None if value is None else str(value)


def envelope(header_block: bytes) -> dict[str, Any]:
    """The fields a message list shows, from the header block alone."""
    msg = BytesHeaderParser(policy=_POLICY).parsebytes(header_block)
    return {
        "subject": _text(msg, "Subject"),
        "from": _addresses(msg, "From"),
        "to": _addresses(msg, "To"),
        "cc": _addresses(msg, "Cc"),
        "message_id": _text(msg, "Message-ID"),
    }


def iso(when: datetime | int | None) -> str | None:
    if when is None:
        return None
    if isinstance(when, int):
        return datetime.fromtimestamp(when).astimezone().isoformat()
    return when.isoformat()


def leaves(msg: EmailMessage) -> list[EmailMessage]:
    """Every non-multipart part, depth first (what an attachment index counts)."""
    return [p for p in msg.walk() if not p.is_multipart()]


def _content(part: EmailMessage) -> str | None:
    try:
        content = part.get_content()
    except Exception:
        payload = part.get_payload(decode=True)
        return payload.decode("utf-8", "replace") if isinstance(payload, bytes) else None
    return content if isinstance(content, str) else None


def attachment_parts(msg: EmailMessage) -> list[EmailMessage]:
    """Leaves that are not the text or HTML body shown: explicit attachments, anything
    with a file name, and non-text parts."""
    bodies = {id(b) for b in (msg.get_body(("plain",)), msg.get_body(("html",))) if b}
    return [p for p in leaves(msg) if id(p) not in bodies and (
        p.get_content_disposition() == "attachment" or p.get_filename()
        or p.get_content_maintype() not in ("text",))]


def attachment(raw: bytes, index: int) -> tuple[str, str | None, bytes] | None:
    """(content type, file name, decoded bytes) of attachment ``index``, or None."""
    parts = attachment_parts(parse(raw))
    if not 0 <= index < len(parts):
        return None
    part = parts[index]
    payload = part.get_payload(decode=True)
    data = payload if isinstance(payload, bytes) else b""
    return part.get_content_type(), part.get_filename(), data


def parse(raw: bytes) -> EmailMessage:
    msg = BytesParser(policy=_POLICY).parsebytes(raw)
    assert isinstance(msg, EmailMessage)
    return msg


def tree(part: EmailMessage, number: str = "") -> dict[str, Any]:
    """The MIME tree with IMAP part numbers (RFC 3501 §6.4.5) for the web inbox."""
    node: dict[str, Any] = {"part": number or "TEXT", "content_type": part.get_content_type(),
                            "filename": part.get_filename(),
                            "disposition": part.get_content_disposition()}
    if part.is_multipart():
        children = part.get_payload()
        assert isinstance(children, list)
        node["parts"] = [tree(child, f"{number}.{i}" if number else str(i))
                         for i, child in enumerate(children, 1)]
    else:
        payload = part.get_payload(decode=True)
        node["size"] = len(payload) if isinstance(payload, bytes) else 0
    return node


def message_json(raw: bytes) -> dict[str, Any]:
    msg = parse(raw)
    text = msg.get_body(("plain",))
    html = msg.get_body(("html",))
    attachments = []
    for index, part in enumerate(attachment_parts(msg)):
        payload = part.get_payload(decode=True)
        attachments.append({
            "index": index,
            "filename": part.get_filename(),
            "content_type": part.get_content_type(),
            "size": len(payload) if isinstance(payload, bytes) else 0,
        })
    return {
        "headers": [[name, str(value)] for name, value in _safe_items(msg)],
        "text": _content(text) if isinstance(text, EmailMessage) else None,
        "html": _content(html) if isinstance(html, EmailMessage) else None,
        "attachments": attachments,
        "mime": tree(msg),
    }


def _safe_items(msg: Message) -> list[tuple[str, str]]:
    out = []
    for name, value in msg.raw_items():
        try:
            out.append((name, str(msg.policy.header_fetch_parse(name, value))))
        except Exception:
            out.append((name, str(value)))
    return out
