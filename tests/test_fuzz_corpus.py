"""Hostile inputs kept as files (tests/corpus/): each one fails cleanly, as documented.

Payloads go through the codec (never raises; a reason per rejection, good readings of
a batch kept); configs and scenarios through their loaders (ConfigError naming the
file, and the key when there is one); strings through the InfluxQL quoting.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from simulations.scenario import load_scenario_file
from twin.codec import Codec, Limits
from twin.config import MAX_CONFIG_BYTES, load_complex
from twin.errors import ConfigError
from twin.historian.influxql import any_of, quote_string

CORPUS = Path(__file__).parent / "corpus"
NOW = 1_780_000_000_000
TOPIC = "twin/v1/alpha-elec/alpha-aoi/telemetry"
CODEC = Codec(load_complex("tiny"))

# file -> (readings kept, reasons of the rejections, in order)
PAYLOADS = {
    "batch-with-garbage.json": (1, ["bad_schema"] * 4),
    "bom.json": (0, ["malformed_json"]),
    "bool-value.json": (0, ["wrong_type"]),
    "deep-nesting.json": (0, ["bad_schema"]),
    "deep-object.json": (0, ["bad_schema"]),
    "duplicate-keys.json": (0, ["topic_mismatch"]),  # last key wins, and it is not this device's
    "empty.json": (0, ["malformed_json"]),
    "huge-int-ts.json": (0, ["malformed_json"]),
    "huge-int-value.json": (0, ["malformed_json"]),
    "infinity-in-batch.json": (1, ["not_finite"]),
    "injection-sensor.json": (0, ["unknown_sensor"]),
    "lone-surrogate-sensor.json": (0, ["unknown_sensor"]),
    "many-extra-keys.json": (0, ["bad_schema"]),
    "nan-value.json": (0, ["not_finite"]),
    "not-utf8.json": (0, ["malformed_json"]),
    "nul-in-sensor.json": (0, ["unknown_sensor"]),
    "other-device-sensor.json": (0, ["topic_mismatch"]),
    "ts-long-string.json": (0, ["bad_timestamp"]),
    "ts-negative.json": (0, ["ts_past"]),
    "ts-no-offset.json": (0, ["bad_timestamp"]),
    "ts-year-9999.json": (0, ["ts_future"]),
}


def test_every_payload_in_the_corpus_has_an_expectation():
    assert {p.name for p in (CORPUS / "payloads").iterdir()} == set(PAYLOADS)


@pytest.mark.parametrize("name", sorted(PAYLOADS))
def test_hostile_payload(name):
    kept, reasons = PAYLOADS[name]
    out = CODEC.decode(TOPIC, (CORPUS / "payloads" / name).read_bytes(), NOW)
    assert len(out.readings) == kept
    assert [r.reason.value for r in out.rejections] == reasons
    for r in out.rejections:
        assert len(r.detail) <= 200
        r.detail.encode("utf-8")  # loggable even when the input was not


def test_oversized_payload_is_refused_before_parsing():
    limit = Limits().max_payload_bytes
    out = CODEC.decode(TOPIC, b'{"pad":"' + b"a" * limit + b'"}', NOW)
    assert [r.reason.value for r in out.rejections] == ["payload_too_large"]


CONFIGS = {
    "billion-laughs.yaml": "expands to more than",
    "control-chars.yaml": "invalid YAML",
    "deep-nesting.yaml": "nested too deeply",
    "duplicate-keys.yaml": "duplicate key 'version'",
    "empty.yaml": "the file is empty",
    "not-utf8.yaml": "not UTF-8",
    "python-object-tag.yaml": "could not determine a constructor",  # safe loader: no code runs
    "top-level-list.yaml": "top level must be a mapping",
}


def test_every_config_in_the_corpus_has_an_expectation():
    assert {p.name for p in (CORPUS / "configs").iterdir()} == set(CONFIGS)


@pytest.mark.timeout(30)
@pytest.mark.parametrize("name", sorted(CONFIGS))
def test_hostile_config(name):
    path = CORPUS / "configs" / name
    with pytest.raises(ConfigError) as info:
        load_complex(path)
    assert CONFIGS[name] in str(info.value)
    assert str(path) in str(info.value)
    assert len(str(info.value)) < 600


def test_oversized_config_is_refused_before_reading(tmp_path):
    path = tmp_path / "huge.yaml"
    with path.open("wb") as f:
        f.truncate(MAX_CONFIG_BYTES + 1)  # sparse: costs no disk
    with pytest.raises(ConfigError, match="more than the limit"):
        load_complex(path)


SCENARIOS = {
    "alias-bomb.yaml": "expands to more than",
    "config-escape.yaml": "top level must be a mapping",
    "huge-replications.yaml": "run.days",
    "unknown-target.yaml": "unknown target",
}


def test_every_scenario_in_the_corpus_has_an_expectation():
    assert {p.name for p in (CORPUS / "scenarios").iterdir()} == set(SCENARIOS)


@pytest.mark.timeout(30)
@pytest.mark.parametrize("name", sorted(SCENARIOS))
def test_hostile_scenario(name):
    with pytest.raises(ConfigError) as info:
        load_scenario_file(CORPUS / "scenarios" / name)
    text = str(info.value)
    assert SCENARIOS[name] in text and len(text) < 600
    assert "root:" not in text  # nothing of a file read through `config:` is echoed


INFLUXQL = json.loads((CORPUS / "influxql-strings.json").read_text())


@pytest.mark.parametrize("value", INFLUXQL, ids=range(len(INFLUXQL)))
def test_hostile_influxql_strings_stay_inside_one_literal(value):
    if re.search(r"[\x00-\x1f\x7f]", value):
        with pytest.raises(ValueError, match="control character"):
            quote_string(value)
        return
    clause = any_of("sensor_id", [value])
    m = re.fullmatch(r"\(\"sensor_id\" = '((?:[^'\\]|\\.)*)'\)", clause)
    assert m, clause
    assert re.sub(r"\\(.)", r"\1", m.group(1)) == value
