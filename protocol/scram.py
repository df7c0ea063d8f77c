"""SCRAM-SHA-256 and SCRAM-SHA-256-PLUS, server side (RFC 5802 §5 and §7, RFC 7677 §3), sans-I/O.

The server holds only the salted keys (StoredKey, ServerKey, salt, iteration count) and never
the password: it checks a ClientProof as RFC 5802 §3 describes (ClientKey := ClientProof XOR
HMAC(StoredKey, AuthMessage); H(ClientKey) must equal StoredKey) and answers with the
ServerSignature HMAC(ServerKey, AuthMessage). The messages are bytes as they come out of the
SASL layer (already base64-decoded); what frames them (IMAP continuations) is the server's.

One :class:`ScramServer` per exchange::

    first = scram.client_first(data)          # ScramError if malformed or refused
    send(scram.server_first(salt, i, stored_key, server_key))
    send(scram.client_final(data))            # "v=..." on success, else ScramError
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
from collections.abc import Mapping
from dataclasses import dataclass

MECHANISM = "SCRAM-SHA-256"
MECHANISM_PLUS = "SCRAM-SHA-256-PLUS"


class ScramError(Exception):
    """The exchange failed. ``error`` is RFC 5802 §7's server-error-value
    ("invalid-proof", "channel-bindings-dont-match"…); ``malformed`` when the client's
    message broke the syntax rather than failed a check."""

    def __init__(self, error: str, text: str, malformed: bool = False) -> None:
        super().__init__(text)
        self.error = error
        self.malformed = malformed


@dataclass(frozen=True)
class ClientFirst:
    """RFC 5802 §7 client-first-message."""

    cbind_flag: str  # "n", "y" or "p"
    cb_name: str  # the channel binding type after "p=", else ""
    authzid: str  # "" when absent
    username: str  # "n=" with =2C and =3D undone, as received (not SASLprep'ed)
    nonce: str
    gs2_header: bytes
    bare: bytes  # client-first-message-bare, for AuthMessage


def _malformed(text: str) -> ScramError:
    return ScramError("invalid-encoding", text, malformed=True)


def decode_saslname(value: bytes) -> str:
    """RFC 5802 §5.1: "," and "=" travel as "=2C" and "=3D"; any other "=" fails."""
    out = bytearray()
    i = 0
    while i < len(value):
        if value[i:i + 1] == b"=":
            escape = value[i + 1:i + 3]
            if escape not in (b"2C", b"3D"):
                raise ScramError("invalid-username-encoding", "Bad '=' escape in a name",
                                 malformed=True)
            out += b"," if escape == b"2C" else b"="
            i += 3
        else:
            out.append(value[i])
            i += 1
    try:
        text = bytes(out).decode("utf-8")
    except UnicodeDecodeError:
        raise ScramError("invalid-username-encoding", "Name is not UTF-8",
                         malformed=True) from None
    if not text or "\0" in text:
        raise ScramError("invalid-username-encoding", "Empty or NUL in a name", malformed=True)
    return text


def _is_printable(nonce: bytes) -> bool:
    """RFC 5802 §7 ``printable``: %x21-2B / %x2D-7E."""
    return bool(nonce) and all(0x21 <= b <= 0x7E and b != 0x2C for b in nonce)


def _b64decode(value: bytes, what: str) -> bytes:
    try:
        return base64.b64decode(value, validate=True)
    except (binascii.Error, ValueError):
        raise _malformed(f"Invalid base64 in {what}") from None


def parse_client_first(data: bytes) -> ClientFirst:
    """RFC 5802 §7: gs2-header client-first-message-bare."""
    parts = data.split(b",", 2)
    if len(parts) != 3:
        raise _malformed("Malformed client-first-message")
    flag, authz, bare = parts
    # §5: "the client's first message will always start with "n", "y", or "p"; otherwise,
    # the message is invalid and authentication MUST fail".
    cb_name = ""
    if flag.startswith(b"p="):
        cb_name = flag[2:].decode("ascii", "replace")
        if not cb_name or not all(c.isascii() and (c.isalnum() or c in ".-") for c in cb_name):
            raise _malformed("Malformed channel binding name")
        flag = b"p"
    elif flag not in (b"n", b"y"):
        raise _malformed("client-first-message must begin with n, y or p")
    authzid = ""
    if authz:
        if not authz.startswith(b"a="):
            raise _malformed("Malformed authorization identity")
        authzid = decode_saslname(authz[2:])
    attrs = bare.split(b",")
    if attrs[0].startswith(b"m="):
        # §5.1: a mandatory extension this server does not know fails the exchange.
        raise ScramError("extensions-not-supported", "Mandatory extension not supported")
    if len(attrs) < 2 or not attrs[0].startswith(b"n=") or not attrs[1].startswith(b"r="):
        raise _malformed("client-first-message-bare needs n= then r=")
    nonce = attrs[1][2:]
    if not _is_printable(nonce):
        raise _malformed("Nonce must be printable ASCII without ','")
    return ClientFirst(flag.decode("ascii"), cb_name, authzid, decode_saslname(attrs[0][2:]),
                       nonce.decode("ascii"), flag_header(flag, cb_name, authz), bare)


def flag_header(flag: bytes, cb_name: str, authz: bytes) -> bytes:
    """The gs2-header as the client sent it (§7), for the "c=" check."""
    cbind = b"p=" + cb_name.encode("ascii") if flag == b"p" else flag
    return cbind + b"," + authz + b","


class ScramServer:
    """One exchange. ``plus``: the client chose SCRAM-SHA-256-PLUS. ``channel_bindings``:
    the channel binding types this connection can check and their data (RFC 5929; empty
    without TLS). ``advertised_plus``: whether SCRAM-SHA-256-PLUS was offered to this client
    (default: whenever a binding exists), for the downgrade check of §6.
    ``server_nonce``: fresh random printable characters (§5.1 "r")."""

    def __init__(self, plus: bool, channel_bindings: Mapping[str, bytes],
                 server_nonce: str, advertised_plus: bool | None = None) -> None:
        if not _is_printable(server_nonce.encode("ascii")):
            raise ValueError("server nonce must be printable ASCII without ','")
        self.plus = plus
        self._bindings = dict(channel_bindings)
        self._advertised_plus = bool(channel_bindings) if advertised_plus is None \
            else advertised_plus
        self._server_nonce = server_nonce
        self._first: ClientFirst | None = None
        self._server_first = b""
        self._stored_key = b""
        self._server_key = b""
        self._done = False

    def client_first(self, data: bytes) -> ClientFirst:
        """Parse and check the client-first-message (channel binding negotiation, RFC 5802
        §6). The caller looks up the user's keys and calls :meth:`server_first`."""
        if self._first is not None:
            raise ValueError("client-first-message already received")
        first = parse_client_first(data)
        if self.plus and first.cbind_flag != "p":
            raise ScramError("other-error", f"{MECHANISM_PLUS} requires channel binding")
        if not self.plus and first.cbind_flag == "p":
            raise ScramError("other-error",
                             f"Channel binding was asked for with {MECHANISM}; "
                             f"use {MECHANISM_PLUS}")
        if first.cbind_flag == "y" and self._advertised_plus:
            # §6: the client believes the server cannot bind, yet it can: the mechanism
            # list may have been tampered with (a downgrade), so authentication MUST fail.
            raise ScramError("server-does-support-channel-binding",
                             "The server supports channel binding")
        if first.cbind_flag == "p" and first.cb_name not in self._bindings:
            raise ScramError("unsupported-channel-binding-type",
                             f"Channel binding type {first.cb_name} is not available here")
        self._first = first
        return first

    def server_first(self, salt: bytes, iterations: int, stored_key: bytes,
                     server_key: bytes) -> bytes:
        """The server-first-message (§7) for these keys. An unknown user gets made-up keys
        (and a salt stable for that name), so that the exchange does not tell it apart and
        fails only at the proof (§9)."""
        if self._first is None or self._server_first:
            raise ValueError("server-first-message out of order")
        self._stored_key = stored_key
        self._server_key = server_key
        nonce = self._first.nonce + self._server_nonce
        self._server_first = b"r=%s,s=%s,i=%d" % (
            nonce.encode("ascii"), base64.b64encode(salt), iterations)
        return self._server_first

    def client_final(self, data: bytes) -> bytes:
        """Check the client-final-message; return the server-final-message ("v=...")."""
        first = self._first
        if first is None or not self._server_first or self._done:
            raise ValueError("client-final-message out of order")
        self._done = True
        head, sep, proof_attr = data.rpartition(b",")
        attrs = head.split(b",")
        if not sep or len(attrs) < 2 or not proof_attr.startswith(b"p=") \
                or not attrs[0].startswith(b"c=") or not attrs[1].startswith(b"r="):
            raise _malformed("client-final-message needs c=, r= and p=")
        cbind_input = _b64decode(attrs[0][2:], "c=")
        proof = _b64decode(proof_attr[2:], "p=")
        # §6: "The server MUST always validate the client's "c=" field".
        expected = first.gs2_header + (self._bindings[first.cb_name]
                                       if first.cbind_flag == "p" else b"")
        if not hmac.compare_digest(cbind_input, expected):
            raise ScramError("channel-bindings-dont-match", "Channel bindings do not match")
        if attrs[1][2:] != (first.nonce + self._server_nonce).encode("ascii"):
            raise ScramError("other-error", "Nonce does not match")
        auth_message = first.bare + b"," + self._server_first + b"," + head
        signature = hmac.new(self._stored_key, auth_message, hashlib.sha256).digest()
        if len(proof) != len(signature):
            raise ScramError("invalid-proof", "Authentication failed")
        client_key = bytes(a ^ b for a, b in zip(proof, signature, strict=True))
        if not hmac.compare_digest(hashlib.sha256(client_key).digest(), self._stored_key):
            raise ScramError("invalid-proof", "Authentication failed")
        verifier = hmac.new(self._server_key, auth_message, hashlib.sha256).digest()
        return b"v=" + base64.b64encode(verifier)
