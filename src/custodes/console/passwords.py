"""Password hashes: scrypt (memory-hard) with a per-user salt, compared in constant time.

Stored form: ``scrypt$<log2 n>$<r>$<p>$<salt b64>$<hash b64>``, so the cost can be raised later
without breaking existing users (each hash carries its own parameters).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets

#: n = 2**15, r = 8: 32 MiB and roughly 0.1 s per check on this machine's class of CPU.
DEFAULT_LOG2_N = 15
DEFAULT_R = 8
DEFAULT_P = 1
MIN_PASSWORD_LENGTH = 12
MAX_PASSWORD_LENGTH = 1024  # bounds the work an attacker can ask of the server per attempt


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def _derive(password: str, salt: bytes, log2_n: int, r: int, p: int) -> bytes:
    n = 1 << log2_n
    return hashlib.scrypt(password.encode("utf-8"), salt=salt, n=n, r=r, p=p,
                          maxmem=256 * n * r + (1 << 20), dklen=32)


def check_policy(password: str) -> None:
    """Raise ValueError when a new password is too weak to accept."""
    if len(password) < MIN_PASSWORD_LENGTH:
        raise ValueError(f"a password needs at least {MIN_PASSWORD_LENGTH} characters")
    if len(password) > MAX_PASSWORD_LENGTH:
        raise ValueError(f"a password may have at most {MAX_PASSWORD_LENGTH} characters")
    if len(set(password)) < 5:
        raise ValueError("a password needs more than four distinct characters")


def hash_password(password: str, log2_n: int = DEFAULT_LOG2_N, r: int = DEFAULT_R,
                  p: int = DEFAULT_P) -> str:
    salt = secrets.token_bytes(16)
    digest = _derive(password, salt, log2_n, r, p)
    return f"scrypt${log2_n}${r}${p}${_b64(salt)}${_b64(digest)}"


def verify_password(password: str, stored: str) -> bool:
    """True when ``password`` matches ``stored``; any malformed stored hash is a plain False."""
    if len(password) > MAX_PASSWORD_LENGTH:
        return False
    try:
        scheme, log2_n, r, p, salt, digest = stored.split("$")
        log2_n, r, p = int(log2_n), int(r), int(p)
        # A stored hash must not be able to ask for unbounded work or memory.
        if scheme != "scrypt" or not (10 <= log2_n <= 20 and 1 <= r <= 16 and 1 <= p <= 4):
            return False
        expected = base64.b64decode(digest, validate=True)
        actual = _derive(password, base64.b64decode(salt, validate=True), log2_n, r, p)
    except (ValueError, TypeError, OverflowError, MemoryError):
        return False
    return hmac.compare_digest(actual, expected)


#: Checked against when a login names an unknown user, so that the response takes as long as for
#: a known one (no user enumeration by timing).
DUMMY_HASH = hash_password(secrets.token_urlsafe(16))
