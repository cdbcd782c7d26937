"""Line-protocol escaping (pure): reversible, and safe for every character."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from twin.historian.lineprotocol import (
    decode_text,
    encode_text,
    escape_key,
    escape_tag,
    format_float,
    format_int,
    quote_field_string,
)

text = st.text(alphabet=st.characters(blacklist_categories=("Cs",)), max_size=60)


@given(text)
def test_encode_text_round_trips(value):
    assert decode_text(encode_text(value)) == value


@given(text)
def test_encoded_text_has_no_backslash_percent_escape_or_control(value):
    safe = encode_text(value)
    assert "\\" not in safe
    assert not any(ord(c) < 32 or ord(c) == 127 for c in safe)
    assert all(safe[i + 1 : i + 3].isalnum() for i, c in enumerate(safe) if c == "%")


def test_encode_keeps_readable_characters():
    assert encode_text("a b,c=d\"'한국🔥") == "a b,c=d\"'한국🔥"
    assert encode_text("50%\\n\n\t") == "50%25%5Cn%0A%09"


@given(text.filter(bool))
def test_escaped_tag_has_no_unescaped_separator(value):
    tag = escape_tag(value)
    i = 0
    while i < len(tag):
        if tag[i] == "\\":
            assert tag[i + 1] in ", ="  # only ever escapes a separator
            i += 2
            continue
        assert tag[i] not in ", =\n"
        i += 1


def test_escape_tag_examples():
    assert escape_tag("a b,c=d") == r"a\ b\,c\=d"
    assert escape_tag("trailing\\") == "trailing%5C"
    with pytest.raises(ValueError):
        escape_tag("")


def test_field_strings_quote_and_escape():
    assert quote_field_string('say "hi"\n') == '"say \\"hi\\"%0A"'
    assert decode_text('say "hi"%0A') == 'say "hi"\n'


def test_keys_are_checked():
    assert escape_key("reading") == "reading"
    for bad in ("", "a\nb", "x\\y"):
        with pytest.raises(ValueError):
            escape_key(bad)


@given(st.floats(allow_nan=False, allow_infinity=False))
def test_floats_round_trip_exactly(v):
    assert float(format_float(v)) == v


@pytest.mark.parametrize("v", [float("nan"), float("inf"), -float("inf")])
def test_non_finite_floats_are_refused(v):
    with pytest.raises(ValueError):
        format_float(v)


def test_integers_carry_the_suffix():
    assert format_int(5) == "5i"
