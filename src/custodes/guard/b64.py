"""Strict, canonical, unpadded base64url (RFC 7515 §2, RFC 4648 §5).

Python's decoders are lenient: they skip characters outside the alphabet, accept padding and
ignore non-zero trailing bits, so two different strings can decode to the same bytes. A JWS
segment is accepted here only in its one canonical spelling.
"""

from __future__ import annotations

import binascii

_ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
_VALUE = {c: i for i, c in enumerate(_ALPHABET)}
# '+', '/' and '=' of the input become '!', which strict a2b_base64 refuses like any character
# outside the alphabet; '-' and '_' become the standard alphabet's '+' and '/'.
_TO_STANDARD = bytes.maketrans(b"-_+/=", b"+/!!!")
_TO_URL = bytes.maketrans(b"+/", b"-_")
_PADDING = (b"", b"", b"==", b"=")
#: with n % 4 == 2 the last character carries 4 unused bits; with n % 4 == 3, 2 of them.
_UNUSED_BITS_MASK = (0, 0, 0x0F, 0x03)


class Base64Error(ValueError):
    pass


def decode(segment: str) -> bytes:
    """Decode one segment, refusing padding, foreign characters and non-canonical endings."""
    rem = len(segment) % 4
    try:
        data = segment.encode("ascii")
    except UnicodeEncodeError:
        raise Base64Error("not base64url") from None
    if rem == 1:
        raise Base64Error("not base64url")
    if rem and _VALUE.get(segment[-1], 0) & _UNUSED_BITS_MASK[rem]:
        raise Base64Error("non-canonical base64url (trailing bits set)")
    try:
        return binascii.a2b_base64(data.translate(_TO_STANDARD) + _PADDING[rem], strict_mode=True)
    except binascii.Error:
        raise Base64Error("not base64url") from None


def encode(data: bytes) -> str:
    return binascii.b2a_base64(data, newline=False).translate(_TO_URL).rstrip(b"=").decode("ascii")
