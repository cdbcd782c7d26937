"""Nothing is lost, whatever fails: real Mosquitto (persistence on), real ingest processes."""

from __future__ import annotations

import signal
import time

import psutil
import pytest

from tests.ingest_procs import IngestProc
from tests.streams import Stream, stored_pairs, wait_stored
from twin.config import load_complex
from twin.historian import open_historian

pytestmark = [pytest.mark.mosquitto, pytest.mark.slow]

TINY = load_complex("tiny")


def _check_exact(historian_url: str, stream: Stream) -> None:
    assert stream.acked, "the stream published nothing"
    assert stream.acked == stream.attempted, "the broker did not acknowledge every publish"
    with open_historian(historian_url) as h:
        wait_stored(h, stream.acked)
        stored = stored_pairs(h, TINY.sensors, since=stream.base_ts - 1)
    assert len(stored) == len(set(stored)), "duplicates stored"
    missing = stream.acked - set(stored)
    extra = set(stored) - stream.acked
    if missing:
        with open_historian(historian_url) as h:
            letters = h.dead_letter_counts()
            lost_sensors = sorted({s for s, _ in missing})
            counts = {s: h.counts().get(s) for s in lost_sensors}
    assert not missing, (
        f"{len(missing)} published readings were lost, e.g. {sorted(missing)[:3]}; "
        f"dead letters {letters}; stored counts of those sensors {counts}"
    )
    assert not extra, f"{len(extra)} readings stored that were never published"


def test_kill9_three_times_during_stream(mosquitto, tmp_path):
    url = f"sqlite://{tmp_path / 'h.db'}"
    ing = IngestProc(mosquitto.url, url, tmp_path).start()
    stream = Stream(mosquitto.url, TINY, rate=300, client_id="kill9-pub").start()
    for _ in range(3):
        time.sleep(1.5)
        ing.kill()
        time.sleep(0.5)  # messages arrive while no ingest runs: the broker must queue them
        ing.start()
    time.sleep(1.0)
    stream.stop()
    try:
        _check_exact(url, stream)
    finally:
        assert ing.stop() == 0, ing.log()


def test_broker_restart_during_stream(mosquitto, tmp_path):
    # plain subscription: shared ones lost readings across broker restarts (docs/reliability.md)
    url = f"sqlite://{tmp_path / 'h.db'}"
    ing = IngestProc(mosquitto.url, url, tmp_path).start()
    stream = Stream(mosquitto.url, TINY, rate=300, client_id="restart-pub").start()
    time.sleep(1.5)
    mosquitto.restart()
    time.sleep(3.0)
    stream.stop()
    try:
        _check_exact(url, stream)
    finally:
        assert ing.stop() == 0, ing.log()


def test_two_workers_one_killed(mosquitto, tmp_path):
    url = f"sqlite://{tmp_path / 'h.db'}"
    ing = IngestProc(mosquitto.url, url, tmp_path, "--workers", "2").start(wait=False)
    time.sleep(4)  # both workers connect and subscribe to the shared group
    stream = Stream(mosquitto.url, TINY, rate=400, client_id="shared-pub").start()
    time.sleep(2.0)
    workers = psutil.Process(ing.proc.pid).children()
    assert len(workers) == 2
    workers[0].kill()  # the supervisor restarts it under the same client id
    time.sleep(3.0)
    stream.stop()
    try:
        _check_exact(url, stream)
        # the restarted worker came back: two live workers again
        assert len([p for p in psutil.Process(ing.proc.pid).children() if p.is_running()]) == 2
    finally:
        assert ing.stop() == 0


