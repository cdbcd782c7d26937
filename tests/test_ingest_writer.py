"""The batch writer with a real SQLite historian: store, then acknowledge; never stall."""

from __future__ import annotations

import threading
import time

import orjson

from twin.codec import Codec, Reading
from twin.config import load_complex
from twin.historian import open_historian
from twin.ingest.metrics import IngestMetrics
from twin.ingest.spool import Spool
from twin.ingest.writer import BatchWriter, Inbound, WriterSettings

TINY = load_complex("tiny")
TOPIC = "twin/v1/alpha-elec/alpha-smt/telemetry"
NOW = 1_795_000_000_000


def _msg(mid: int, value: float = 5.0, ts: int | None = None, payload: bytes | None = None) -> Inbound:
    body = payload if payload is not None else orjson.dumps(
        {"sensor": "alpha-smt-power", "ts": ts if ts is not None else NOW - 10_000 + mid, "value": value})
    return Inbound(mid, 1, TOPIC, body, NOW)


class _Writer:
    def __init__(self, tmp_path, codec=None, batch=500):
        self.acks: list[int] = []
        self.historian = open_historian(f"sqlite://{tmp_path / 'h.db'}")
        self.w = BatchWriter(codec or Codec(TINY), self.historian, Spool(tmp_path / "spool"),
                             lambda mid, qos: self.acks.append(mid), IngestMetrics(),
                             WriterSettings(max_batch_messages=batch), clock_ms=lambda: NOW)
        self.t = threading.Thread(target=self.w.run, daemon=True)
        self.t.start()

    def wait_acks(self, n: int, timeout: float = 20) -> None:
        deadline = time.monotonic() + timeout
        while len(self.acks) < n and time.monotonic() < deadline:
            time.sleep(0.01)

    def close(self) -> None:
        self.w.stop()
        self.t.join(20)
        self.historian.close()


def test_stores_then_acks_in_order(tmp_path):
    wr = _Writer(tmp_path, batch=7)
    for mid in range(1, 101):
        wr.w.submit(_msg(mid))
    wr.wait_acks(100)
    assert wr.acks == list(range(1, 101))
    assert wr.historian.counts() == {"alpha-smt-power": 100}
    wr.close()


def test_bad_readings_become_dead_letters_in_the_same_batch(tmp_path):
    wr = _Writer(tmp_path)
    wr.w.submit(_msg(1))
    wr.w.submit(_msg(2, value=999))  # out of range
    wr.w.submit(_msg(3, payload=b"{not json"))
    wr.w.submit(_msg(4))
    wr.wait_acks(4)
    assert sorted(wr.acks) == [1, 2, 3, 4]
    assert wr.historian.counts() == {"alpha-smt-power": 2}
    assert wr.historian.dead_letter_counts() == {"out_of_range": 1, "malformed_json": 1}
    wr.close()


def test_redelivery_is_a_no_op(tmp_path):
    wr = _Writer(tmp_path)
    for _ in range(3):
        wr.w.submit(_msg(1, ts=NOW - 5000))
    wr.wait_acks(3)
    assert wr.historian.counts() == {"alpha-smt-power": 1}
    wr.close()


def test_stop_stores_and_acks_what_is_queued(tmp_path):
    wr = _Writer(tmp_path)
    for mid in range(1, 51):
        wr.w.submit(_msg(mid))
    wr.close()
    assert sorted(wr.acks) == list(range(1, 51))
    with open_historian(f"sqlite://{tmp_path / 'h.db'}") as h:
        assert h.counts() == {"alpha-smt-power": 50}


class _BuggyCodec(Codec):
    """Raises on one payload, as a bug in decoding would."""

    def decode(self, topic, payload, now_ms):
        if payload == b"boom":
            raise RuntimeError("decoder bug")
        return super().decode(topic, payload, now_ms)


def test_a_batch_that_breaks_processing_is_quarantined_and_the_writer_lives(tmp_path):
    wr = _Writer(tmp_path, codec=_BuggyCodec(TINY), batch=1)
    wr.w.submit(_msg(1, payload=b"boom"))
    wr.wait_acks(1)
    wr.w.submit(_msg(2))
    wr.wait_acks(2)
    assert wr.acks == [1, 2]
    assert wr.historian.dead_letter_counts() == {"ingest_error": 1}
    assert wr.historian.counts() == {"alpha-smt-power": 1}
    wr.close()


class _LeakyCodec(Codec):
    """Lets one reading through that the historian refuses for good (a codec gap, or a stricter historian)."""

    def decode(self, topic, payload, now_ms):
        if payload == b"poison":
            out = super().decode(topic, _msg(0).payload, now_ms)
            out.readings[:] = [Reading("x" * 2000, NOW - 1, 1.0)]  # longer than any sensor id may be
            return out
        return super().decode(topic, payload, now_ms)


def test_a_message_the_historian_refuses_for_good_is_isolated_and_the_rest_stored(tmp_path):
    wr = _Writer(tmp_path, codec=_LeakyCodec(TINY), batch=50)
    msgs = [_msg(i) for i in range(1, 21)]
    msgs[12] = _msg(13, payload=b"poison")
    with wr.w._cond:  # one batch: the refused message sits among good ones
        for m in msgs:
            wr.w._queue.append(m)
        wr.w._cond.notify_all()
    wr.wait_acks(20)
    assert wr.acks == list(range(1, 21))  # every message acknowledged, in order
    assert wr.historian.counts() == {"alpha-smt-power": 19}
    assert wr.historian.dead_letter_counts() == {"historian_refused": 1}
    [letter] = wr.historian.dead_letters()
    assert letter.payload == b"poison" and "longer than" in letter.detail
    assert not wr.w.spool  # nothing spooled: refusing is not being down
    assert wr.w.historian_down_since is None
    wr.close()


def test_refused_spooled_readings_become_dead_letters_and_the_spool_drains(tmp_path):
    spool = Spool(tmp_path / "spool")
    good = [Reading("alpha-smt-power", NOW - 100 + i, 5.0) for i in range(10)]
    spool.append(good[:5] + [Reading("", NOW - 1, 1.0)] + good[5:], [])  # as if spooled while the historian was down
    wr = _Writer(tmp_path)
    deadline = time.monotonic() + 20
    while wr.w.spool and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not wr.w.spool, "the spool never drained"
    assert wr.historian.counts() == {"alpha-smt-power": 10}
    assert wr.historian.dead_letter_counts() == {"historian_refused": 1}
    [letter] = wr.historian.dead_letters()
    assert letter.topic == "(spool)" and b'"sensor":""' in letter.payload
    wr.close()
