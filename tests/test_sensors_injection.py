"""Injection commands: the contract; hostile input gets a clear error answer, never a crash."""

from __future__ import annotations

import orjson
import pytest

from sensors.inject_listener import InjectListener
from sensors.injection import (
    DISASTER_KINDS,
    MAX_COMMAND_BYTES,
    CommandReason,
    InjectCommand,
    InjectCommandError,
    InjectResult,
    decode_command,
    decode_event,
    encode_disaster_event,
)
from simulations.settings import DISASTER_KINDS as MODEL_KINDS
from twin.config import load_complex
from twin.urls import parse_broker_url


@pytest.fixture(scope="module")
def tiny():
    return load_complex("tiny")


def test_kinds_are_the_models():
    assert set(DISASTER_KINDS) == set(MODEL_KINDS)


def test_round_trip_and_aliases(tiny):
    cmd = InjectCommand("abc123", "gas", zones=("B",), duration_h=1.5, by="alice")
    assert cmd.kind == "gas_leak"
    back = decode_command(cmd.encode(), tiny)
    assert back == cmd
    assert back.to_spec() == {
        "kind": "gas_leak",
        "name": "gas_leak@B",
        "zones": ["B"],
        "duration_h": 1.5,
    }
    assert decode_command(b'{"id": "x1", "kind": "earthquake"}', tiny).to_spec() == {
        "kind": "earthquake",
        "name": "earthquake@complex",
    }


HOSTILE = [
    (b"", CommandReason.MALFORMED_JSON),
    (b"\xff\xfe\x00", CommandReason.MALFORMED_JSON),
    (b"{", CommandReason.MALFORMED_JSON),
    (b"[" * 100_000, CommandReason.TOO_LARGE),
    (b"[" * 4000 + b"]" * 40, CommandReason.MALFORMED_JSON),
    (b"[1, 2]", CommandReason.BAD_SCHEMA),
    (b'"fire"', CommandReason.BAD_SCHEMA),
    (b"null", CommandReason.BAD_SCHEMA),
    (b'{"kind": "fire"}', CommandReason.BAD_SCHEMA),
    (b'{"id": "a", "kind": "fire", "extra": 1}', CommandReason.BAD_SCHEMA),
    (b'{"id": "a", "kind": "fire", "v": 2}', CommandReason.BAD_SCHEMA),
    (b'{"id": "a", "kind": "tsunami"}', CommandReason.UNKNOWN_KIND),
    (b'{"id": "a", "kind": 7}', CommandReason.UNKNOWN_KIND),
    (b'{"id": "a", "kind": ["fire"]}', CommandReason.UNKNOWN_KIND),
    (b'{"id": "a/b", "kind": "fire"}', CommandReason.BAD_ID),
    (b'{"id": 12, "kind": "fire"}', CommandReason.BAD_ID),
    (b'{"id": "' + b"x" * 65 + b'", "kind": "fire"}', CommandReason.BAD_ID),
    (b'{"id": "a", "kind": "fire", "zones": "A"}', CommandReason.BAD_SCHEMA),
    (b'{"id": "a", "kind": "fire", "zones": [{"$ne": 1}]}', CommandReason.BAD_TARGET),
    (b'{"id": "a", "kind": "fire", "zones": ["A/#"]}', CommandReason.BAD_TARGET),
    (b'{"id": "a", "kind": "fire", "zones": ["Q"]}', CommandReason.UNKNOWN_ZONE),
    (b'{"id": "a", "kind": "fire", "factories": ["nope"]}', CommandReason.UNKNOWN_FACTORY),
    (
        b'{"id": "a", "kind": "fire", "zones": ["A"], "factories": ["alpha-f1"]}',
        CommandReason.BAD_TARGET,
    ),
    (b'{"id": "a", "kind": "fire", "duration_h": -1}', CommandReason.BAD_DURATION),
    (b'{"id": "a", "kind": "fire", "duration_h": 0}', CommandReason.BAD_DURATION),
    (b'{"id": "a", "kind": "fire", "duration_h": 1e999}', CommandReason.BAD_DURATION),
    (b'{"id": "a", "kind": "fire", "duration_h": NaN}', CommandReason.BAD_DURATION),
    (b'{"id": "a", "kind": "fire", "duration_h": 100000}', CommandReason.BAD_DURATION),
    (b'{"id": "a", "kind": "fire", "duration_h": "2h"}', CommandReason.BAD_DURATION),
    (b'{"id": "a", "kind": "fire", "duration_h": true}', CommandReason.BAD_DURATION),
    (b'{"id": "a", "kind": "fire", "by": "' + b"b" * 100 + b'"}', CommandReason.BAD_SCHEMA),
    (orjson.dumps({"id": "a", "kind": "fire", "zones": ["A"] * 101}), CommandReason.BAD_TARGET),
    (
        '{"id": "a", "kind": "fire\ud800"}'.encode("utf-8", "surrogatepass"),
        CommandReason.MALFORMED_JSON,
    ),
]


