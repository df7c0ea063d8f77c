"""Whether an IMAP URL's host names this server (RFC 5092 §3 ``iserver``).

One rule for every use of an absolute URL: CATENATE's URL parts (RFC 4469 §3), GENURLAUTH
(RFC 4467 §7: the URL "MUST be ... for this server") and URLFETCH (§7: NIL for a URL that
"is invalid for any reason", as another server's is). Dovecot's imap-urlauth checks the
URL's host against its own name the same way.
"""

from __future__ import annotations

import ipaddress

from crispin.protocol.imapurl import ImapUrl
from crispin.server.config import is_loopback_host
from crispin.server.session import Session


def same_host(named: str, actual: str) -> bool:
    """Whether URL host ``named`` is ``actual``: IP addresses compared as addresses (an IP
    literal in brackets, RFC 3986 §3.2.2; an IPv4 address mapped into IPv6 as itself),
    names case-insensitively (RFC 3986 §3.2.2: "case-insensitive")."""
    named, actual = named.strip("[]").lower(), actual.split("%")[0].lower()
    try:
        a, b = ipaddress.ip_address(named), ipaddress.ip_address(actual)
    except ValueError:
        return named.rstrip(".") == actual.rstrip(".")
    if isinstance(b, ipaddress.IPv6Address) and b.ipv4_mapped is not None:
        b = b.ipv4_mapped
    return a == b


def names_this_server(session: Session, url: ImapUrl) -> bool:
    """An absolute URL's ``iserver`` (RFC 5092 §3) names this server when its host is the
    configured ``server.hostname`` or the address the client connected to ("localhost"
    when that is a loopback address), and its port, if any, the one connected to."""
    assert url.host is not None
    local = session.local
    hosts = [str(session.server.config.get("server", "hostname"))]
    if local is not None:
        hosts.append(local[0])
        if is_loopback_host(local[0].split("%")[0]):
            hosts.append("localhost")
    if not any(same_host(url.host, host) for host in hosts if host):
        return False
    return url.port is None or (local is not None and url.port == local[1])
