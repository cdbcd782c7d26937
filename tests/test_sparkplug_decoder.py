"""The pure Sparkplug B host logic: births, aliases, deaths, history, hostile payloads."""

from __future__ import annotations

import gzip
import zlib

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tests.sparkplug_payloads import birth, metric, payload
from twin.config import load_complex
from twin.sparkplug.decoder import (
    DecoderSettings,
    RebirthRequest,
    SparkplugDecoder,
    SpReason,
    encode_rebirth_request,
    metric_value,
)
from twin.sparkplug.mapping import parse_sparkplug_map
from twin.sparkplug.schema import DataType, Payload
from twin.sparkplug.topic import MessageType, SparkplugTopic, parse_topic

NOW = 1_795_744_200_000
G, N = "AlphaPlant", "gw"
NB, ND, NX = f"spBv1.0/{G}/NBIRTH/{N}", f"spBv1.0/{G}/NDATA/{N}", f"spBv1.0/{G}/NDEATH/{N}"
DB, DD, DX = (
    f"spBv1.0/{G}/DBIRTH/{N}/smt",
    f"spBv1.0/{G}/DDATA/{N}/smt",
    f"spBv1.0/{G}/DDEATH/{N}/smt",
)
MAP = {
    "groups": [
        {
            "group": G,
            "tenant": "alpha-elec",
            "nodes": [
                {
                    "node": N,
                    "factory": "alpha-f1",
                    "metrics": {"Hall/Smoke": "alpha-f1-smoke"},
                    "devices": [
                        {
                            "device": "smt",
                            "metrics": {
                                "Power": "alpha-smt-power",
                                "State": "alpha-smt-state",
                                "Good": "alpha-smt-good",
                            },
                        },
                        {"device": "aoi", "metrics": {"Vib": "alpha-aoi-vib"}},
                    ],
                    "ignore": ["Diag/*"],
                }
            ],
        }
    ],
}


@pytest.fixture(scope="module")
def mapping():
    return parse_sparkplug_map(MAP, load_complex("tiny"))


@pytest.fixture
def dec(mapping):
    return SparkplugDecoder(mapping)


def born(dec: SparkplugDecoder, bd_seq: int = 1) -> None:
    """NBIRTH with the node metric, DBIRTH of 'smt' with aliases 1..3."""
    out = dec.decode(NB, birth([metric("Hall/Smoke", 0.5, alias=10)], NOW, bd_seq), NOW)
    assert out.readings and not [r for r in out.rejections if r.reason != SpReason.DEVICE_ONLINE]
    out = dec.decode(
        DB,
        birth(
            [
                metric("Power", 7.5, alias=1),
                metric("State", 2, DataType.INT32, alias=2),
                metric("Good", 100, DataType.UINT64, alias=3),
            ],
            NOW,
            seq=1,
        ),
        NOW,
    )
    assert len(out.readings) == 3


def reasons(out) -> list[str]:
    return [r.reason.value for r in out.rejections]


def test_births_store_their_values_and_define_aliases(dec):
    out = dec.decode(NB, birth([metric("Hall/Smoke", 0.25, alias=10)], NOW, 1), NOW)
    assert [(r.sensor_id, r.ts_ms, r.value) for r in out.readings] == [
        ("alpha-f1-smoke", NOW, 0.25)
    ]
    assert out.state_changed
    out = dec.decode(
        DB,
        birth(
            [metric("Power", 7.5, alias=1), metric("State", 2, DataType.INT32, alias=2)], NOW + 1
        ),
        NOW,
    )
    assert {(r.sensor_id, r.value) for r in out.readings} == {
        ("alpha-smt-power", 7.5),
        ("alpha-smt-state", 2.0),
    }
    data = payload(
        [
            metric(None, 8.25, alias=1, typed=False),
            metric(None, 3, DataType.INT32, alias=2, typed=False),
        ],
        NOW + 1000,
        seq=2,
    )
    out = dec.decode(DD, data, NOW + 1000)
    assert [(r.sensor_id, r.ts_ms, r.value) for r in out.readings] == [
        ("alpha-smt-power", NOW + 1000, 8.25),
        ("alpha-smt-state", NOW + 1000, 3.0),
    ]
    assert out.rejections == [] and out.commands == [] and not out.state_changed
    out = dec.decode(ND, payload([metric(None, 1.5, alias=10, ts=NOW + 5)], NOW + 9), NOW + 9)
    assert [(r.sensor_id, r.ts_ms, r.value) for r in out.readings] == [
        ("alpha-f1-smoke", NOW + 5, 1.5)
    ]


