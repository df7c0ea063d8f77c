"""Thunderbird autoconfig: the document Thunderbird's account wizard fetches from
``/.well-known/autoconfig/mail/config-v1.1.xml`` (and the older ``/mail/config-v1.1.xml``),
read the way its ``readFromXML`` does: an ``emailProvider`` with ``incomingServer`` entries of
type imap, each with hostname, port, socketType, authentication and username."""

from __future__ import annotations

import xml.etree.ElementTree as ET

from tests.server.harness import PASSWORD, ServerThread
from tests.server.http.conftest import Api

SOCKET_TYPES = {"plain", "SSL", "STARTTLS"}
AUTHENTICATION = {"password-cleartext", "password-encrypted", "OAuth2", "none"}


def test_autoconfig_describes_the_imap_endpoints(http_server: ServerThread, api: Api) -> None:
    first = api.get("/.well-known/autoconfig/mail/config-v1.1.xml")
    second = api.get("/mail/config-v1.1.xml?emailaddress=alice%40localhost")
    assert first.status == second.status == 200
    assert first.headers["Content-Type"] == "application/xml"
    assert first.body == second.body
    root = ET.fromstring(first.body)
    assert root.tag == "clientConfig" and root.get("version") == "1.1"
    provider = root.find("emailProvider")
    assert provider is not None and provider.get("id") == "localhost"
    assert provider.findtext("domain") == "localhost"
    servers = provider.findall("incomingServer")
    seen = {}
    for server in servers:
        assert server.get("type") == "imap"
        assert server.findtext("socketType") in SOCKET_TYPES
        assert server.findtext("authentication") in AUTHENTICATION
        assert server.findtext("username") == "%EMAILLOCALPART%"
        seen[server.findtext("socketType")] = int(server.findtext("port") or 0)
        assert server.findtext("hostname") == "localhost"
    assert seen == {"SSL": http_server.tls_port, "STARTTLS": http_server.port}
    # What the wizard then does: log in over TLS as the address's local part.
    client = http_server.imaps()
    client.login("alice", PASSWORD)
    client.logout()
