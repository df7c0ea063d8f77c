"""TLS: the server's certificate and the SSL context for STARTTLS and implicit TLS.

RFC 8314 prefers implicit TLS (port 993); RFC 2595 / RFC 3501 §6.2.1 define STARTTLS. With no
certificate configured, a self-signed *leaf* certificate is generated on first start: mbsync
(OpenSSL) refuses a certificate with the CA bit used as a server certificate, and clients match
the host name against subjectAltName only, so both are set the way a real server certificate is.
"""

from __future__ import annotations

import datetime as dt
import ipaddress
import logging
import os
import ssl
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

log = logging.getLogger("crispin.tls")

CERT_NAME = "cert.pem"
GENERATED_ORG = "Crispin IMAP server (self-signed)"
KEY_NAME = "key.pem"


@dataclass(frozen=True)
class Certificate:
    cert_path: Path
    key_path: Path
    generated: bool

    def fingerprint_sha256(self) -> str:
        cert = x509.load_pem_x509_certificate(self.cert_path.read_bytes())
        digest = cert.fingerprint(hashes.SHA256())
        return ":".join(f"{b:02X}" for b in digest)

    def end_point_binding(self) -> bytes | None:
        """The ``tls-server-end-point`` channel binding (RFC 5929 §4.1): the hash of the
        server's certificate (the first of the chain), with the hash function of its
        signature, SHA-256 in place of MD5 or SHA-1. None when the signature names no hash
        (Ed25519, Ed448: §4.1 defines nothing for them), so -PLUS is not offered."""
        cert = x509.load_pem_x509_certificate(self.cert_path.read_bytes())
        algorithm = cert.signature_hash_algorithm
        if algorithm is None:
            return None
        if isinstance(algorithm, hashes.MD5 | hashes.SHA1):
            algorithm = hashes.SHA256()
        return cert.fingerprint(algorithm)


def generate_self_signed(cert_path: Path, key_path: Path, hostname: str) -> None:
    """Write a self-signed leaf certificate for ``hostname``, localhost, 127.0.0.1 and ::1.

    P-256 keeps the handshake cheap (the login benchmark is handshake-bound) while every client
    in use supports it. The key file is created 0600 before any secret is written to it.
    """
    key = ec.generate_private_key(ec.SECP256R1())
    names: list[x509.GeneralName] = [x509.DNSName("localhost")]
    if hostname and hostname != "localhost":
        try:
            names.append(x509.IPAddress(ipaddress.ip_address(hostname)))
        except ValueError:
            names.append(x509.DNSName(hostname))
    names += [x509.IPAddress(ipaddress.ip_address("127.0.0.1")),
              x509.IPAddress(ipaddress.ip_address("::1"))]
    subject = x509.Name([
        x509.NameAttribute(NameOID.COMMON_NAME, hostname or "localhost"),
        x509.NameAttribute(NameOID.ORGANIZATION_NAME, GENERATED_ORG),
    ])
    now = dt.datetime.now(dt.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=825))
        .add_extension(x509.SubjectAlternativeName(names), critical=False)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(x509.KeyUsage(
            digital_signature=True, content_commitment=False, key_encipherment=False,
            data_encipherment=False, key_agreement=True, key_cert_sign=False, crl_sign=False,
            encipher_only=False, decipher_only=False), critical=True)
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()),
                       critical=False)
        .sign(key, hashes.SHA256())
    )
    key_path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(key_path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as fh:
        fh.write(key.private_bytes(serialization.Encoding.PEM,
                                   serialization.PrivateFormat.PKCS8,
                                   serialization.NoEncryption()))
    os.chmod(key_path, 0o600)
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))


def _generated_for_other_name(cert_path: Path, hostname: str) -> bool:
    """Whether ``cert_path`` is one Crispin generated, for a name other than ``hostname``."""
    try:
        cert = x509.load_pem_x509_certificate(cert_path.read_bytes())
        org = cert.subject.get_attributes_for_oid(NameOID.ORGANIZATION_NAME)
        if not org or org[0].value != GENERATED_ORG:
            return False  # someone else's certificate, placed there by hand
        san = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    except (ValueError, x509.ExtensionNotFound):
        return False
    wanted = hostname or "localhost"
    try:
        ip = ipaddress.ip_address(wanted)
    except ValueError:
        return wanted not in san.get_values_for_type(x509.DNSName)
    return ip not in san.get_values_for_type(x509.IPAddress)


def ensure_certificate(data_dir: Path, cert: str, key: str, hostname: str) -> Certificate:
    """The configured certificate, or the generated one in ``<data_dir>/tls/``."""
    if cert or key:
        if not (cert and key):
            raise ValueError("tls.cert and tls.key must be set together")
        return Certificate(Path(cert), Path(key), generated=False)
    tls_dir = data_dir / "tls"
    cert_path, key_path = tls_dir / CERT_NAME, tls_dir / KEY_NAME
    if cert_path.exists() and key_path.exists():
        if not _generated_for_other_name(cert_path, hostname):
            return Certificate(cert_path, key_path, generated=False)
        # A container started again with another server.hostname: clients checking the
        # name would refuse the old certificate, so make one for the new name.
        log.warning("server.hostname is now %r, which the generated certificate does not "
                    "name: generating a new self-signed certificate (clients that pinned "
                    "the old one must accept the new fingerprint)", hostname)
    tls_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
    generate_self_signed(cert_path, key_path, hostname)
    return Certificate(cert_path, key_path, generated=True)


def server_context(certificate: Certificate) -> ssl.SSLContext:
    """TLS 1.2 minimum (RFC 8314 §4.1 asks for TLS 1.2 or later)."""
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.minimum_version = ssl.TLSVersion.TLSv1_2
    ctx.options |= ssl.OP_NO_COMPRESSION
    # No TLS 1.3 session tickets: they arrive after the handshake, and imaplib2 (under
    # offlineimap) reads them in one thread while writing in another, which sometimes
    # loses its first command after STARTTLS (tests/interop/test_offlineimap.py). Clients
    # here reconnect rarely; a full handshake costs about half a millisecond.
    ctx.num_tickets = 0
    ctx.load_cert_chain(str(certificate.cert_path), str(certificate.key_path))
    return ctx