def test_unknown_alias_is_dead_lettered_and_asks_for_a_rebirth_at_a_bounded_rate(dec):
    born(dec)
    good = metric(None, 9.0, alias=1, typed=False)
    out = dec.decode(DD, payload([good, metric(None, 1.0, alias=99)], NOW + 1), NOW + 1)
    assert [r.sensor_id for r in out.readings] == [
        "alpha-smt-power"
    ]  # the good one beside it is kept
    assert reasons(out) == ["unknown_alias"] and out.rejections[0].index == 1
    assert out.commands == [RebirthRequest(G, N)]
    again = dec.decode(DD, payload([metric(None, 1.0, alias=99)], NOW + 2), NOW + 2)
    assert reasons(again) == ["unknown_alias"] and again.commands == []  # no request storm
    later = NOW + DecoderSettings().rebirth_interval_ms + 2
    assert dec.decode(DD, payload([metric(None, 1.0, alias=99)], later), later).commands == [
        RebirthRequest(G, N)
    ]


def test_data_without_a_birth_asks_for_one(dec):
    out = dec.decode(DD, payload([metric(None, 1.0, alias=1)], NOW), NOW)
    assert (
        reasons(out) == ["no_birth"] and out.commands == [RebirthRequest(G, N)] and not out.readings
    )
    dec.decode(NB, birth([], NOW, 1), NOW + 10_000)
    out = dec.decode(
        DD, payload([metric("Power", 1.0)], NOW), NOW + 10_001
    )  # node born, device not
    assert reasons(out) == ["no_birth"] and "DBIRTH" in out.rejections[0].detail


def test_ndeath_marks_every_sensor_of_the_node_stale_until_the_next_birth(dec):
    born(dec, bd_seq=4)
    out = dec.decode(NX, birth([], NOW + 50, bd_seq=4), NOW + 60)
    stale = {r.sensor_id for r in out.rejections if r.reason == SpReason.DEVICE_OFFLINE}
    assert stale == {
        "alpha-f1-smoke",
        "alpha-smt-power",
        "alpha-smt-state",
        "alpha-smt-good",
        "alpha-aoi-vib",
    }
    assert {(s.device, s.online, s.ts_ms, s.cause) for s in out.status} == {
        ("alpha-f1", False, NOW + 50, "NDEATH"),
        ("alpha-smt", False, NOW + 50, "NDEATH"),
        ("alpha-aoi", False, NOW + 50, "NDEATH"),
    }
    assert dec.stale_sensors == stale and out.state_changed and not dec.node_online(G, N)
    late = dec.decode(DD, payload([metric(None, 1.0, alias=1)], NOW + 70), NOW + 70)
    assert reasons(late) == ["no_birth"]  # aliases of a dead session are never trusted
    out = dec.decode(NB, birth([metric("Hall/Smoke", 0.5)], NOW + 80, bd_seq=5), NOW + 80)
    assert [r.sensor_id for r in out.rejections if r.reason == SpReason.DEVICE_ONLINE] == [
        "alpha-f1-smoke"
    ]
    assert [(s.device, s.online) for s in out.status] == [("alpha-f1", True)]
    out = dec.decode(DB, birth([metric("Power", 2.0, alias=1)], NOW + 81), NOW + 81)
    assert {r.sensor_id for r in out.rejections if r.reason == SpReason.DEVICE_ONLINE} == {
        "alpha-smt-power",
        "alpha-smt-state",
        "alpha-smt-good",
    }
    assert dec.stale_sensors == {"alpha-aoi-vib"}  # that device has not been born again


@pytest.mark.parametrize(("born_with", "death"), [(7, 6), (0, 255), (130, 3)])
def test_ndeath_of_an_older_session_is_ignored(dec, born_with, death):
    born(dec, bd_seq=born_with)
    out = dec.decode(NX, birth([], NOW, bd_seq=death), NOW)
    assert out.rejections == [] and out.status == [] and dec.node_online(G, N)
    assert dec.decode(DD, payload([metric(None, 1.0, alias=1)], NOW), NOW).readings


@pytest.mark.parametrize(("born_with", "death"), [(7, 7), (7, 8), (255, 0)])
def test_ndeath_of_this_or_a_newer_session_ends_the_node(dec, born_with, death):
    born(dec, bd_seq=born_with)
    out = dec.decode(NX, birth([], NOW, bd_seq=death), NOW)
    assert len(out.status) == 3 and not dec.node_online(G, N)


