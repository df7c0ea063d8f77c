"""OAUTHBEARER (RFC 7628), the SASL mechanism that carries an OAuth 2.0 bearer token
(RFC 6750), sans-I/O: the client's message parsed, the server's error message built.

The token is checked by the server (``crispin.server.oauth``); this module knows only the
syntax of RFC 7628 §3.1 and the JSON error of §3.2.2.
"""

from __future__ import annotations

import json
from dataclasses import dataclass

MECHANISM = "OAUTHBEARER"
KVSEP = b"\x01"
#: RFC 7628 §3.2.3: after an error the client answers with this alone ("dummy response").
DUMMY_RESPONSE = KVSEP


class OAuthBearerError(ValueError):
    """The client response does not follow RFC 7628 §3.1."""


@dataclass(frozen=True)
class BearerResponse:
    authzid: str  # the gs2-header's "a=" (RFC 5801 §4), "" when absent
    token: str  # from "auth=Bearer <token>"; "" when the client sent none (a discovery query)
    pairs: dict[str, str]  # every key/value pair (host, port, ...), for logging


def _saslname(value: bytes) -> str:
    """RFC 5801 §4 saslname: "," and "=" escaped as "=2C" and "=3D"."""
    text = value.decode("utf-8")
    out: list[str] = []
    i = 0
    while i < len(text):
        if text[i] == "=":
            if text[i + 1:i + 3] not in ("2C", "3D"):
                raise OAuthBearerError("bad '=' escape in the authorization identity")
            out.append("," if text[i + 1:i + 3] == "2C" else "=")
            i += 3
        else:
            out.append(text[i])
            i += 1
    return "".join(out)


def parse_client_response(data: bytes) -> BearerResponse:
    """RFC 7628 §3.1: ``client-resp = (gs2-header kvsep *kvpair kvsep) / kvsep``."""
    if not data.endswith(KVSEP + KVSEP):
        raise OAuthBearerError("client response must end with two ^A")
    header, _, rest = data.partition(KVSEP)
    # gs2-header = gs2-cbind-flag "," [authzid] "," (RFC 5801 §4); OAUTHBEARER has no
    # channel binding, so "p=" is refused.
    parts = header.split(b",")
    if len(parts) != 3 or parts[0] not in (b"n", b"y") or parts[2] != b"":
        raise OAuthBearerError("malformed GS2 header")
    authzid = ""
    try:
        if parts[1]:
            if not parts[1].startswith(b"a="):
                raise OAuthBearerError("malformed authorization identity")
            authzid = _saslname(parts[1][2:])
        pairs: dict[str, str] = {}
        for item in rest[:-2].split(KVSEP) if rest[:-2] else ():
            key, eq, value = item.partition(b"=")
            if not eq or not key or not key.isalpha() or not key.isascii():
                raise OAuthBearerError("malformed key/value pair")
            pairs[key.decode("ascii")] = value.decode("utf-8")
    except UnicodeDecodeError:
        raise OAuthBearerError("client response is not UTF-8") from None
    auth = pairs.get("auth", "")
    scheme, _, token = auth.partition(" ")
    if auth and scheme.lower() != "bearer":
        # §4: the scheme name is case-insensitive ("Bearer", "bearer", "BeArEr").
        raise OAuthBearerError("auth is not a Bearer token")
    return BearerResponse(authzid, token.strip(" "), pairs)


def error_message(status: str = "invalid_token", scope: str = "",
                  openid_configuration: str = "") -> bytes:
    """RFC 7628 §3.2.2: the JSON the server sends (as a challenge) when it fails a token."""
    body: dict[str, str] = {"status": status}
    if scope:
        body["scope"] = scope
    if openid_configuration:
        body["openid-configuration"] = openid_configuration
    return json.dumps(body, separators=(",", ":")).encode("utf-8")
