"""Thunderbird autoconfig: the document Thunderbird's account wizard fetches from
``/.well-known/autoconfig/mail/config-v1.1.xml`` (and the older ``/mail/config-v1.1.xml``).

The wizard cannot be driven by the Thunderbird harness of tests/interop (it starts Thunderbird
with a ready profile; nothing there can click through the account hub), so the document is
read here the way Thunderbird's own reader does: :func:`read_from_xml` follows
``modules/accountcreation/readFromXML.sys.mjs`` of the installed Thunderbird (omni.ja) check
for check, including the rule that a document without a usable ``<outgoingServer
type="smtp">`` is refused as a whole ("Need proper <outgoingServer> in XML file"). Then the
values are used as the wizard would: IMAP login over TLS and a message submitted over
STARTTLS + AUTH as the address's local part."""

from __future__ import annotations

import re
import smtplib
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any

import pytest

from tests.server.harness import PASSWORD, ServerThread
from tests.server.http.conftest import Api

# readFromXML.sys.mjs: the values it translates; anything else throws.
SOCKET_TYPES = {"plain", "SSL", "STARTTLS"}
INCOMING_TYPES = {"pop3", "imap", "nntp", "exchange", "ews", "owa"}
INCOMING_AUTH = {"password-cleartext", "plain", "password-encrypted", "secure", "GSSAPI",
                 "NTLM", "OAuth2"}
OUTGOING_AUTH = INCOMING_AUTH | {"none", "client-IP-address", "smtp-after-pop"}
PASSWORD_AUTH = {"password-cleartext", "plain", "password-encrypted", "secure"}
# InputSanitizer.hostname: letters, digits, "-" and "." (or %PLACEHOLDERS%).
HOSTNAME = re.compile(r"[a-zA-Z0-9.-]+|[a-zA-Z0-9.-]*(%[A-Z0-9]+%[a-zA-Z0-9.-]*)+")


class Refused(Exception):
    """What readFromXML throws: the wizard shows an error and uses nothing of the file."""


def _hostname(value: str | None) -> str:
    if not value or not HOSTNAME.fullmatch(value.strip()):
        raise Refused(f"hostname-syntax-error: {value!r}")
    return value.strip()


def _port(value: str | None) -> int:
    # InputSanitizer.integerRange(…, 1, 65535) after parseInt
    m = re.match(r"\s*([+-]?\d+)", value or "")
    if m is None or not 1 <= int(m.group(1)) <= 65535:
        raise Refused(f"port: {value!r}")
    return int(m.group(1))


def _server(node: ET.Element, auth_names: set[str]) -> dict[str, Any]:
    out: dict[str, Any] = {"type": node.get("type"), "hostname": _hostname(
        node.findtext("hostname")), "port": _port(node.findtext("port"))}
    # "take first that we support"
    sockets = [s.text for s in node.findall("socketType") if s.text in SOCKET_TYPES]
    if not sockets:
        raise Refused("need proper <socketType> in XML")
    out["socketType"] = sockets[0]
    auths = [a.text for a in node.findall("authentication") if a.text in auth_names]
    if not auths or auths[0] == "OAuth2":  # OAuth2 needs a provider Thunderbird knows
        raise Refused("need proper <authentication> in XML")
    out["authentication"] = auths[0]
    if node.find("username") is not None or auths[0] in PASSWORD_AUTH:
        out["username"] = str(node.findtext("username"))
    return out


def read_from_xml(body: bytes) -> dict[str, Any]:
    """The AccountConfig readFromXML makes of ``body``: ``incoming``, ``outgoing`` (the first
    valid of each) and their alternatives; :class:`Refused` where Thunderbird throws."""
    root = ET.fromstring(body)
    provider = root.find("emailProvider")
    if root.tag != "clientConfig" or provider is None:
        raise Refused("no-email-provider-error")
    config: dict[str, Any] = {"id": _hostname(provider.get("id")), "domains": []}
    for domain in provider.findall("domain"):
        try:
            config["domains"].append(_hostname(domain.text))
        except Refused:
            pass
    if not config["domains"]:
        raise Refused("need proper <domain> in XML")
    # A bad server entry is skipped; with no good one, the last error is thrown.
    incoming, last = [], None
    for node in provider.findall("incomingServer"):
        try:
            if node.get("type") not in INCOMING_TYPES:
                raise Refused(f"allowed-value-error: {node.get('type')}")
            incoming.append(_server(node, INCOMING_AUTH))
        except Refused as exc:
            last = exc
    if not incoming:
        raise last or Refused("Need proper <incomingServer> in XML file")
    outgoing, last = [], None
    for node in provider.findall("outgoingServer"):
        try:
            if node.get("type") != "smtp":
                raise Refused("outgoing-not-smtp-error")
            outgoing.append(_server(node, OUTGOING_AUTH))
        except Refused as exc:
            last = exc
    if not outgoing:
        raise last or Refused("Need proper <outgoingServer> in XML file")
    config.update(incoming=incoming[0], incoming_alternatives=incoming[1:],
                  outgoing=outgoing[0], outgoing_alternatives=outgoing[1:])
    return config