def test_ddeath_marks_only_that_device(dec):
    born(dec)
    out = dec.decode(DX, payload([], NOW + 1), NOW + 1)
    assert {r.sensor_id for r in out.rejections} == {
        "alpha-smt-power",
        "alpha-smt-state",
        "alpha-smt-good",
    }
    assert [s.device for s in out.status] == ["alpha-smt"]
    assert dec.decode(ND, payload([metric("Hall/Smoke", 1.0)], NOW + 2), NOW + 2).readings


def test_historical_metrics_are_history_with_their_own_timestamps(dec):
    born(dec)
    old = NOW - 3_600_000
    out = dec.decode(
        DD,
        payload(
            [
                metric(None, 4.0, alias=1, ts=old, historical=True),
                metric(None, 5.0, alias=1, ts=old + 1000, historical=True),
                metric(None, 6.0, alias=1, typed=False),
            ],
            NOW,
        ),
        NOW,
    )
    assert [(r.ts_ms, r.value) for r in out.history] == [(old, 4.0), (old + 1000, 5.0)]
    assert [(r.ts_ms, r.value) for r in out.live] == [(NOW, 6.0)]
    assert len(out.readings) == 3
    ancient = dec.decode(
        DD, payload([metric(None, 4.0, alias=1, ts=NOW - 40 * 86_400_000, historical=True)]), NOW
    )
    assert reasons(ancient) == ["ts_past"]


def test_unmapped_metrics_are_dead_letters_unless_ignored(dec):
    born(dec)
    out = dec.decode(
        DD,
        payload(
            [
                metric("Torque", 1.0),
                metric("Diag/Temp", 40.0),
                metric("Node Control/Rebirth", False, DataType.BOOLEAN),
                metric("Power", 3.0),
            ],
            NOW,
        ),
        NOW,
    )
    assert reasons(out) == ["unmapped_metric"] and "Torque" in out.rejections[0].detail
    assert [r.sensor_id for r in out.readings] == ["alpha-smt-power"]
    assert reasons(dec.decode("spBv1.0/Other/NBIRTH/x", birth([], NOW, 1), NOW)) == [
        "unmapped_node"
    ]


def test_values_are_checked_like_the_json_contract(dec):
    born(dec)
    out = dec.decode(
        DD,
        payload(
            [
                metric("Power", 25.0),
                metric("Power", float("nan")),
                metric("Power", 1.0, ts=NOW + 3_600_000),
                metric("Power", "7", DataType.STRING),
                metric("Power", null=True),
                metric("State", 1, DataType.INT32),
            ],
            NOW,
        ),
        NOW,
    )
    assert reasons(out) == ["out_of_range", "not_finite", "ts_future", "unsupported_type"]
    assert [r.index for r in out.rejections] == [0, 1, 2, 3]
    assert [(r.sensor_id, r.value) for r in out.readings] == [("alpha-smt-state", 1.0)]


@pytest.mark.parametrize(
    ("datatype", "field_", "raw", "expected"),
    [
        (DataType.INT8, "int_value", 0xFFFFFFFF, -1.0),  # widened to 32 bits
        (DataType.INT8, "int_value", 0xFF, -1.0),  # as an 8-bit pattern
        (DataType.INT16, "int_value", 0xFFFF8000, -32768.0),
        (DataType.INT16, "int_value", 0x8000, -32768.0),
        (DataType.INT32, "int_value", 0x80000000, -2147483648.0),
        (DataType.INT32, "int_value", 12345, 12345.0),
        (DataType.INT64, "long_value", (1 << 64) - 5, -5.0),
        (DataType.UINT16, "int_value", 0xFFFF, 65535.0),
        (DataType.UINT32, "long_value", 4_000_000_000, 4e9),  # Tahu JS puts UInt32 in long_value
        (DataType.UINT64, "long_value", 1 << 63, float(1 << 63)),
        (DataType.FLOAT, "float_value", 1.5, 1.5),
        (DataType.DOUBLE, "double_value", -0.1, -0.1),
        (DataType.BOOLEAN, "boolean_value", True, 1.0),
        (DataType.UNKNOWN, "int_value", 7, 7.0),
    ],
)
def test_metric_values_decode_exactly(datatype, field_, raw, expected):
    m = Payload().metrics.add()
    setattr(m, field_, raw)
    assert metric_value(m, datatype) == expected


def test_non_numeric_types_are_refused():
    m = Payload().metrics.add()
    m.long_value = NOW
    assert metric_value(m, DataType.DATETIME)[0] == SpReason.UNSUPPORTED_TYPE  # type: ignore[index]
    m2 = Payload().metrics.add()
    assert metric_value(m2, DataType.DOUBLE)[0] == SpReason.BAD_METRIC  # type: ignore[index]


