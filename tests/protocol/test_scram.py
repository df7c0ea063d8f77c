"""SCRAM-SHA-256 server side (RFC 5802, RFC 7677) and SASLprep (RFC 4013), checked against
the RFCs' examples and against scramp, a SCRAM client nobody here wrote."""

from __future__ import annotations

import base64

import pytest
import scramp

from crispin.protocol.scram import ScramError, ScramServer, parse_client_first
from crispin.storage import SASLprepError, saslprep
from crispin.storage.scram import decode, derive, encode, new_keys

SALT = base64.b64decode("W22ZaJ0SNY7soEsUEjb6gQ==")


def rfc7677_server(**bindings: bytes) -> ScramServer:
    return ScramServer(False, bindings, "%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0")


def start(server: ScramServer, first: bytes, password: str = "pencil") -> bytes:
    server.client_first(first)
    keys = derive(password, SALT, 4096)
    assert keys is not None
    return server.server_first(keys.salt, keys.iterations, keys.stored_key, keys.server_key)


def test_rfc7677_example_exchange() -> None:
    """RFC 7677 §3, byte for byte: user 'user', password 'pencil'."""
    server = rfc7677_server()
    assert start(server, b"n,,n=user,r=rOprNGfwEbeRWgbNEkqO") == (
        b"r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,"
        b"s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096")
    final = server.client_final(
        b"c=biws,r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,"
        b"p=dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ=")
    assert final == b"v=6rriTRBi23WpRR/wtup+mMhUZUn/dB5nLTJRsjl95G4="


def test_wrong_proof_is_invalid_proof() -> None:
    server = rfc7677_server()
    start(server, b"n,,n=user,r=rOprNGfwEbeRWgbNEkqO", password="pencils")
    with pytest.raises(ScramError) as exc:
        server.client_final(
            b"c=biws,r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,"
            b"p=dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ=")
    assert exc.value.error == "invalid-proof" and not exc.value.malformed


def test_nonce_must_be_the_servers() -> None:
    server = rfc7677_server()
    start(server, b"n,,n=user,r=rOprNGfwEbeRWgbNEkqO")
    with pytest.raises(ScramError) as exc:
        server.client_final(b"c=biws,r=rOprNGfwEbeRWgbNEkqOother,p=AAAA")
    assert exc.value.error == "other-error"


def scramp_exchange(server: ScramServer, mechanisms: list[str], password: str = "pencil",
                    channel_binding: tuple[str, bytes] | None = None) -> None:
    client = scramp.ScramClient(mechanisms, "user", password, channel_binding=channel_binding)
    keys = derive("pencil", SALT, 4096)
    assert keys is not None
    server.client_first(client.get_client_first().encode())
    client.set_server_first(server.server_first(
        keys.salt, keys.iterations, keys.stored_key, keys.server_key).decode())
    client.set_server_final(server.client_final(client.get_client_final().encode()).decode())


def test_scramp_client_logs_in() -> None:
    scramp_exchange(ScramServer(False, {}, "srvnonce"), ["SCRAM-SHA-256"])


def test_scramp_plus_with_tls_server_end_point() -> None:
    """RFC 5802 §6, RFC 5929 §4: the binding data is compared inside "c="."""
    data = bytes(range(32))
    scramp_exchange(ScramServer(True, {"tls-server-end-point": data}, "n0nce"),
                    ["SCRAM-SHA-256-PLUS"], channel_binding=("tls-server-end-point", data))
    with pytest.raises(ScramError) as exc:
        scramp_exchange(ScramServer(True, {"tls-server-end-point": data}, "n0nce"),
                        ["SCRAM-SHA-256-PLUS"],
                        channel_binding=("tls-server-end-point", b"x" * 32))
    assert exc.value.error == "channel-bindings-dont-match"


