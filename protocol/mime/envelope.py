"""The ENVELOPE structure (RFC 3501 §7.4.2, ABNF ``envelope``).

``(date subject from sender reply-to to cc bcc in-reply-to message-id)`` built
from the first occurrence of each header field. String fields are the raw
header value, unfolded, outer white space removed, RFC 2047 encoded-words left
as they are; a field that is absent is NIL (present but empty gives ``""``).
Sender and Reply-To take the value of From when they are absent or hold no
address (RFC 3501 §7.4.2).
"""

from __future__ import annotations

from .addresses import address_list
from .headers import Headers
from .imapstr import NIL, nstring


def build_envelope(headers: Headers) -> bytes:
    """The ready ``envelope`` bytes for a message header."""
    from_ = address_list(headers.get(b"from"))
    sender = address_list(headers.get(b"sender"))
    reply_to = address_list(headers.get(b"reply-to"))
    parts = [
        nstring(headers.get(b"date")),
        nstring(headers.get(b"subject")),
        from_,
        from_ if sender == NIL else sender,
        from_ if reply_to == NIL else reply_to,
        address_list(headers.get(b"to")),
        address_list(headers.get(b"cc")),
        address_list(headers.get(b"bcc")),
        nstring(headers.get(b"in-reply-to")),
        nstring(headers.get(b"message-id")),
    ]
    return b"(" + b" ".join(parts) + b")"