@pytest.mark.parametrize(("payload", "reason"), HOSTILE)
def test_hostile_commands_are_refused_with_a_reason(tiny, payload, reason):
    with pytest.raises(InjectCommandError) as err:
        decode_command(payload, tiny)
    assert err.value.reason is reason
    assert err.value.detail and len(err.value.detail) < 400
    err.value.detail.encode("utf-8")  # storable and printable
    # the answer the fleet publishes is valid JSON naming the reason
    doc = decode_event(InjectResult.refused(err.value, 1).encode())
    assert doc is not None and doc["ok"] is False and doc["reason"] == reason.value


def test_refused_answer_carries_the_id_when_it_is_safe(tiny):
    with pytest.raises(InjectCommandError) as err:
        decode_command(b'{"id": "c1", "kind": "fire", "zones": ["Q"]}', tiny)
    assert err.value.command_id == "c1"
    with pytest.raises(InjectCommandError) as err:
        decode_command(b'{"id": "c1/#", "kind": "fire"}', tiny)
    assert err.value.command_id is None


def test_listener_answers_bad_commands_and_passes_good_ones_on(tiny):
    taken: list[InjectCommand] = []
    answers: list[InjectResult] = []
    listener = InjectListener(
        parse_broker_url("mqtt://127.0.0.1:1"), tiny, lambda cmd, reply: taken.append(cmd)
    )
    listener.publish_result = answers.append  # type: ignore[method-assign]
    for payload, _ in HOSTILE:
        listener.handle(payload)
    listener.handle(b'{"id": "ok1", "kind": "fire", "zones": ["A"]}')
    assert [c.id for c in taken] == ["ok1"]
    assert len(answers) == len(HOSTILE) and not any(a.ok for a in answers)
    assert listener.refused == len(HOSTILE)


def test_listener_survives_a_failing_handler(tiny):
    answers: list[InjectResult] = []

    def broken(cmd, reply):
        raise RuntimeError("model is gone")

    listener = InjectListener(parse_broker_url("mqtt://127.0.0.1:1"), tiny, broken)
    listener.publish_result = answers.append  # type: ignore[method-assign]
    listener.handle(b'{"id": "ok2", "kind": "flood", "zones": ["A"]}')
    assert answers[0].ok is False and answers[0].reason == "model_refused"
    assert answers[0].id == "ok2"


def test_disaster_event_encoding():
    doc = decode_event(
        encode_disaster_event(
            5, {"phase": "start", "kind": "fire", "id": "fire@A#1", "zones": ["A"], "factories": []}
        )
    )
    assert doc == {
        "v": 1,
        "type": "disaster",
        "ts": 5,
        "phase": "start",
        "kind": "fire",
        "id": "fire@A#1",
        "zones": ["A"],
        "factories": [],
    }
    assert decode_event(b"nope") is None and decode_event(b"[1]") is None
    assert MAX_COMMAND_BYTES == 4096
