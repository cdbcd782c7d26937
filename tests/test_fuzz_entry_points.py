"""Property-based fuzzing of every entry point that takes outside input.

Payload codec (MQTT), config loader (YAML), scenario loader (YAML) and the historian's
InfluxQL and line-protocol builders: for any input they either succeed or fail with
their documented error type and a readable message; they never crash with another
exception and never hang. Fixed seed (``derandomize=True``) and bounded examples, so
CI runs the same cases every time; hostile inputs found worth keeping live in
tests/corpus/ (test_fuzz_corpus.py).
"""

from __future__ import annotations

import copy
import re
from typing import Any

import orjson
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from simulations.scenario import parse_scenario_file
from twin.codec import Codec, Decoded, Reason
from twin.config import load_complex, load_yaml, parse_complex, tiny_config_path
from twin.errors import ConfigError
from twin.historian.influxql import any_of, quote_ident, quote_string
from twin.historian.lineprotocol import decode_text, escape_tag, quote_field_string
from twin.model import ID_RE

FUZZ = settings(
    derandomize=True,
    max_examples=150,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
NOW = 1_780_000_000_000
TINY = load_complex("tiny")
CODEC = Codec(TINY)
TINY_DOC, _ = load_yaml(tiny_config_path())

# Text that hurts: topic wildcards and separators, quotes of every kind, control
# characters, unicode edge cases, InfluxQL/SQL/YAML syntax.
HOSTILE_TEXT = st.one_of(
    st.text(max_size=80),
    st.sampled_from(
        [
            "",
            " ",
            "#",
            "+",
            "a/b",
            "../../etc/passwd",
            "$SYS/x",
            "twin/v1/#",
            "\x00",
            "a\nb",
            "\r\n",
            "'",
            '"',
            "\\",
            "\\'",
            '\\"',
            "' OR 1=1 --",
            '" ; DROP MEASUREMENT readings',
            "a,b=c d",
            "\u202e",
            "\ud800",
            "\ufeff",
            "é" * 100,
            "x" * 10_000,
            "*",
            "${jndi:ldap://x}",
            "%00",
            "%",
            "!!python/object:os.system",
            "&a",
            "*a",
            "{{7*7}}",
            "null",
            "~",
        ]
    ),
)
SCALARS = st.one_of(
    HOSTILE_TEXT,
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**70), max_value=2**70),
    st.floats(allow_nan=True, allow_infinity=True),
)
JSONISH = st.recursive(
    SCALARS,
    lambda inner: st.lists(inner, max_size=5) | st.dictionaries(HOSTILE_TEXT, inner, max_size=5),
    max_leaves=25,
)


# ---- payload codec ----------------------------------------------------------------------

TOPICS = st.one_of(
    st.sampled_from([f"twin/v1/{o}/{d}/telemetry" for o, d in sorted(TINY.devices)]),
    HOSTILE_TEXT,
)


def _check_decoded(out: Decoded) -> None:
    assert isinstance(out, Decoded)
    for r in out.rejections:
        assert isinstance(r.reason, Reason) and r.detail and len(r.detail) < 400
        r.detail.encode("utf-8")  # storable and loggable
    for reading in out.readings:
        assert reading.sensor_id in TINY.sensors


@pytest.mark.timeout(120)
@FUZZ
@given(topic=TOPICS, payload=st.binary(max_size=2048))
def test_codec_survives_arbitrary_bytes(topic, payload):
    _check_decoded(CODEC.decode(topic, payload, NOW))


def _dumps(doc: Any) -> bytes:
    try:
        return orjson.dumps(doc)
    except (TypeError, orjson.JSONEncodeError):  # NaN keys, huge ints, surrogates: use the stdlib
        import json

        return json.dumps(doc, allow_nan=True).encode("utf-8", "surrogatepass")


READING = st.fixed_dictionaries(
    {"sensor": st.one_of(st.sampled_from(sorted(TINY.sensors)), JSONISH)},
    optional={
        "ts": st.one_of(st.integers(min_value=-(2**70), max_value=2**70), JSONISH),
        "value": JSONISH,
        "unit": JSONISH,
    },
)


@pytest.mark.timeout(120)
@FUZZ
@given(
    topic=TOPICS,
    doc=st.one_of(
        JSONISH, READING, st.fixed_dictionaries({"readings": st.lists(st.one_of(READING, JSONISH), max_size=8)})
    ),
)
def test_codec_survives_hostile_json(topic, doc):
    _check_decoded(CODEC.decode(topic, _dumps(doc), NOW))


# ---- config loader ----------------------------------------------------------------------


def _paths(node: Any, prefix: tuple = ()) -> list[tuple]:
    out = [prefix]
    if isinstance(node, dict):
        for k, v in node.items():
            out += _paths(v, (*prefix, k))
    elif isinstance(node, list):
        for i, v in enumerate(node):
            out += _paths(v, (*prefix, i))
    return out


def _replace(doc: Any, path: tuple, value: Any) -> Any:
    if not path:
        return value
    doc = copy.deepcopy(doc)
    node = doc
    for part in path[:-1]:
        node = node[part]
    node[path[-1]] = value
    return doc


TINY_PATHS = _paths(TINY_DOC)


def _check_config_error(exc: ConfigError) -> None:
    text = str(exc)
    assert text and len(text) < 2000, text
    text.encode("utf-8")


