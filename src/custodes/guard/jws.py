"""Strict parsing of compact JWS (RFC 7515 §7.1): three canonical base64url segments, JSON objects
without duplicate members, UTF-8 only. Nothing here trusts what it parses; ``policy`` decides.
"""

from __future__ import annotations

import json
import math
from typing import Any, NoReturn, cast

from custodes.guard import b64


class JWSError(Exception):
    """A token that is not a well-formed compact JWS; ``reason`` is a code of ``reasons.REASONS``."""

    def __init__(self, reason: str):
        super().__init__(reason)
        self.reason = reason


def object_without_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    out = dict(pairs)
    if len(out) != len(pairs):
        raise ValueError("duplicate member")  # RFC 7515 §4: MUST reject (or use the last): we reject
    return out


def _refuse_constant(name: str) -> NoReturn:
    raise ValueError(f"{name} is not JSON")  # NaN, Infinity, -Infinity


_decoder = json.JSONDecoder(object_pairs_hook=object_without_duplicates,
                            parse_constant=_refuse_constant)


_scan = _decoder.scan_once  # type: ignore[attr-defined]  # the C scanner: json.loads minus two layers of Python wrappers
_JSON_SPACE = " \t\n\r"


def json_object(raw: bytes, reason: str) -> dict[str, Any]:
    """Decode a segment's bytes as one UTF-8 JSON object, or raise JWSError(reason)."""
    try:
        text = raw.decode("utf-8")  # never UTF-16/32 guessing
        start = len(text) - len(text.lstrip(_JSON_SPACE))
        if text[start:start + 1] != "{":  # also refuses a byte order mark
            raise ValueError("not an object")
        value, end = _scan(text, start)
        if end != len(text) and text[end:].strip(_JSON_SPACE):
            raise ValueError("trailing data")
    except (ValueError, RecursionError, StopIteration):  # UnicodeDecodeError is a ValueError
        raise JWSError(reason) from None
    return cast(dict[str, Any], value)  # "{" opened it: an object


def split(token: str) -> tuple[str, str, str]:
    """The three segments of a compact JWS, unparsed: exactly two dots and a header. An empty
    signature (as in alg none) is left for the header checks and the verifier to refuse."""
    parts = token.split(".")
    if len(parts) != 3 or not parts[0]:
        raise JWSError("malformed")
    return parts[0], parts[1], parts[2]


def segment(text: str) -> bytes:
    try:
        return b64.decode(text)
    except b64.Base64Error:
        raise JWSError("bad_base64") from None


def is_number(value: object) -> bool:
    """A NumericDate: an int or a finite float, never a bool (which Python counts as an int)."""
    if isinstance(value, bool):
        return False
    if isinstance(value, int):
        return True
    return isinstance(value, float) and math.isfinite(value)