def test_hostile_payloads_mixed_into_a_valid_stream(mosquitto, tmp_path):
    url = f"sqlite://{tmp_path / 'h.db'}"
    ing = IngestProc(mosquitto.url, url, tmp_path).start()
    now = time.time_ns() // 1_000_000
    t = "twin/v1/alpha-elec/alpha-smt/telemetry"
    hostile = [
        (t, b"\x00\xff\xfe garbage", "malformed_json"),
        (t, b'{"sensor": "alpha-smt-power", "ts": 1, "value": NaN}', "not_finite"),
        (t, b"[" * 200_000 + b"]" * 200_000, "payload_too_large"),
        (t, b"x" * (10 * 1024 * 1024), "payload_too_large"),
        (t, b"[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]", "bad_schema"),
        (t, '{"sensor": "센서-☃", "ts": 1, "value": 1}'.encode(), "unknown_sensor"),
        (t, b'{"sensor": "alpha-smt-power", "ts": %d, "value": "7"}' % now, "wrong_type"),
        (t, b'{"sensor": "alpha-smt-power", "ts": %d, "value": 999}' % now, "out_of_range"),
        (t, b'{"sensor": "alpha-smt-power", "ts": %d, "value": 1}' % (now + 86_400_000), "ts_future"),
        (t, b'{"sensor": "alpha-smt-power", "ts": 1000, "value": 1}', "ts_past"),
        (t, b'{"sensor": "beta-reactor-temp", "ts": %d, "value": 1}' % now, "topic_mismatch"),
        ("twin/v1/nobody/nothing/telemetry", b'{"sensor": "x", "ts": 1, "value": 1}', "bad_topic"),
        (t, b'{"readings": [%s]}' % b",".join([b"{}"] * 10_001), "batch_too_large"),
    ]
    stream = Stream(mosquitto.url, TINY, rate=300, client_id="hostile-pub",
                    extra=[(tp, p) for tp, p, _ in hostile])
    stream.start()
    time.sleep(len(hostile) * 7 / 300 + 2.0)
    stream.stop()
    try:
        _check_exact(url, stream)
        with open_historian(url) as h:
            deadline = time.monotonic() + 20
            while time.monotonic() < deadline and sum(h.dead_letter_counts().values()) < len(hostile):
                time.sleep(0.2)
            counts = h.dead_letter_counts()
        expected: dict[str, int] = {}
        for _, _, reason in hostile:
            expected[reason] = expected.get(reason, 0) + 1
        assert counts == expected
        assert ing.proc.poll() is None, "the ingest died on hostile input"
        metrics = ing.metrics()
        assert 'twin_ingest_rejected_total{reason="payload_too_large"} 2.0' in metrics
    finally:
        assert ing.stop() == 0


@pytest.mark.influxdb
def test_historian_unavailable_for_30_seconds(mosquitto, influxdb_module, tmp_path):
    """influxd frozen (SIGSTOP) for 30 s: the ingest spools, reports unhealthy, then writes back."""
    url = influxdb_module.url(influxdb_module.new_database("outage"), timeout="1s")
    ing = IngestProc(mosquitto.url, url, tmp_path, "--unhealthy-after", "3").start()
    stream = Stream(mosquitto.url, TINY, rate=200, client_id="outage-pub").start()
    time.sleep(1.5)
    influxdb_module.proc.send_signal(signal.SIGSTOP)
    try:
        time.sleep(30)
        code, body = ing.health()
        assert code == 503 and body["historian_down_s"] > 3, body
        assert body["spool_bytes"] > 0
    finally:
        influxdb_module.proc.send_signal(signal.SIGCONT)
    time.sleep(2.0)
    stream.stop()
    try:
        _check_exact(url, stream)
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and ing.health()[1]["spool_bytes"] > 0:
            time.sleep(0.2)
        code, body = ing.health()
        assert code == 200 and body["spool_bytes"] == 0, body
        spooled = [ln for ln in ing.metrics().splitlines() if ln.startswith("twin_ingest_readings_spooled_total")]
        assert float(spooled[0].split()[1]) > 0
    finally:
        assert ing.stop() == 0, ing.log()


@pytest.mark.influxdb
def test_spool_full_applies_back_pressure_and_loses_nothing(mosquitto, influxdb_module, tmp_path):
    url = influxdb_module.url(influxdb_module.new_database("full"), timeout="1s")
    ing = IngestProc(mosquitto.url, url, tmp_path, "--spool-max-mb", "0.02").start()
    stream = Stream(mosquitto.url, TINY, rate=300, client_id="full-pub").start()
    time.sleep(1.0)
    influxdb_module.proc.send_signal(signal.SIGSTOP)
    try:
        time.sleep(12)
    finally:
        influxdb_module.proc.send_signal(signal.SIGCONT)
    time.sleep(2.0)
    stream.stop()
    try:
        _check_exact(url, stream)
        assert "spool full" in ing.log()
    finally:
        assert ing.stop() == 0, ing.log()
