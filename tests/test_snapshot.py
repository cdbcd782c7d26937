"""twin.snapshot: the retained state contract (round trip, tolerance of new keys, clear errors)."""

from __future__ import annotations

import json
import re
from pathlib import Path

import orjson
import pytest

from twin.snapshot import (
    AlarmCounts,
    ComplexSnapshot,
    FactorySnapshot,
    FactorySummary,
    HazardReading,
    MachineSnapshot,
    SnapshotError,
    ZoneSummary,
    complex_state_topic,
    decode_snapshot,
    encode_snapshot,
    factory_state_topic,
    parse_state_topic,
)

DOCS = Path(__file__).resolve().parents[1] / "docs" / "protocol.md"


def factory() -> FactorySnapshot:
    m = MachineSnapshot("alpha-smt", "alpha-l1", "busy", 1000, "state_sensor", 7.9, 1532.0, None, 1900, False, 1)
    return FactorySnapshot(
        factory="alpha-f1",
        tenant="alpha-elec",
        zone="A",
        ts_ms=2000,
        machines=(m,),
        state_counts={"busy": 1},
        power_kw=7.9,
        sensors=7,
        stale_count=1,
        stale_sensors=("alpha-aoi-vib",),
        hazards=(HazardReading("alpha-f1-smoke", "smoke", 0.04, 1990, False),),
        alarms=AlarmCounts(critical=1, unacknowledged=1),
        disasters=("fire",),
        kpi={"oee": 0.61},
    )


def test_topics() -> None:
    assert factory_state_topic("alpha-elec", "alpha-f1") == "twin/v1/alpha-elec/alpha-f1/state"
    assert complex_state_topic() == "twin/v1/park/_complex/state"
    assert parse_state_topic("twin/v1/park/_complex/state") == ("park", "_complex")
    assert parse_state_topic("twin/v1/alpha-elec/alpha-f1/telemetry") is None


def test_round_trip_of_both_kinds() -> None:
    f = factory()
    assert decode_snapshot(encode_snapshot(f)) == f
    c = ComplexSnapshot(
        site="tiny-park",
        ts_ms=2000,
        factories=(FactorySummary("alpha-f1", "alpha-elec", "A", {"busy": 1}, 7.9, 1, AlarmCounts(major=2), None),),
        zones=(ZoneSummary("A", AlarmCounts(critical=1), ("flood",), 4, 0),),
        state_counts={"busy": 1},
        power_kw=7.9,
        sensors=17,
        stale_count=1,
        alarms=AlarmCounts(critical=1),
        kpi={"oee": None},
    )
    assert decode_snapshot(encode_snapshot(c)) == c


def test_undefined_numbers_travel_as_null() -> None:
    f = factory()
    doc = orjson.loads(encode_snapshot(FactorySnapshot(**{**_fields(f), "kpi": {"oee": float("nan")}})))
    assert doc["kpi"] == {"oee": None}


def _fields(f: FactorySnapshot) -> dict:
    return {k: getattr(f, k) for k in f.__dataclass_fields__ if k != "kind"}


def test_readers_ignore_keys_added_later_in_v1() -> None:
    doc = orjson.loads(encode_snapshot(factory()))
    doc["new_top_key"] = 1
    doc["machines"][0]["new_machine_key"] = "x"
    assert decode_snapshot(orjson.dumps(doc)) == factory()


@pytest.mark.parametrize(
    "mutate,needle",
    [
        (lambda d: d.update(v=2), "version"),
        (lambda d: d.update(kind="zone"), "unknown snapshot kind"),
        (lambda d: d.pop("machines"), "missing key 'machines'"),
        (lambda d: d["machines"][0].update(state="exploded"), "unknown state"),
        (lambda d: d["machines"][0].update(stale="no"), "machines[0].stale"),
        (lambda d: d["alarms"].update(critical=-1), "non-negative"),
        (lambda d: d["alarms"].update(critical=True), "boolean"),
        (lambda d: d.update(state_counts={"busy": 1.5}), "state_counts.busy"),
    ],
)
def test_malformed_snapshots_say_what_is_wrong(mutate, needle: str) -> None:
    doc = orjson.loads(encode_snapshot(factory()))
    mutate(doc)
    with pytest.raises(SnapshotError, match=re.escape(needle)):
        decode_snapshot(orjson.dumps(doc))


def test_garbage_is_a_snapshot_error() -> None:
    for payload in (b"", b"[]", b"\xff", b"{" * 10, b"1" * 2_000_000):
        with pytest.raises(SnapshotError):
            decode_snapshot(payload)


def test_the_factory_example_in_the_protocol_docs_decodes() -> None:
    text = DOCS.read_text(encoding="utf-8")
    block = text.split("Factory snapshot (`twin/v1/alpha-elec/alpha-f1/state`, tiny config):")[1]
    example = block.split("```json")[1].split("```")[0]
    snap = decode_snapshot(json.dumps(json.loads(example)).encode())
    assert isinstance(snap, FactorySnapshot) and snap.machines[1].source == "power"
