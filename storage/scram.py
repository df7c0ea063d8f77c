"""The SCRAM-SHA-256 salted keys kept beside a user's scrypt hash (RFC 5802 §3, RFC 7677 §3).

Stored form: ``SCRAM-SHA-256$<iterations>$<salt b64>$<StoredKey b64>$<ServerKey b64>``.
With these the server checks a SCRAM proof and proves itself to the client without ever
holding the password; they cannot be turned back into it (StoredKey is a hash of ClientKey,
and a client needs ClientKey itself to log in). Derived whenever a password is set, or at
the next successful password login of a user whose password was set before SCRAM existed.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import os
from dataclasses import dataclass

from .saslprep import SASLprepError, saslprep

PREFIX = "SCRAM-SHA-256"
# RFC 7677 §3: "SHOULD be at least 4096" (Dovecot's default too). Each count travels with
# its keys, so raising it later still verifies the keys derived before.
ITERATIONS = 4096
SALT_BYTES = 16


@dataclass(frozen=True)
class ScramKeys:
    salt: bytes
    iterations: int
    stored_key: bytes
    server_key: bytes


def derive(password: str, salt: bytes, iterations: int) -> ScramKeys | None:
    """RFC 5802 §3: SaltedPassword := Hi(Normalize(password), salt, i), ClientKey :=
    HMAC(SaltedPassword, "Client Key"), StoredKey := H(ClientKey), ServerKey :=
    HMAC(SaltedPassword, "Server Key"). None for a password SASLprep refuses (§2.2: then no
    SCRAM client could send it either; LOGIN and PLAIN still work)."""
    try:
        normalized = saslprep(password, stored=True)
    except SASLprepError:
        return None
    if not normalized:
        return None
    salted = hashlib.pbkdf2_hmac("sha256", normalized.encode("utf-8"), salt, iterations)
    client_key = hmac.new(salted, b"Client Key", hashlib.sha256).digest()
    server_key = hmac.new(salted, b"Server Key", hashlib.sha256).digest()
    return ScramKeys(salt, iterations, hashlib.sha256(client_key).digest(), server_key)


def new_keys(password: str, iterations: int = ITERATIONS) -> str | None:
    """The stored form of fresh keys (a new random salt) for ``password``, or None."""
    keys = derive(password, os.urandom(SALT_BYTES), iterations)
    return None if keys is None else encode(keys)


def encode(keys: ScramKeys) -> str:
    return "$".join((PREFIX, str(keys.iterations), *(
        base64.b64encode(b).decode("ascii")
        for b in (keys.salt, keys.stored_key, keys.server_key))))


def decode(stored: str | None) -> ScramKeys | None:
    """The keys of a stored form; None for NULL or anything malformed."""
    if not stored:
        return None
    parts = stored.split("$")
    if len(parts) != 5 or parts[0] != PREFIX or not parts[1].isdigit():
        return None
    try:
        salt, stored_key, server_key = (base64.b64decode(p, validate=True) for p in parts[2:])
    except ValueError:
        return None
    if int(parts[1]) < 1 or len(stored_key) != 32 or len(server_key) != 32:
        return None
    return ScramKeys(salt, int(parts[1]), stored_key, server_key)