@pytest.mark.timeout(120)
@FUZZ
@given(path=st.sampled_from(TINY_PATHS), value=JSONISH)
def test_config_survives_any_value_anywhere(path, value):
    doc = _replace(TINY_DOC, path, value)
    try:
        c = parse_complex(doc, "fuzz.yaml")
    except ConfigError as exc:
        _check_config_error(exc)
        return
    # whatever got through keeps the identifier boundary: ids are safe in topics and queries
    for owner, device in c.devices:
        assert ID_RE.match(owner) and ID_RE.match(device)
    for sid in c.sensors:
        assert ID_RE.match(sid)


@pytest.mark.timeout(120)
@FUZZ
@given(text=st.one_of(st.text(max_size=400), st.binary(max_size=400).map(lambda b: b.decode("latin-1"))))
def test_config_file_survives_arbitrary_text(tmp_path_factory, text):
    path = tmp_path_factory.mktemp("cfg") / "complex.yaml"
    path.write_bytes(text.encode("utf-8", "surrogatepass"))
    with pytest.raises(ConfigError) as info:
        load_complex(path)
    _check_config_error(info.value)


@pytest.mark.timeout(120)
@FUZZ
@given(ident=HOSTILE_TEXT)
def test_identifiers_outside_the_character_set_are_refused_with_the_key_path(ident):
    doc = _replace(TINY_DOC, ("tenants", 0, "id"), ident)
    if ID_RE.match(ident):
        return
    with pytest.raises(ConfigError) as info:
        parse_complex(doc, "fuzz.yaml")
    assert info.value.path.startswith("tenants[0].id") or "tenants" in str(info.value)


# ---- scenario loader --------------------------------------------------------------------

SCENARIO = {
    "version": 1,
    "name": "fuzz",
    "config": "tiny",
    "run": {"days": 1, "replications": 2, "seed": 1},
    "settings": {"defaults": {"utilisation": 0.8}, "factories": {"alpha-f1": {"utilisation": 0.9}}},
    "scenarios": [
        {"name": "more", "changes": [{"target": "factory.alpha-f1.utilisation", "scale": 1.25}]},
        {
            "name": "extra",
            "changes": [{"add_machine": {"line": "alpha-l1", "parallel_to": "alpha-aoi", "id": "aoi-2"}}],
        },
    ],
}
SCENARIO_PATHS = [p for p in _paths(SCENARIO) if p[:1] != ("config",)]  # the config name picks a file


@pytest.mark.timeout(120)
@settings(FUZZ, max_examples=80)
@given(path=st.sampled_from(SCENARIO_PATHS), value=JSONISH)
def test_scenario_survives_any_value_anywhere(path, value):
    doc = _replace(SCENARIO, path, value)
    try:
        parse_scenario_file(doc, "fuzz-scenario.yaml")
    except ConfigError as exc:
        _check_config_error(exc)


@pytest.mark.timeout(60)
@FUZZ
@given(name=HOSTILE_TEXT)
def test_scenario_config_name_is_never_a_path_escape(name):
    doc = _replace(SCENARIO, ("config",), name)
    try:
        parse_scenario_file(doc, "fuzz-scenario.yaml")
    except ConfigError as exc:
        _check_config_error(exc)


# ---- historian query builders -----------------------------------------------------------

_STRING_LITERAL = re.compile(r"'((?:[^'\\]|\\.)*)'")
_IDENT_LITERAL = re.compile(r'"((?:[^"\\]|\\.)*)"')


def _unescape(body: str) -> str:
    return re.sub(r"\\(.)", r"\1", body)


@FUZZ
@given(value=HOSTILE_TEXT)
def test_quote_string_is_one_literal_that_reads_back(value):
    try:
        q = quote_string(value)
    except ValueError:
        assert re.search(r"[\x00-\x1f\x7f]", value)
        return
    m = _STRING_LITERAL.fullmatch(q)
    assert m, q  # exactly one literal: nothing escapes into the statement
    assert _unescape(m.group(1)) == value


@FUZZ
@given(value=HOSTILE_TEXT)
def test_quote_ident_is_one_identifier_that_reads_back(value):
    try:
        q = quote_ident(value)
    except ValueError:
        assert re.search(r"[\x00-\x1f\x7f]", value)
        return
    m = _IDENT_LITERAL.fullmatch(q)
    assert m, q
    assert _unescape(m.group(1)) == value


@FUZZ
@given(values=st.lists(HOSTILE_TEXT, min_size=1, max_size=5))
def test_any_of_keeps_every_value_inside_its_literal(values):
    safe = [v for v in values if not re.search(r"[\x00-\x1f\x7f]", v)]
    if not safe:
        return
    clause = any_of("sensor_id", safe)
    found = [_unescape(m.group(1)) for m in _STRING_LITERAL.finditer(clause)]
    assert found == safe
    rest = _STRING_LITERAL.sub("", clause)
    assert re.fullmatch(r'\((?:"sensor_id" = (?: OR )?)+\)', rest), rest


@FUZZ
@given(value=HOSTILE_TEXT.filter(bool))
def test_line_protocol_tag_never_breaks_a_line(value):
    tag = escape_tag(value)
    assert not re.search(r"[\x00-\x1f\x7f]", tag)  # no newline can start a forged point
    assert not re.search(r"(?<!\\)[ ,=]", tag)  # separators are escaped
    assert not tag.endswith("\\") or tag.endswith("\\\\")
    assert decode_text(tag.replace("\\,", ",").replace("\\=", "=").replace("\\ ", " ")) == value


@FUZZ
@given(value=HOSTILE_TEXT)
def test_line_protocol_string_field_is_one_quoted_value(value):
    field = quote_field_string(value)
    assert field.startswith('"') and field.endswith('"')
    body = field[1:-1]
    assert not re.search(r'(?<!\\)"', body.replace("\\\\", ""))
    assert "\n" not in field