def test_channel_binding_negotiation() -> None:
    """RFC 5802 §6: "y" where the server can bind is a downgrade; "p" names a type the
    server must have; -PLUS requires "p"; "p" requires -PLUS."""
    binding = {"tls-server-end-point": b"\x01" * 32}
    cases = [
        (False, binding, b"y,,n=user,r=abc", "server-does-support-channel-binding"),
        (True, binding, b"p=tls-unique,,n=user,r=abc", "unsupported-channel-binding-type"),
        (True, binding, b"n,,n=user,r=abc", "other-error"),
        (False, binding, b"p=tls-server-end-point,,n=user,r=abc", "other-error"),
    ]
    for plus, bindings, message, error in cases:
        with pytest.raises(ScramError) as exc:
            ScramServer(plus, bindings, "s").client_first(message)
        assert exc.value.error == error, message
    # Without TLS, "y" is right: the client could bind, the server cannot; so it is where
    # -PLUS was not offered although a binding exists (TLS 1.3 here).
    assert ScramServer(False, {}, "s").client_first(b"y,,n=user,r=abc").cbind_flag == "y"
    unoffered = ScramServer(False, binding, "s", advertised_plus=False)
    assert unoffered.client_first(b"y,,n=user,r=abc").cbind_flag == "y"


@pytest.mark.parametrize(("message", "error"), [
    (b"x,,n=user,r=abc", "invalid-encoding"),  # §5: must begin with n, y or p
    (b"n,,r=abc", "invalid-encoding"),
    (b"n,,n=user", "invalid-encoding"),
    (b"n,,n=us=2Xer,r=abc", "invalid-username-encoding"),  # §5.1 "n"
    (b"n,,n=\xff,r=abc", "invalid-username-encoding"),
    (b"n,,n=user,r=a\x7fb", "invalid-encoding"),
    (b"n,b=x,n=user,r=abc", "invalid-encoding"),
])
def test_malformed_client_first(message: bytes, error: str) -> None:
    with pytest.raises(ScramError) as exc:
        parse_client_first(message)
    assert exc.value.error == error and exc.value.malformed


def test_mandatory_extension_fails() -> None:
    """§5.1 "m": a mandatory extension the server does not know MUST fail."""
    with pytest.raises(ScramError) as exc:
        parse_client_first(b"n,,m=ext,n=user,r=abc")
    assert exc.value.error == "extensions-not-supported"


def test_saslname_escapes_and_authzid() -> None:
    first = parse_client_first(b"n,a=a=3Db,n=x=2Cy,r=abc,q=ignored")
    assert (first.authzid, first.username, first.nonce) == ("a=b", "x,y", "abc")
    assert first.gs2_header == b"n,a=a=3Db,"


@pytest.mark.parametrize(("given", "prepared"), [
    # RFC 4013 §3 examples.
    ("I\u00adX", "IX"), ("user", "user"), ("USER", "USER"), ("\u00aa", "a"),
    ("\u2168", "IX"), ("a\u00a0b", "a b"),
])
def test_saslprep_examples(given: str, prepared: str) -> None:
    assert saslprep(given) == prepared


@pytest.mark.parametrize("given", ["\u0007", "\u0627\u0031", "a\ue000"])
def test_saslprep_prohibits(given: str) -> None:
    with pytest.raises(SASLprepError):
        saslprep(given)


def test_unassigned_only_in_queries() -> None:
    assert saslprep("\u0221x", stored=False) == "\u0221x"  # unassigned in Unicode 3.2
    with pytest.raises(SASLprepError):
        saslprep("\u0221x")


def test_stored_form_round_trip() -> None:
    stored = new_keys("pencil")
    assert stored is not None and stored.startswith("SCRAM-SHA-256$4096$")
    keys = decode(stored)
    assert keys is not None and encode(keys) == stored
    assert derive("pencil", keys.salt, keys.iterations) == keys
    assert decode("SCRAM-SHA-256$0$AAAA$AAAA$AAAA") is None and decode(None) is None
    assert new_keys("\u0007") is None  # SASLprep refuses it: no keys, LOGIN still works