def test_broken_payloads_are_dead_letters_and_the_next_message_still_decodes(dec):
    born(dec)
    for junk in (b"\xff\xff\xff\xff", b"\x0a\x05abc", payload([metric("Power", 1.0)])[:-3]):
        assert reasons(dec.decode(DD, junk, NOW)) == ["malformed_protobuf"]
    assert dec.decode(DD, payload([metric("Power", 1.0)], NOW), NOW).readings
    big = SparkplugDecoder(dec.mapping, DecoderSettings(max_payload_bytes=10))
    assert reasons(big.decode(DD, b"x" * 11, NOW)) == ["payload_too_large"]


def compressed(inner: bytes, algorithm: str | None) -> bytes:
    p = Payload(
        uuid="SPBV1.0_COMPRESSED",
        body=gzip.compress(inner) if algorithm == "GZIP" else zlib.compress(inner),
    )
    if algorithm:
        m = p.metrics.add()
        m.name, m.datatype, m.string_value = "algorithm", DataType.STRING, algorithm
    return bytes(p.SerializeToString())


@pytest.mark.parametrize("algorithm", [None, "DEFLATE", "GZIP"])
def test_compressed_payloads(dec, algorithm):
    born(dec)
    out = dec.decode(DD, compressed(payload([metric("Power", 4.5)], NOW), algorithm), NOW)
    assert [(r.sensor_id, r.value) for r in out.readings] == [("alpha-smt-power", 4.5)]


def test_compression_bombs_are_refused(mapping):
    small = SparkplugDecoder(mapping, DecoderSettings(max_inflated_bytes=1000))
    bomb = compressed(payload([metric("Power" * 1000, 1.0)], NOW), "DEFLATE")
    assert reasons(small.decode(DD, bomb, NOW)) == ["payload_too_large"]


@pytest.mark.parametrize(
    ("topic", "expected"),
    [
        ("spBv1.0/G/NBIRTH/n", SparkplugTopic("G", MessageType.NBIRTH, "n")),
        ("spBv1.0/G/DDATA/n/d", SparkplugTopic("G", MessageType.DDATA, "n", "d")),
        ("spBv1.0/STATE/twin", "state"),
        ("spBv1.0/G/XDATA/n", "unknown message type 'XDATA'"),
        ("spBv1.0/G/DDATA/n", "DDATA needs a device level"),
        ("spBv1.0/G/NDATA/n/d", "NDATA has no device level"),
        ("spBv1.0//NDATA/n", "empty group, edge node or device id"),
        ("spAv1.0/G/NDATA/n", "not in the spBv1.0 namespace"),
        ("spBv1.0/G/NDATA/n/d/e", "expected spBv1.0/{group}/{type}/{edge_node}[/{device}]"),
    ],
)
def test_topics(topic, expected):
    assert parse_topic(topic) == expected


def test_state_and_commands_are_neither_data_nor_errors(dec):
    for topic in ("spBv1.0/STATE/twin", f"spBv1.0/{G}/NCMD/{N}", f"spBv1.0/{G}/DCMD/{N}/smt"):
        out = dec.decode(topic, b'{"online": true}', NOW)
        assert not out.readings and not out.rejections
    assert reasons(dec.decode("spBv1.0/G/BOGUS/n", b"", NOW)) == ["bad_topic"]


def test_rebirth_request_payload():
    p = Payload.FromString(encode_rebirth_request(NOW))
    assert [(m.name, m.datatype, m.boolean_value) for m in p.metrics] == [
        ("Node Control/Rebirth", 11, True)
    ]


def test_snapshot_restores_births_and_stale_sensors(dec, mapping):
    born(dec)
    dec.decode("spBv1.0/AlphaPlant/DDEATH/gw/aoi", payload([], NOW), NOW)
    fresh = SparkplugDecoder(mapping)
    fresh.restore(dec.snapshot())
    out = fresh.decode(DD, payload([metric(None, 2.0, alias=1)], NOW), NOW)
    assert [(r.sensor_id, r.value) for r in out.readings] == [
        ("alpha-smt-power", 2.0)
    ] and not out.commands
    assert fresh.stale_sensors == {"alpha-aoi-vib"}
    for junk in (None, {"v": 2}, {"v": 1, "nodes": [{"group": "g"}], "stale": []}):
        with pytest.raises(ValueError):
            fresh.restore(junk)


@settings(max_examples=200, deadline=None)
@given(st.binary(max_size=300), st.sampled_from([NB, DB, DD, NX, DX, ND]))
def test_arbitrary_bytes_never_raise(mapping, data, topic):
    out = SparkplugDecoder(mapping).decode(topic, data, NOW)
    assert all(r.reason for r in out.rejections)
