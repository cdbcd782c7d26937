"""InfluxQL text built safely, and ``/query`` responses parsed. Pure: no I/O.

Queries are never built by pasting caller values: identifiers go through
:func:`quote_ident`, strings through :func:`quote_string`, numbers through ``int()``.
Values that reach a query are the percent-encoded forms of
:mod:`twin.historian.lineprotocol`, so they never hold a backslash or a control
character; :func:`quote_string` still escapes backslashes and refuses control
characters, so it is safe on its own.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

import orjson

__all__ = [
    "Series",
    "QueryError",
    "quote_ident",
    "quote_string",
    "duration",
    "time_range",
    "any_of",
    "parse_response",
]

_CONTROL = re.compile(r"[\x00-\x1f\x7f]")


class QueryError(Exception):
    """A statement in a ``/query`` response carried an error (message from the server)."""


@dataclass(slots=True)
class Series:
    name: str
    tags: dict[str, str]
    columns: list[str]
    values: list[list[Any]] = field(default_factory=list)


def quote_ident(name: str) -> str:
    """A double-quoted identifier (database, retention policy, measurement, key)."""
    if _CONTROL.search(name):
        raise ValueError(f"identifier {name!r} holds a control character")
    return '"' + name.replace("\\", "\\\\").replace('"', '\\"') + '"'


def quote_string(value: str) -> str:
    """A single-quoted string literal."""
    if _CONTROL.search(value):
        raise ValueError(f"string {value!r} holds a control character")
    return "'" + value.replace("\\", "\\\\").replace("'", "\\'") + "'"


def duration(ms: int) -> str:
    """A duration literal in milliseconds (``90000ms``)."""
    ms = int(ms)
    if ms <= 0:
        raise ValueError(f"duration must be > 0 ms, got {ms}")
    return f"{ms}ms"


#: InfluxDB stores int64 nanoseconds: times outside this range (in ms) match nothing at all,
#: so an open-ended query such as ``until = 2**62`` is clamped to what the server can hold.
MIN_TIME_MS = -9_223_372_036_854
MAX_TIME_MS = 9_223_372_036_854


def _clamp(ms: int) -> int:
    return max(MIN_TIME_MS, min(MAX_TIME_MS, int(ms)))


def time_range(since_ms: int, until_ms: int | None = None) -> str:
    """``time >= Xms [AND time < Yms]`` with integer epoch milliseconds, clamped to InfluxDB's range."""
    cond = f"time >= {_clamp(since_ms)}ms"
    if until_ms is not None:
        cond += f" AND time < {_clamp(until_ms)}ms"
    return cond


def any_of(tag: str, values: Iterable[str]) -> str:
    """``("tag" = 'a' OR "tag" = 'b')``: an exact match on any of the values."""
    key = quote_ident(tag)
    parts = [f"{key} = {quote_string(v)}" for v in values]
    if not parts:
        raise ValueError("any_of needs at least one value")
    return "(" + " OR ".join(parts) + ")"


def parse_response(body: bytes) -> list[list[Series]]:
    """Series per statement from a (possibly chunked) JSON ``/query`` response.

    Chunked responses are one JSON document per line; chunks of the same series are
    joined. A series still marked ``partial`` at the end means the server cut the
    result (``max-row-limit``): that raises rather than returning part of the data.
    """
    statements: dict[int, dict[tuple, Series]] = {}
    partial: set[tuple] = set()
    for line in body.splitlines():
        if not line.strip():
            continue
        doc = orjson.loads(line)
        if "error" in doc:
            raise QueryError(str(doc["error"]))
        for result in doc.get("results", []):
            if "error" in result:
                raise QueryError(str(result["error"]))
            sid = int(result.get("statement_id", 0))
            bucket = statements.setdefault(sid, {})
            for s in result.get("series", []) or []:
                tags = s.get("tags") or {}
                key = (sid, s.get("name", ""), tuple(sorted(tags.items())))
                cur = bucket.get(key)
                if cur is None:
                    cur = bucket[key] = Series(s.get("name", ""), dict(tags), list(s.get("columns", [])))
                cur.values.extend(s.get("values") or [])
                if s.get("partial"):
                    partial.add(key)
                else:
                    partial.discard(key)
    if partial:
        raise QueryError("the server truncated the result (max-row-limit?); query a shorter range")
    if not statements:
        return []
    return [list(statements.get(i, {}).values()) for i in range(max(statements) + 1)]
