"""Password hashing with scrypt (RFC 7914), stdlib only.

Stored form: ``scrypt$<n>$<r>$<p>$<salt b64>$<hash b64>`` with a 16-byte random salt and a
32-byte derived key.  The parameters travel with each hash, so a later change of the default
cost still verifies old hashes.  Nothing reversible is ever stored.

Hashing costs ~50 ms at the default n=2**14; callers run it off the event loop
(``asyncio.to_thread``).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import os
import threading

from .errors import InvalidPassword

SCRYPT_N = 2**14
SCRYPT_R = 8
SCRYPT_P = 1
DKLEN = 32
SALT_BYTES = 16
_MAXMEM = 64 * 1024 * 1024
_PREFIX = "scrypt"


def validate_password(password: str) -> None:
    """Refuse an empty password (issue 9 point 11): ``echo pw | docker exec crispin crispin
    user add ... --password-stdin`` without ``-i`` reads nothing, and the account it made
    let anyone log in."""
    if not password:
        raise InvalidPassword("empty password")


def hash_password(password: str, n: int = SCRYPT_N) -> str:
    """Return the stored form of a new hash of ``password``."""
    salt = os.urandom(SALT_BYTES)
    key = _derive(password, salt, n, SCRYPT_R, SCRYPT_P, DKLEN)
    return "$".join((_PREFIX, str(n), str(SCRYPT_R), str(SCRYPT_P), _b64(salt), _b64(key)))


def verify_password(password: str, stored: str) -> bool:
    """Constant-time check of ``password`` against a stored hash; False if malformed."""
    try:
        prefix, n_s, r_s, p_s, salt_s, key_s = stored.split("$")
        if prefix != _PREFIX:
            return False
        n, r, p = int(n_s), int(r_s), int(p_s)
        salt = base64.b64decode(salt_s, validate=True)
        expected = base64.b64decode(key_s, validate=True)
        actual = _derive(password, salt, n, r, p, len(expected))
    except ValueError:  # malformed field, bad base64, or parameters scrypt refuses
        return False
    return hmac.compare_digest(actual, expected)


def is_hash(text: str) -> bool:
    """Whether ``text`` is in the stored form (``scrypt$n$r$p$salt$key``), e.g. a line of a
    users file that carries a hash instead of a password."""
    parts = text.split("$")
    if len(parts) != 6 or parts[0] != _PREFIX or not all(x.isdigit() for x in parts[1:4]):
        return False
    try:
        base64.b64decode(parts[4], validate=True)
        base64.b64decode(parts[5], validate=True)
    except ValueError:
        return False
    return True


_dummy: dict[int, str] = {}
# Store.open starts the first hash in the background; a login that needs it meanwhile waits
# for that one instead of computing a second.
_dummy_lock = threading.Lock()


def dummy_hash(n: int = SCRYPT_N) -> str:
    """A hash of a random password with cost ``n``, for verifying unknown users.

    Checking a password against it costs the same as checking a real user's, so the time of
    a failed login does not tell whether the user exists.
    """
    h = _dummy.get(n)
    if h is None:
        with _dummy_lock:
            h = _dummy.get(n)
            if h is None:
                h = _dummy[n] = hash_password(base64.b64encode(os.urandom(18)).decode(), n)
    return h


def _derive(password: str, salt: bytes, n: int, r: int, p: int, dklen: int) -> bytes:
    return hashlib.scrypt(
        password.encode("utf-8", "surrogatepass"),
        salt=salt,
        n=n,
        r=r,
        p=p,
        dklen=dklen,
        maxmem=_MAXMEM,
    )


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")
