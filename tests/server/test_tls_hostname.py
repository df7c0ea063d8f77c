"""The generated certificate follows server.hostname (issue 12: a container restarted with
another hostname gets a certificate for it, with a warning)."""

from __future__ import annotations

from pathlib import Path

import pytest
from cryptography import x509

from crispin.server.tls import ensure_certificate


def names(path: Path) -> list[str]:
    cert = x509.load_pem_x509_certificate(path.read_bytes())
    san = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    return san.get_values_for_type(x509.DNSName)


def test_certificate_regenerated_when_hostname_changes(tmp_path: Path,
                                                       caplog: pytest.LogCaptureFixture) -> None:
    first = ensure_certificate(tmp_path, "", "", "mail.test")
    assert first.generated and "mail.test" in names(first.cert_path)
    same = ensure_certificate(tmp_path, "", "", "mail.test")
    assert not same.generated and same.fingerprint_sha256() == first.fingerprint_sha256()
    old_fingerprint = first.fingerprint_sha256()
    changed = ensure_certificate(tmp_path, "", "", "crispin")
    assert changed.generated and "crispin" in names(changed.cert_path)
    assert changed.fingerprint_sha256() != old_fingerprint
    assert "generating a new self-signed certificate" in caplog.text