def test_autoconfig_describes_imap_and_smtp_submission(http_server: ServerThread, api: Api
                                                       ) -> None:
    first = api.get("/.well-known/autoconfig/mail/config-v1.1.xml")
    second = api.get("/mail/config-v1.1.xml?emailaddress=alice%40localhost")
    assert first.status == second.status == 200
    assert first.headers["Content-Type"] == "application/xml"
    assert first.body == second.body
    assert ET.fromstring(first.body).get("version") == "1.1"
    config = read_from_xml(first.body)
    assert config["id"] == "localhost" and config["domains"] == ["localhost"]
    imap = [config["incoming"], *config["incoming_alternatives"]]
    assert [(s["type"], s["hostname"], s["port"], s["socketType"], s["authentication"],
             s["username"]) for s in imap] == [
        ("imap", "localhost", http_server.tls_port, "SSL", "password-cleartext",
         "%EMAILLOCALPART%"),
        ("imap", "localhost", http_server.port, "STARTTLS", "password-cleartext",
         "%EMAILLOCALPART%")]
    assert config["outgoing_alternatives"] == []
    assert config["outgoing"] == {
        "type": "smtp", "hostname": "localhost",
        "port": http_server.running.mail_port("submission"), "socketType": "STARTTLS",
        "authentication": "password-cleartext", "username": "%EMAILLOCALPART%"}

    # What the wizard then does with alice@localhost: log in over TLS as "alice", send.
    client = http_server.imaps()
    client.login("alice", PASSWORD)
    client.select("INBOX")
    with smtplib.SMTP("127.0.0.1", config["outgoing"]["port"], timeout=30) as smtp:
        smtp.starttls(context=http_server.client_context())
        smtp.login("alice", PASSWORD)
        smtp.sendmail("alice@localhost", ["alice@localhost"],
                      b"From: alice@localhost\r\nTo: alice@localhost\r\nSubject: Setup\r\n\r\n"
                      b"Sent as configured.\r\n")
    client.noop()  # the new message is announced (EXISTS) before it is searched
    _, data = client.uid("SEARCH", "SUBJECT", "Setup")
    assert data == [b"1"]
    client.logout()


def test_without_submission_the_smtp_port_is_described(tmp_path: Path) -> None:
    srv = ServerThread(tmp_path / "data", http={"enabled": True, "port": 0},
                       smtp={"submission_port": -1})
    try:
        config = read_from_xml(Api(srv).get("/mail/config-v1.1.xml").body)
        assert (config["outgoing"]["port"], config["outgoing"]["socketType"]) == \
            (srv.running.mail_port("smtp"), "STARTTLS")
    finally:
        srv.stop()


def test_the_reader_refuses_what_thunderbird_refuses(http_server: ServerThread, api: Api
                                                     ) -> None:
    """The reader is strict where Thunderbird is: the document without its outgoing server
    (as it was before SMTP existed) is refused whole."""
    body = api.get("/mail/config-v1.1.xml").body
    no_outgoing = re.sub(rb"\s*<outgoingServer.*?</outgoingServer>", b"", body, flags=re.S)
    with pytest.raises(Refused, match="outgoingServer"):
        read_from_xml(no_outgoing)
    head, outgoing = body.split(b"<outgoingServer")
    with pytest.raises(Refused, match="socketType"):
        read_from_xml(head + b"<outgoingServer" + outgoing.replace(b"STARTTLS", b"TLS"))
