"""twin.codec: round trips, and every rejection reason produced by a real hostile payload.

All decoding uses a fixed ``now_ms``: the codec is pure and so are these tests.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any, NamedTuple

import orjson
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from twin.codec import (
    Codec,
    Decoded,
    Limits,
    Reading,
    Reason,
    Rejection,
    encode_batch,
    encode_reading,
    topic_for,
)
from twin.config import load_complex
from twin.model import Complex
from twin.topics import telemetry_topic

NOW = 1_795_744_200_000  # 2026-11-27T01:50:00Z
NOW_ISO = "2026-11-27T01:50:00Z"
DAY_MS = 86_400_000
LIMITS = Limits()
MAX_FUTURE_MS = int(LIMITS.max_future_s * 1000)
MAX_PAST_MS = int(LIMITS.max_past_s * 1000)

SMT = "twin/v1/alpha-elec/alpha-smt/telemetry"  # alpha-smt-power [0, 20] kW, -state, -good
AOI = "twin/v1/alpha-elec/alpha-aoi/telemetry"
ZONE_A = "twin/v1/park/A/telemetry"
POWER = "alpha-smt-power"


@pytest.fixture(scope="module")
def tiny() -> Complex:
    return load_complex("tiny")


@pytest.fixture(scope="module")
def codec(tiny: Complex) -> Codec:
    return Codec(tiny)


def js(doc: Any) -> bytes:
    return orjson.dumps(doc)


def one(value: Any = 7.9, ts: Any = NOW, sensor: Any = POWER, **extra: Any) -> dict[str, Any]:
    return {"sensor": sensor, "ts": ts, "value": value, **extra}


def raw_reading(value: str = "7.9", ts: str = str(NOW), sensor: str = POWER) -> bytes:
    """A reading written by hand, for literals that no JSON encoder produces (NaN, 1e999)."""
    return f'{{"sensor": "{sensor}", "ts": {ts}, "value": {value}}}'.encode()


def summary(d: Decoded) -> list[tuple[Reason, str | None, int | None]]:
    return [(r.reason, r.sensor_id, r.index) for r in d.rejections]


# ---- round trips -----------------------------------------------------------------------------


def test_single_reading_round_trip(codec: Codec) -> None:
    r = Reading(POWER, NOW, 7.9)
    d = codec.decode(SMT, encode_reading(r), NOW)
    assert d.readings == [r] and d.rejections == []


def test_single_reading_round_trip_with_unit(codec: Codec) -> None:
    payload = encode_reading(Reading(POWER, NOW - 1, 0.0), unit="kW")
    assert orjson.loads(payload) == {"sensor": POWER, "ts": NOW - 1, "value": 0.0, "unit": "kW"}
    assert codec.decode(SMT, payload, NOW).readings == [Reading(POWER, NOW - 1, 0.0)]


def test_batch_round_trip_keeps_order_and_duplicates(codec: Codec) -> None:
    rs = [
        Reading(POWER, NOW - 2000, 1.5),
        Reading("alpha-smt-state", NOW - 2000, 2.0),
        Reading("alpha-smt-good", NOW - 1000, 123456.0),
        Reading(POWER, NOW - 1000, 20.0),
        Reading(POWER, NOW - 1000, 20.0),  # a resend: deduplication is the historian's job
    ]
    d = codec.decode(SMT, encode_batch(rs), NOW)
    assert d.readings == rs and d.rejections == []


def test_every_device_of_the_demo_round_trips() -> None:
    demo = load_complex("demo")
    c = Codec(demo)
    total = 0
    for (owner, device), ids in demo.devices.items():
        rs = []
        for i, sid in enumerate(ids):
            lo, hi = demo.sensors[sid].sensor.range
            rs.append(Reading(sid, NOW - i, lo + (hi - lo) / 3))
        topic = telemetry_topic(owner, device)
        assert all(topic_for(demo, sid) == topic for sid in ids)
        d = c.decode(topic, encode_batch(rs), NOW)
        assert d.readings == rs and d.rejections == [], topic
        total += len(rs)
    assert total == len(demo.sensors)


@settings(max_examples=200, deadline=None)
@given(
    value=st.floats(min_value=0, max_value=20, allow_nan=False),
    age_ms=st.integers(min_value=-MAX_FUTURE_MS, max_value=MAX_PAST_MS),
)
def test_round_trip_is_exact_for_any_valid_value_and_time(
    codec: Codec, value: float, age_ms: int
) -> None:
    r = Reading(POWER, NOW - age_ms, value)
    assert codec.decode(SMT, encode_reading(r), NOW).readings == [r]
    assert codec.decode(SMT, encode_batch([r, r]), NOW).readings == [r, r]


def test_topic_for_uses_owner_and_device(tiny: Complex) -> None:
    assert topic_for(tiny, POWER) == SMT
    assert topic_for(tiny, "A-seis-1") == ZONE_A
    assert topic_for(tiny, "alpha-f1-smoke") == "twin/v1/alpha-elec/alpha-f1/telemetry"
    assert topic_for(tiny, "hub-occupancy") == "twin/v1/park/hub/telemetry"
    assert topic_for(tiny, "truck-1-x") == "twin/v1/park/truck-1/telemetry"


# ---- accepted forms and exact boundaries -------------------------------------------------------


@pytest.mark.parametrize(
    ("ts", "expected_ms"),
    [
        (NOW, NOW),
        (float(NOW), NOW),
        (NOW_ISO, NOW),
        ("2026-11-27T01:50:00.250Z", NOW + 250),
        ("2026-11-27T01:50:00.999+00:00", NOW + 999),
        ("2026-11-27T10:50:00+09:00", NOW),  # KST
        ("2026-11-26T20:50:00-05:00", NOW),
        (NOW + MAX_FUTURE_MS, NOW + MAX_FUTURE_MS),  # the limits themselves are allowed
        (NOW - MAX_PAST_MS, NOW - MAX_PAST_MS),
    ],
)
def test_accepted_timestamps(codec: Codec, ts: Any, expected_ms: int) -> None:
    d = codec.decode(SMT, js(one(ts=ts)), NOW)
    assert d.rejections == []
    assert d.readings == [Reading(POWER, expected_ms, 7.9)]


def test_millisecond_strings_are_not_truncated(codec: Codec) -> None:
    # float arithmetic on epoch seconds must not turn .251 into .250
    base = datetime.fromtimestamp(NOW / 1000, UTC)
    for ms in range(0, 3000, 1):
        iso = (base + timedelta(milliseconds=ms)).isoformat(timespec="milliseconds")
        d = codec.decode(SMT, js(one(ts=iso.replace("+00:00", "Z"))), NOW)
        assert d.readings == [Reading(POWER, NOW + ms, 7.9)], iso


@pytest.mark.parametrize("value", [0, 0.0, 20, 20.0, 1e-300, -0.0])
def test_values_on_the_range_edges_are_accepted(codec: Codec, value: float) -> None:
    d = codec.decode(SMT, js(one(value=value)), NOW)
    assert d.readings == [Reading(POWER, NOW, float(value))]
    assert type(d.readings[0].value) is float


def test_payload_exactly_at_the_size_limit_is_accepted(codec: Codec) -> None:
    body = js(one())
    padded = body[:-1] + b" " * (LIMITS.max_payload_bytes - len(body)) + b"}"
    assert len(padded) == LIMITS.max_payload_bytes
    assert codec.decode(SMT, padded, NOW).readings == [Reading(POWER, NOW, 7.9)]


def test_batch_exactly_at_the_size_limit_is_accepted(tiny: Complex) -> None:
    c = Codec(tiny, Limits(max_batch=3))
    rs = [Reading(POWER, NOW - i, 1.0) for i in range(3)]
    assert c.decode(SMT, encode_batch(rs), NOW).readings == rs


def test_unicode_escapes_in_a_known_sensor_id_are_decoded(codec: Codec) -> None:
    payload = b'{"sensor": "alpha\\u002dsmt-power", "ts": %d, "value": 1}' % NOW
    assert codec.decode(SMT, payload, NOW).readings == [Reading(POWER, NOW, 1.0)]


# ---- hostile payloads: one table, every reason -------------------------------------------------

TEN_MB = b'{"sensor": "alpha-smt-power", "ts": 1, "value": 1, "pad": "%s"}' % (b"x" * 10 * 2**20)
DEEP = 100_000

R = Reason


class Case(NamedTuple):
    """A hostile payload and the single rejection it must produce."""

    name: str
    payload: bytes
    reason: Reason
    sensor_id: str | None = None
    index: int | None = None
    topic: str = SMT


HOSTILE: list[Case] = [
    # size
    Case("10 MB payload", TEN_MB, R.PAYLOAD_TOO_LARGE),
    Case("one byte over the limit", b" " * LIMITS.max_payload_bytes + b"{}", R.PAYLOAD_TOO_LARGE),
    Case("100k nested objects", b'{"a":' * DEEP + b"1" + b"}" * DEEP, R.PAYLOAD_TOO_LARGE),
    # not JSON at all
    Case("truncated JSON", b'{"sensor": "alpha-smt-power", "ts": 1', R.MALFORMED_JSON),
    Case("plain text", b"power=7.9", R.MALFORMED_JSON),
    Case("empty payload", b"", R.MALFORMED_JSON),
    Case("binary garbage", bytes(range(256)) * 4, R.MALFORMED_JSON),
    Case("invalid UTF-8", b'{"sensor": "\xff\xfe", "ts": 1, "value": 1}', R.MALFORMED_JSON),
    Case("UTF-16 JSON", js(one()).decode().encode("utf-16"), R.MALFORMED_JSON),
    Case("single quotes", b"{'sensor': 'alpha-smt-power', 'ts': 1, 'value': 1}", R.MALFORMED_JSON),
    Case("trailing garbage", js(one()) + b"}", R.MALFORMED_JSON),
    Case("two documents", js(one()) + js(one()), R.MALFORMED_JSON),
    Case("100k unclosed brackets", b"[" * DEEP, R.MALFORMED_JSON),
    Case("100k brackets around a NaN", b"[" * DEEP + b"NaN" + b"]" * DEEP, R.MALFORMED_JSON),
    # topic
    Case("topic without the telemetry suffix", js(one()),
         R.BAD_TOPIC, topic="twin/v1/alpha-elec/alpha-smt"),
    Case("other protocol version", js(one()),
         R.BAD_TOPIC, topic="twin/v2/alpha-elec/alpha-smt/telemetry"),
    Case("extra topic level", js(one()), R.BAD_TOPIC, topic=SMT + "/x"),
    Case("empty topic", js(one()), R.BAD_TOPIC, topic=""),
    Case("wildcard topic", js(one()), R.BAD_TOPIC, topic="twin/v1/+/+/telemetry"),
    Case("unknown device", js(one()), R.BAD_TOPIC, topic="twin/v1/alpha-elec/alpha-nope/telemetry"),
    Case("device under another tenant", js(one()),
         R.BAD_TOPIC, topic="twin/v1/beta-chem/alpha-smt/telemetry"),
    Case("tenant device under park", js(one()),
         R.BAD_TOPIC, topic="twin/v1/park/alpha-smt/telemetry"),
    Case("emoji device", js(one()), R.BAD_TOPIC, topic="twin/v1/alpha-elec/\U0001f525/telemetry"),
    # schema
    Case("top-level array", js([one()]), R.BAD_SCHEMA),
    Case("top-level string", b'"alpha-smt-power"', R.BAD_SCHEMA),
    Case("top-level null", b"null", R.BAD_SCHEMA),
    Case("100k nested arrays", b"[" * DEEP + b"]" * DEEP, R.BAD_SCHEMA),
    Case("empty object", b"{}", R.BAD_SCHEMA),
    Case("sensor is a number", js(one(sensor=5)), R.BAD_SCHEMA),
    Case("missing value", js({"sensor": POWER, "ts": NOW}), R.BAD_SCHEMA, POWER),
    Case("missing ts", js({"sensor": POWER, "value": 1}), R.BAD_SCHEMA, POWER),
    Case("unknown reading key", js(one(quality="good")), R.BAD_SCHEMA, POWER),
    Case("batch with an extra key", js({"readings": [one()], "device": "alpha-smt"}), R.BAD_SCHEMA),
    Case("readings is an object", js({"readings": one()}), R.BAD_SCHEMA),
    Case("reading is a list", js({"readings": [[POWER, NOW, 1]]}), R.BAD_SCHEMA, None, 0),
    # batch size: empty objects keep the payload small, so only the count is over
    Case("10001 readings", js({"readings": [{}] * (LIMITS.max_batch + 1)}), R.BATCH_TOO_LARGE),
    # sensor id
    Case("unknown sensor", js(one(sensor="alpha-smt-torque")),
         R.UNKNOWN_SENSOR, "alpha-smt-torque"),
    Case("Hangul and emoji sensor", js(one(sensor="센서-🔥")), R.UNKNOWN_SENSOR, "센서-🔥"),
    Case("sensor id with trailing space", js(one(sensor=POWER + " ")),
         R.UNKNOWN_SENSOR, POWER + " "),
    Case("sensor id in upper case", js(one(sensor=POWER.upper())), R.UNKNOWN_SENSOR, POWER.upper()),
    Case("100k-character sensor id", js(one(sensor="s" * 100_000)), R.UNKNOWN_SENSOR, "s" * 200),
    # topic/payload mismatch
    Case("sensor of another machine", js(one(sensor="alpha-aoi-power")),
         R.TOPIC_MISMATCH, "alpha-aoi-power"),
    Case("sensor of another tenant", js(one(sensor="beta-reactor-power")),
         R.TOPIC_MISMATCH, "beta-reactor-power"),
    Case("park sensor on a tenant topic", js(one(sensor="A-seis-1", value=0.1)),
         R.TOPIC_MISMATCH, "A-seis-1"),
    Case("tenant sensor on a park topic", js(one()), R.TOPIC_MISMATCH, POWER, topic=ZONE_A),
    # value type
    Case("boolean true", js(one(value=True)), R.WRONG_TYPE, POWER),
    Case("boolean false", js(one(value=False)), R.WRONG_TYPE, POWER),
    Case("number as string", js(one(value="7.9")), R.WRONG_TYPE, POWER),
    Case("null value", js(one(value=None)), R.WRONG_TYPE, POWER),
    Case("list value", js(one(value=[7.9])), R.WRONG_TYPE, POWER),
    Case("object value", js(one(value={"kW": 7.9})), R.WRONG_TYPE, POWER),
    Case("100k nested arrays as value", raw_reading("[" * DEEP + "]" * DEEP), R.WRONG_TYPE, POWER),
    # non-finite
    Case("NaN literal", raw_reading("NaN"), R.NOT_FINITE, POWER),
    Case("Infinity literal", raw_reading("Infinity"), R.NOT_FINITE, POWER),
    Case("-Infinity literal", raw_reading("-Infinity"), R.NOT_FINITE, POWER),
    Case("1e999", raw_reading("1e999"), R.NOT_FINITE, POWER),
    Case("-1e999", raw_reading("-1e999"), R.NOT_FINITE, POWER),
    # range
    Case("just above high", js(one(value=20.000001)), R.OUT_OF_RANGE, POWER),
    Case("just below low", js(one(value=-0.000001)), R.OUT_OF_RANGE, POWER),
    Case("1e308", js(one(value=1e308)), R.OUT_OF_RANGE, POWER),
    Case("2**64", raw_reading(str(2**64)), R.OUT_OF_RANGE, POWER),
    Case("state code 5", js(one(sensor="alpha-smt-state", value=5)),
         R.OUT_OF_RANGE, "alpha-smt-state"),
    # timestamp form
    Case("naive ISO timestamp", js(one(ts="2026-11-27T01:50:00")), R.BAD_TIMESTAMP, POWER),
    Case("date only", js(one(ts="2026-11-27")), R.BAD_TIMESTAMP, POWER),
    Case("words", js(one(ts="yesterday")), R.BAD_TIMESTAMP, POWER),
    Case("empty string", js(one(ts="")), R.BAD_TIMESTAMP, POWER),
    Case("impossible date", js(one(ts="2026-02-30T00:00:00Z")), R.BAD_TIMESTAMP, POWER),
    Case("overlong string", js(one(ts=NOW_ISO + " " * 40)), R.BAD_TIMESTAMP, POWER),
    Case("boolean ts", js(one(ts=True)), R.BAD_TIMESTAMP, POWER),
    Case("null ts", js(one(ts=None)), R.BAD_TIMESTAMP, POWER),
    Case("list ts", js(one(ts=[NOW])), R.BAD_TIMESTAMP, POWER),
    Case("NaN ts", raw_reading(ts="NaN"), R.BAD_TIMESTAMP, POWER),
    Case("infinite ts", raw_reading(ts="1e999"), R.BAD_TIMESTAMP, POWER),
    # timestamp window
    Case("1 ms beyond the future limit", js(one(ts=NOW + MAX_FUTURE_MS + 1)), R.TS_FUTURE, POWER),
    Case("epoch microseconds instead of ms", js(one(ts=NOW * 1000)), R.TS_FUTURE, POWER),
    Case("an hour ahead in KST", js(one(ts="2026-11-27T11:50:00+09:00")), R.TS_FUTURE, POWER),
    Case("1 ms beyond the past limit", js(one(ts=NOW - MAX_PAST_MS - 1)), R.TS_PAST, POWER),
    Case("epoch seconds instead of ms", js(one(ts=NOW // 1000)), R.TS_PAST, POWER),
    Case("zero ts", js(one(ts=0)), R.TS_PAST, POWER),
    Case("negative ts", js(one(ts=-1)), R.TS_PAST, POWER),
    Case("last year", js(one(ts="2025-11-27T01:50:00Z")), R.TS_PAST, POWER),
    # unit
    Case("W for a kW sensor", js(one(unit="W")), R.UNIT_MISMATCH, POWER),
    Case("unit in the wrong case", js(one(unit="kw")), R.UNIT_MISMATCH, POWER),
    Case("empty unit", js(one(unit="")), R.UNIT_MISMATCH, POWER),
    Case("null unit", js(one(unit=None)), R.UNIT_MISMATCH, POWER),
    Case("list unit", js(one(unit=["kW"])), R.UNIT_MISMATCH, POWER),
]


@pytest.mark.parametrize("case", HOSTILE, ids=[c.name for c in HOSTILE])
def test_hostile_payload_is_rejected_with_its_reason(codec: Codec, case: Case) -> None:
    d = codec.decode(case.topic, case.payload, NOW)
    assert d.readings == []
    assert summary(d) == [(case.reason, case.sensor_id, case.index)]
    rej = d.rejections[0]
    assert isinstance(rej, Rejection) and rej.detail
    assert len(rej.detail) <= 300, "details are logged and stored: they must stay short"


def test_every_reason_is_produced_by_a_hostile_payload() -> None:
    assert {c.reason for c in HOSTILE} == set(Reason)


def test_reason_values_are_stable_strings() -> None:
    # stored in dead letters and counted in metrics: renaming one is a breaking change
    assert sorted(r.value for r in Reason) == sorted([
        "payload_too_large", "malformed_json", "bad_topic", "bad_schema", "batch_too_large",
        "unknown_sensor", "topic_mismatch", "wrong_type", "not_finite", "out_of_range",
        "bad_timestamp", "ts_future", "ts_past", "unit_mismatch",
    ])


def test_details_explain_the_rejection(codec: Codec) -> None:
    def detail(payload: bytes, topic: str = SMT) -> str:
        return codec.decode(topic, payload, NOW).rejections[0].detail

    assert detail(js(one(value=25))) == "value 25.0 outside valid range [0.0, 20.0]"
    assert detail(js(one(unit="W"))) == "unit 'W', config says 'kW'"
    naive = "2026-11-27T01:50:00"
    assert detail(js(one(ts=naive))) == f"timestamp '{naive}' has no UTC offset"
    assert detail(js(one(ts=NOW + 3_600_000))) == f"timestamp {NOW + 3_600_000} is 3600 s ahead"
    old = NOW - 31 * DAY_MS
    assert detail(js(one(ts=old))) == f"timestamp {old} is 2678400 s old"
    assert detail(js(one(sensor="alpha-aoi-power"))) == (
        "sensor 'alpha-aoi-power' belongs to alpha-elec/alpha-aoi, not alpha-elec/alpha-smt"
    )
    assert detail(TEN_MB) == f"{len(TEN_MB)} bytes > limit {LIMITS.max_payload_bytes}"
    assert detail(js(one()), "twin/v1/x/y/telemetry") == "no device 'y' of owner 'x' in the config"


# ---- batches: good readings survive their bad neighbours ---------------------------------------


def test_mixed_batch_keeps_every_good_reading_and_rejects_each_bad_one(codec: Codec) -> None:
    items = [
        one(1.0, NOW - 5000),                                      # 0 good
        "NaN-PLACEHOLDER",                                         # 1 NaN literal
        one(2, NOW - 5000, "alpha-smt-state"),                     # 2 good
        one(21.0, NOW - 4000),                                     # 3 out of range
        "not a reading",                                           # 4 not an object
        one(1.0, NOW, "alpha-smt-torque"),                         # 5 unknown sensor
        one(1.0, NOW, "alpha-aoi-power"),                          # 6 other device
        one("1.0", NOW),                                           # 7 wrong type
        one(1.0, NOW + DAY_MS),                                    # 8 future
        one(42, NOW - 3000, "alpha-smt-good"),                     # 9 good
        one(1.0, NOW, unit="W"),                                   # 10 unit mismatch
        one(1.0, "2026-11-27T01:49:59"),                           # 11 naive timestamp
        one(1.0, NOW - 40 * DAY_MS),                               # 12 past
        one(3.25, "2026-11-27T10:49:58.500+09:00", unit="kW"),     # 13 good, RFC 3339 + unit
        {"sensor": POWER, "value": 1.0},                           # 14 missing ts
        one(True, NOW),                                            # 15 boolean
        one(0.5, NOW - 1),                                         # 16 good
    ]
    payload = js({"readings": items}).replace(b'"NaN-PLACEHOLDER"', raw_reading("NaN"))
    d = codec.decode(SMT, payload, NOW)
    assert d.readings == [
        Reading(POWER, NOW - 5000, 1.0),
        Reading("alpha-smt-state", NOW - 5000, 2.0),
        Reading("alpha-smt-good", NOW - 3000, 42.0),
        Reading(POWER, NOW - 1500, 3.25),
        Reading(POWER, NOW - 1, 0.5),
    ]
    assert summary(d) == [
        (Reason.NOT_FINITE, POWER, 1),
        (Reason.OUT_OF_RANGE, POWER, 3),
        (Reason.BAD_SCHEMA, None, 4),
        (Reason.UNKNOWN_SENSOR, "alpha-smt-torque", 5),
        (Reason.TOPIC_MISMATCH, "alpha-aoi-power", 6),
        (Reason.WRONG_TYPE, POWER, 7),
        (Reason.TS_FUTURE, POWER, 8),
        (Reason.UNIT_MISMATCH, POWER, 10),
        (Reason.BAD_TIMESTAMP, POWER, 11),
        (Reason.TS_PAST, POWER, 12),
        (Reason.BAD_SCHEMA, POWER, 14),
        (Reason.WRONG_TYPE, POWER, 15),
    ]


def test_batch_with_only_bad_readings_has_one_rejection_each(codec: Codec) -> None:
    d = codec.decode(SMT, js({"readings": [one(-1), one(99), one(None)]}), NOW)
    assert d.readings == []
    assert summary(d) == [
        (Reason.OUT_OF_RANGE, POWER, 0),
        (Reason.OUT_OF_RANGE, POWER, 1),
        (Reason.WRONG_TYPE, POWER, 2),
    ]


def test_batch_limits_are_configurable(tiny: Complex) -> None:
    c = Codec(tiny, Limits(max_batch=3, max_payload_bytes=1024, max_future_s=1, max_past_s=60))
    too_many = js({"readings": [one()] * 4})
    assert summary(c.decode(SMT, too_many, NOW)) == [(Reason.BATCH_TOO_LARGE, None, None)]
    assert summary(c.decode(SMT, b" " * 1025, NOW)) == [(Reason.PAYLOAD_TOO_LARGE, None, None)]
    assert summary(c.decode(SMT, js(one(ts=NOW + 1001)), NOW)) == [(Reason.TS_FUTURE, POWER, None)]
    assert summary(c.decode(SMT, js(one(ts=NOW - 60_001)), NOW)) == [(Reason.TS_PAST, POWER, None)]
    assert c.decode(SMT, js(one(ts=NOW + 1000)), NOW).readings == [Reading(POWER, NOW + 1000, 7.9)]


def test_the_clock_is_an_argument(codec: Codec) -> None:
    # the same payload is fresh for one 'now' and stale for another: no hidden wall clock
    payload = js(one(ts=NOW))
    assert codec.decode(SMT, payload, NOW).readings
    later = NOW + MAX_PAST_MS + 1
    assert summary(codec.decode(SMT, payload, later)) == [(Reason.TS_PAST, POWER, None)]
    earlier = NOW - MAX_FUTURE_MS - 1
    assert summary(codec.decode(SMT, payload, earlier)) == [(Reason.TS_FUTURE, POWER, None)]


# ---- isolation: a bad message never affects the next good one ----------------------------------


def test_bad_messages_never_affect_the_next_good_one(tiny: Complex) -> None:
    codec = Codec(tiny)  # one codec for the whole stream, as in the ingest
    good = js({"readings": [one(1.0, NOW, "alpha-aoi-power"), one(3.5, NOW, "alpha-aoi-vib")]})
    expected = [Reading("alpha-aoi-power", NOW, 1.0), Reading("alpha-aoi-vib", NOW, 3.5)]
    seen: set[Reason] = set()
    for case in HOSTILE:
        bad = codec.decode(case.topic, case.payload, NOW)
        seen.update(r.reason for r in bad.rejections)
        after = codec.decode(AOI, good, NOW)
        assert after.readings == expected and after.rejections == [], case.name
    assert seen == set(Reason)


def _assert_storable(rej: Rejection) -> None:
    """Rejection texts go into dead-letter tables and logs: they must be valid UTF-8."""
    rej.detail.encode("utf-8")
    if rej.sensor_id is not None:
        rej.sensor_id.encode("utf-8")


def test_rejection_texts_are_valid_utf8(codec: Codec) -> None:
    for case in HOSTILE:
        for rej in codec.decode(case.topic, case.payload, NOW).rejections:
            _assert_storable(rej)


def test_decoding_is_deterministic(codec: Codec) -> None:
    for case in HOSTILE:
        first = codec.decode(case.topic, case.payload, NOW)
        assert codec.decode(case.topic, case.payload, NOW) == first, case.name


# ---- known bugs (reported; remove the markers once twin/codec.py is fixed) ----------------------


def test_huge_integer_value_is_rejected_not_raised(codec: Codec) -> None:
    d = codec.decode(SMT, raw_reading("1" + "0" * 400), NOW)
    assert summary(d) == [(Reason.OUT_OF_RANGE, POWER, None)]


def test_huge_integer_timestamp_costs_only_its_own_reading(codec: Codec) -> None:
    payload = b'{"readings": [%s, %s]}' % (raw_reading(ts="1" + "0" * 400), js(one()))
    d = codec.decode(SMT, payload, NOW)
    assert d.readings == [Reading(POWER, NOW, 7.9)]
    assert summary(d) == [(Reason.TS_FUTURE, POWER, 0)]


def test_lone_surrogate_sensor_id_is_storable(codec: Codec) -> None:
    payload = b'{"readings": [{"sensor": "\\ud800", "ts": %d, "value": 1}, %s]}' % (NOW, js(one()))
    d = codec.decode(SMT, payload, NOW)
    for rej in d.rejections:
        _assert_storable(rej)
    assert d.readings == [Reading(POWER, NOW, 7.9)]
    assert [r.reason for r in d.rejections] in ([R.UNKNOWN_SENSOR], [R.MALFORMED_JSON])


# ---- the fast path for plain readings decides exactly like the full checks ---------------------

_values = st.one_of(
    st.floats(allow_nan=True, allow_infinity=True), st.integers(min_value=-(2**70), max_value=2**70),
    st.booleans(), st.none(), st.text(max_size=3), st.sampled_from([0, 20, 20.0000001, -0.0, 2**53, 2**53 + 1]),
)
_stamps = st.one_of(
    st.integers(min_value=NOW - MAX_PAST_MS - 5, max_value=NOW + MAX_FUTURE_MS + 5),
    st.sampled_from([NOW - MAX_PAST_MS, NOW + MAX_FUTURE_MS, NOW - MAX_PAST_MS - 1, NOW + MAX_FUTURE_MS + 1]),
    st.floats(allow_nan=True), st.booleans(), st.just(NOW_ISO), st.none(),
)
_sensors = st.one_of(st.sampled_from([POWER, "alpha-smt-state", "alpha-aoi-power", "nope"]), st.integers(), st.none())
_readings = st.fixed_dictionaries(
    {"sensor": _sensors, "ts": _stamps, "value": _values},
    optional={"unit": st.sampled_from(["kW", "W"]), "extra": st.just(1)},
)


class _FullChecksOnly(Codec):
    """The codec without its fast path: every reading goes through all checks."""

    _fast = False


@pytest.fixture(scope="module")
def full_codec(tiny: Complex) -> Codec:
    return _FullChecksOnly(tiny)


@settings(max_examples=400, derandomize=True, deadline=None)
@given(items=st.lists(_readings, min_size=1, max_size=5), batched=st.booleans())
def test_fast_path_matches_the_full_checks(
    codec: Codec, full_codec: Codec, items: list[dict[str, Any]], batched: bool
) -> None:
    payload = json.dumps({"readings": items} if batched else items[0]).encode()  # NaN/Infinity literals too
    got = codec.decode(SMT, payload, NOW)
    reference = full_codec.decode(SMT, payload, NOW)
    assert got.readings == reference.readings
    assert [(r.reason, r.sensor_id, r.index, r.detail) for r in got.rejections] == [
        (r.reason, r.sensor_id, r.index, r.detail) for r in reference.rejections
    ]


def test_fast_path_takes_plain_readings(codec: Codec, monkeypatch: pytest.MonkeyPatch) -> None:
    """The fast path is used (so the property above compares two different paths)."""
    calls: list[object] = []
    monkeypatch.setattr(codec, "_one", lambda *a: calls.append(a), raising=False)
    d = codec.decode(SMT, js({"readings": [one(7.9, NOW), one(8, NOW + 1)]}), NOW)
    assert d.readings == [Reading(POWER, NOW, 7.9), Reading(POWER, NOW + 1, 8.0)] and calls == []
    assert codec.decode(SMT, js(one(7.9, NOW)), NOW).readings == [Reading(POWER, NOW, 7.9)] and calls == []
