"""InfluxQL building and /query response parsing (pure)."""

from __future__ import annotations

import orjson
import pytest

from twin.historian.influxql import (
    QueryError,
    any_of,
    duration,
    parse_response,
    quote_ident,
    quote_string,
    time_range,
)


def test_quote_string_escapes_quote_and_backslash():
    assert quote_string("it's") == r"'it\'s'"
    assert quote_string("a\\b") == r"'a\\b'"
    with pytest.raises(ValueError):
        quote_string("new\nline")


def test_quote_ident():
    assert quote_ident('my "db"') == r'"my \"db\""'
    with pytest.raises(ValueError):
        quote_ident("a\x00b")


def test_numbers_are_integers_only():
    assert time_range(1, 2) == "time >= 1ms AND time < 2ms"
    assert time_range(5) == "time >= 5ms"
    assert duration(90_000) == "90000ms"
    with pytest.raises(ValueError):
        duration(0)
    with pytest.raises(ValueError):
        time_range("1; DROP DATABASE x", 2)  # type: ignore[arg-type]


def test_any_of():
    assert any_of("sensor", ["a", "b'c"]) == "(\"sensor\" = 'a' OR \"sensor\" = 'b\\'c')"
    with pytest.raises(ValueError):
        any_of("sensor", [])


def _chunk(series, partial=False, statement=0):
    return orjson.dumps(
        {
            "results": [
                {
                    "statement_id": statement,
                    "series": series,
                    **({"partial": True} if partial else {}),
                }
            ]
        }
    )


def test_chunks_of_one_series_are_joined():
    s = {"name": "reading", "tags": {"sensor": "a"}, "columns": ["time", "value"]}
    body = b"\n".join(
        [
            _chunk([{**s, "values": [[1, 1.0]], "partial": True}], partial=True),
            _chunk([{**s, "values": [[2, 2.0]]}]),
            _chunk(
                [
                    {
                        "name": "reading",
                        "tags": {"sensor": "b"},
                        "columns": ["time", "value"],
                        "values": [[3, 3.0]],
                    }
                ]
            ),
        ]
    )
    (stmt,) = parse_response(body)
    assert [(x.tags["sensor"], x.values) for x in stmt] == [
        ("a", [[1, 1.0], [2, 2.0]]),
        ("b", [[3, 3.0]]),
    ]


def test_truncated_series_raise():
    s = {"name": "reading", "columns": ["time", "value"], "values": [[1, 1.0]], "partial": True}
    with pytest.raises(QueryError, match="truncated"):
        parse_response(_chunk([s]))


def test_errors_raise_and_empty_results_are_empty():
    with pytest.raises(QueryError, match="database not found"):
        parse_response(b'{"results":[{"statement_id":0,"error":"database not found: x"}]}')
    with pytest.raises(QueryError):
        parse_response(b'{"error":"bad query"}')
    assert parse_response(b'{"results":[{"statement_id":0}]}') == [[]]
    assert parse_response(b"") == []
