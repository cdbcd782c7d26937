"""InfluxDB line protocol: escaping and formatting of points. Pure: no I/O.

Line protocol escapes commas, spaces and equals signs in tag values with a backslash,
but InfluxDB's parser and its unescaper disagree about backslashes before other
characters (a value ending in ``\\`` swallows the separator after it), and no version
accepts a newline in a tag. So text reaching a line is first made *safe* by a
reversible percent-encoding of ``%``, ``\\`` and control characters (newlines, tabs,
NUL ...), then escaped. Everything else - spaces, commas, equals signs, quotes,
unicode - is stored as itself and reads back unchanged via :func:`decode_text`.
"""

from __future__ import annotations

import math
import re
from functools import lru_cache

__all__ = [
    "encode_text",
    "decode_text",
    "escape_tag",
    "escape_key",
    "quote_field_string",
    "format_float",
    "format_int",
]

_UNSAFE = re.compile(r"[%\\\x00-\x1f\x7f]")
_ENCODED = re.compile(r"%([0-9A-F]{2})")


def _pct(m: re.Match[str]) -> str:
    return f"%{ord(m.group(0)):02X}"


def encode_text(text: str) -> str:
    """``text`` with ``%``, ``\\`` and control characters as ``%XX`` (reversible)."""
    return _UNSAFE.sub(_pct, text)


def decode_text(text: str) -> str:
    """Inverse of :func:`encode_text`."""
    if "%" not in text:
        return text
    return _ENCODED.sub(lambda m: chr(int(m.group(1), 16)), text)


@lru_cache(maxsize=65_536)
def escape_tag(value: str) -> str:
    """A tag value ready for a line: encoded, then ``,`` ``=`` and space escaped.

    Cached because the same few thousand sensor ids are formatted millions of times.
    """
    if not value:
        raise ValueError("a tag value cannot be empty")
    safe = encode_text(value)
    return safe.replace(",", r"\,").replace("=", r"\=").replace(" ", r"\ ")


def escape_key(name: str) -> str:
    """A measurement name, tag key or field key ready for a line (our own constants)."""
    if not name or _UNSAFE.search(name):
        raise ValueError(f"bad line-protocol key {name!r}")
    return name.replace(",", r"\,").replace("=", r"\=").replace(" ", r"\ ")


def quote_field_string(value: str) -> str:
    """A string field value: encoded, ``"`` and ``\\`` escaped, in double quotes."""
    safe = encode_text(value)
    return '"' + safe.replace("\\", "\\\\").replace('"', '\\"') + '"'


def format_float(value: float) -> str:
    """A float field value (``repr`` round-trips exactly); NaN and infinities are refused."""
    v = float(value)
    if not math.isfinite(v):
        raise ValueError(f"line protocol cannot carry {v}")
    return repr(v)


def format_int(value: int) -> str:
    """An integer field value (``i`` suffix)."""
    return f"{int(value)}i"
