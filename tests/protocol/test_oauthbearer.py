"""OAUTHBEARER messages (RFC 7628 §3.1, §3.2.2), from the RFC's examples (§4)."""

from __future__ import annotations

import base64

import pytest

from crispin.protocol.oauthbearer import (
    OAuthBearerError,
    error_message,
    parse_client_response,
)
from tests.protocol.rfc7628_examples import RFC_41, RFC_43_CLIENT, RFC_43_SERVER


def test_rfc_example_client_response() -> None:
    message = parse_client_response(base64.b64decode(RFC_41))
    assert message.authzid == "user@example.com"
    assert message.token == "vF9dft4qmTc2Nvb3RlckBhbHRhdmlzdGEuY29tCg=="
    assert message.pairs["host"] == "server.example.com" and message.pairs["port"] == "143"


def test_rfc_example_empty_auth_is_a_query() -> None:
    message = parse_client_response(base64.b64decode(RFC_43_CLIENT))
    assert (message.authzid, message.token) == ("user@example.com", "")


def test_rfc_example_error_json() -> None:
    assert base64.b64encode(error_message(
        "invalid_token", "example_scope",
        "https://example.com/.well-known/openid-configuration")).decode() == RFC_43_SERVER
    assert error_message() == b'{"status":"invalid_token"}'


def test_scheme_is_case_insensitive_and_authzid_optional() -> None:
    message = parse_client_response(b"n,,\x01auth=BeArEr tok-123\x01\x01")
    assert (message.authzid, message.token) == ("", "tok-123")


@pytest.mark.parametrize("data", [
    b"n,,\x01auth=Bearer x\x01",  # one kvsep at the end
    b"p=tls-unique,,\x01auth=Bearer x\x01\x01",  # no channel binding in OAUTHBEARER
    b"n,u=x,\x01auth=Bearer x\x01\x01",
    b"n,,\x01auth=Basic eDp5\x01\x01",
    b"n,,\x01=x\x01\x01",
    b"n,a=x=41,\x01auth=Bearer x\x01\x01",
    b"\x01",
])
def test_malformed(data: bytes) -> None:
    with pytest.raises(OAuthBearerError):
        parse_client_response(data)
