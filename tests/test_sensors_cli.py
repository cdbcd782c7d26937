"""``twin sensors`` and its publisher: hostile input, and real runs against a real Mosquitto."""

from __future__ import annotations

import shutil
import signal
import subprocess
import sys
import threading
import time
from collections import Counter
from pathlib import Path

import paho.mqtt.client as mqtt
import pytest
from click.testing import CliRunner

from sensors.cli import sensors
from sensors.publisher import TelemetryPublisher
from sensors.record import read_record
from tests.fixtures.servers import free_port
from twin.codec import Codec, Reading
from twin.config import load_complex
from twin.mqtt import connect, make_client, wait_connected
from twin.timespec import now_ms
from twin.topics import TELEMETRY_FILTER
from twin.urls import parse_broker_url

# ---- hostile input: a clear error, a non-zero exit, never a traceback ---------------------------


def _invoke(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(sensors, list(args), env={"TWIN_BROKER": None, "TWIN_CONFIG": None})
    text = result.output + (result.stderr if result.stderr_bytes is not None else "")
    assert isinstance(result.exception, SystemExit) or result.exception is None, repr(
        result.exception
    )
    assert "Traceback" not in text
    return result.exit_code, text


OK_BROKER = ["--broker", "mqtt://127.0.0.1:1"]  # never reached: the input is refused first


@pytest.mark.parametrize(
    ("args", "flag", "why"),
    [
        (["--speed", "0"], "--speed", "positive"),
        (["--speed", "-3"], "--speed", "positive"),
        (["--speed", "fast"], "--speed", "not a valid float"),
        (["--speed", "nan"], "--speed", "positive"),
        (["--speed", "inf"], "--speed", "positive"),
        (["--duration", "0"], "--duration", "positive"),
        (["--duration", "-1"], "--duration", "positive"),
        (["--duration", "soon"], "--duration", "not a valid float"),
        (["--seed", "x"], "--seed", "not a valid integer"),
        (["--start", "yesterday"], "--start", "bad time"),
        (["--start", "+1h"], "--start", "bad"),
        (["--start", "2999-01-01T00:00:00Z"], "--start", "future"),
        (["--start", "-40d"], "--start", "30 days"),
        (["--max-pending", "0"], "--max-pending", "0"),
    ],
)
def test_bad_options_are_refused_clearly(args: list[str], flag: str, why: str) -> None:
    code, text = _invoke(*OK_BROKER, "--config", "tiny", *args)
    assert code == 2
    assert flag in text and why in text


@pytest.mark.parametrize(
    ("url", "why"),
    [
        ("http://127.0.0.1:1883", "must start with mqtt:// or mqtts://"),
        ("mqtt://", "no host"),
        ("mqtt://host:99999", "port"),
        ("mqtt://host:1883?protocol=9", "protocol"),
        ("", "empty"),
    ],
)
def test_bad_broker_urls_are_refused_clearly(url: str, why: str) -> None:
    code, text = _invoke("--broker", url, "--config", "tiny")
    assert code == 2
    assert "--broker" in text and why in text


def test_missing_broker_is_refused() -> None:
    code, text = _invoke("--config", "tiny")
    assert code == 2 and "--broker" in text


def test_missing_or_broken_config_is_refused_with_the_file_named(tmp_path: Path) -> None:
    missing = tmp_path / "nope.yaml"
    code, text = _invoke(*OK_BROKER, "--config", str(missing))
    assert code == 2 and "--config" in text and "nope.yaml" in text and "file not found" in text
    broken = tmp_path / "broken.yaml"
    broken.write_text("version: 1\nsite: {id: x}\n")
    code, text = _invoke(*OK_BROKER, "--config", str(broken))
    assert code == 2 and "broken.yaml" in text and "site" in text


def test_unwritable_record_file_is_refused(tmp_path: Path) -> None:
    code, text = _invoke(
        *OK_BROKER, "--config", "tiny", "--record", str(tmp_path / "no" / "dir" / "r.jsonl")
    )
    assert code == 2 and "--record" in text


def test_unreachable_broker_fails_after_the_connect_timeout() -> None:
    port = free_port()  # nothing listens there
    code, text = _invoke(
        "--broker", f"mqtt://127.0.0.1:{port}", "--config", "tiny", "--connect-timeout", "0.5"
    )
    assert code == 1
    assert "did not accept a connection" in text


def test_help_explains_the_speed_and_catch_up_rule() -> None:
    code, text = _invoke("--help")
    assert code == 0
    flat = " ".join(text.split())
    assert "never stamped in the future" in flat
    assert "caught up with the wall clock" in flat
    for flag in ("--broker", "--config", "--speed", "--duration", "--seed", "--start", "--record"):
        assert flag in flat


def _twin() -> list[str]:
    script = Path(sys.executable).with_name("twin")
    if script.exists():
        return [str(script)]
    found = shutil.which("twin")
    return [found] if found else [sys.executable, "-m", "twin"]


def test_the_twin_command_refuses_bad_speed_without_a_traceback() -> None:
    proc = subprocess.run(
        [*_twin(), "sensors", *OK_BROKER, "--config", "tiny", "--speed", "-2"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert proc.returncode == 2
    assert "--speed" in proc.stderr and "Traceback" not in proc.stderr


# ---- real broker --------------------------------------------------------------------------------


class Subscriber:
    """Collects every telemetry message (QoS 1) until stopped."""

    def __init__(self, broker_url: str, client_id: str):
        url = parse_broker_url(broker_url)
        self.messages: list[tuple[str, bytes]] = []
        self._lock = threading.Lock()
        self._subscribed = threading.Event()
        self.client = make_client(url, client_id)
        self.client.on_connect = lambda c, u, f, rc, p: c.subscribe(TELEMETRY_FILTER, qos=1)
        self.client.on_subscribe = lambda c, u, mid, rcs, p: self._subscribed.set()
        self.client.on_message = self._on_message
        connect(self.client, url)
        self.client.loop_start()
        wait_connected(self.client, 10)
        assert self._subscribed.wait(10), "subscription not acknowledged"

    def _on_message(self, client: mqtt.Client, userdata: object, msg: mqtt.MQTTMessage) -> None:
        with self._lock:
            self.messages.append((msg.topic, msg.payload))

    def count(self) -> int:
        with self._lock:
            return len(self.messages)

    def readings(self, codec: Codec) -> list[Reading]:
        """Decode everything received; any rejection fails the test."""
        out: list[Reading] = []
        now = now_ms()
        with self._lock:
            msgs = list(self.messages)
        for topic, payload in msgs:
            got = codec.decode(topic, payload, now)
            assert got.rejections == [], (topic, payload[:200], got.rejections)
            out.extend(got.readings)
        return out

    def wait_for_readings(self, codec: Codec, n: int, timeout: float = 15.0) -> list[Reading]:
        deadline = time.monotonic() + timeout
        got = self.readings(codec)
        while len(got) < n and time.monotonic() < deadline:
            time.sleep(0.1)
            got = self.readings(codec)
        return got

    def close(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()


def _key(r: Reading) -> tuple[str, int, float]:
    return (r.sensor_id, r.ts_ms, r.value)


def _assert_received_exactly_once(recorded: list[Reading], received: list[Reading]) -> None:
    assert recorded, "nothing was recorded"
    rec, got = Counter(map(_key, recorded)), Counter(map(_key, received))
    assert max(rec.values()) == 1, "the record holds a reading twice"
    missing = rec - got
    dupes = {k: n for k, n in got.items() if n > 1}
    extra = got - rec
    assert not missing, (
        f"{sum(missing.values())} recorded reading(s) never arrived, e.g. {list(missing)[:3]}"
    )
    assert not dupes, f"received more than once: {list(dupes)[:3]}"
    assert not extra, f"received but not recorded: {list(extra)[:3]}"


@pytest.mark.mosquitto
@pytest.mark.slow
def test_real_run_delivers_every_recorded_reading_exactly_once(mosquitto, tmp_path: Path) -> None:
    tiny = load_complex("tiny")
    codec = Codec(tiny)
    sub = Subscriber(mosquitto.url, "sensors-e2e-sub")
    record = tmp_path / "published.jsonl"
    try:
        proc = subprocess.run(
            [
                *_twin(),
                "sensors",
                "--broker",
                mosquitto.url,
                "--config",
                "tiny",
                "--duration",
                "3",
                "--speed",
                "1",
                "--record",
                str(record),
            ],
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert proc.returncode == 0, proc.stderr
        recorded = read_record(record)
        received = sub.wait_for_readings(codec, len(recorded))
    finally:
        sub.close()
    _assert_received_exactly_once(recorded, received)
    # every 1-second sensor spoke, several times
    per_sensor = Counter(r.sensor_id for r in recorded)
    for sid, info in tiny.sensors.items():
        if info.sensor.period_s <= 1:
            assert per_sensor[sid] >= 2, sid
    assert (
        f"({len(recorded)} readings), {sub.count()} acknowledged ({len(recorded)} readings)"
        in proc.stderr
    )
    assert "Traceback" not in proc.stderr


@pytest.mark.mosquitto
@pytest.mark.slow
def test_fast_run_starts_in_the_past_and_nothing_is_stamped_in_the_future(
    mosquitto, tmp_path: Path
) -> None:
    tiny = load_complex("tiny")
    codec = Codec(tiny)  # rejects readings more than 5 minutes ahead of now
    sub = Subscriber(mosquitto.url, "sensors-fast-sub")
    record = tmp_path / "fast.jsonl"
    try:
        before = now_ms()
        proc = subprocess.run(
            [
                *_twin(),
                "sensors",
                "--broker",
                mosquitto.url,
                "--config",
                "tiny",
                "--speed",
                "3600",
                "--start",
                "-2h",
                "--duration",
                "2",
                "--seed",
                "9",
                "--record",
                str(record),
            ],
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert proc.returncode == 0, proc.stderr
        recorded = read_record(record)
        received = sub.wait_for_readings(codec, len(recorded))
    finally:
        sub.close()
    _assert_received_exactly_once(recorded, received)
    stamps = [r.ts_ms for r in recorded]
    assert min(stamps) >= before - 2 * 3_600_000  # started two hours back
    assert max(stamps) - min(stamps) > 60_000  # and ran faster than real time


@pytest.mark.mosquitto
@pytest.mark.slow
def test_sigterm_stops_cleanly_and_flushes(mosquitto, tmp_path: Path) -> None:
    codec = Codec(load_complex("tiny"))
    sub = Subscriber(mosquitto.url, "sensors-term-sub")
    record = tmp_path / "term.jsonl"
    try:
        proc = subprocess.Popen(
            [
                *_twin(),
                "sensors",
                "--broker",
                mosquitto.url,
                "--config",
                "tiny",
                "--record",
                str(record),
            ],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        try:
            deadline = time.monotonic() + 30
            while sub.count() < 5 and time.monotonic() < deadline:
                time.sleep(0.05)
            assert sub.count() >= 5, "no telemetry arrived"
            proc.send_signal(signal.SIGTERM)
            _, stderr = proc.communicate(timeout=30)
        finally:
            if proc.poll() is None:
                proc.kill()
        assert proc.returncode == 0, stderr
        assert "stopped by stop" in stderr and "Traceback" not in stderr
        recorded = read_record(record)
        received = sub.wait_for_readings(codec, len(recorded))
    finally:
        sub.close()
    _assert_received_exactly_once(recorded, received)


# ---- the publisher against a broker that goes away ----------------------------------------------


def _batch(i: int) -> list[Reading]:
    return [
        Reading("A-seis-1", 1_764_208_200_000 + i, 0.001),
        Reading("A-water-1", 1_764_208_200_000 + i, 30.0),
    ]


@pytest.mark.mosquitto
def test_publisher_reconnects_and_delivers_what_was_offered_during_an_outage(mosquitto) -> None:
    acked: list[Reading] = []
    pub = TelemetryPublisher(
        parse_broker_url(mosquitto.url), max_pending=100, on_acked=acked.extend
    )
    pub.start(10)
    try:
        for i in range(20):
            assert pub.offer("park", "A", _batch(i))
        assert pub.flush(10)
        mosquitto.stop()
        for i in range(20, 40):
            assert pub.offer("park", "A", _batch(i), timeout=0.01)  # kept by paho while down
        mosquitto.start()
        assert pub.flush(30)
    finally:
        pub.close()
    st = pub.stats
    assert st.offered_messages == st.acked_messages == 40
    assert st.acked_readings == 80 and len(acked) == 80
    assert st.connects >= 2 and st.disconnects >= 1
    assert sorted(r.ts_ms for r in acked if r.sensor_id == "A-seis-1") == [
        1_764_208_200_000 + i for i in range(40)
    ]


@pytest.mark.mosquitto
def test_publisher_window_is_bounded_while_the_broker_is_away(mosquitto) -> None:
    pub = TelemetryPublisher(parse_broker_url(mosquitto.url), max_pending=5)
    pub.start(10)
    try:
        mosquitto.stop()
        accepted = [pub.offer("park", "A", _batch(i), timeout=0.01) for i in range(12)]
        assert accepted == [True] * 5 + [False] * 7
        assert pub.stats.pending_messages == 5 and pub.stats.refused_full == 7
        mosquitto.start()
        assert pub.flush(30)
        assert pub.offer("park", "A", _batch(99))
        assert pub.flush(10)
    finally:
        pub.close()
    assert pub.stats.acked_messages == 6


@pytest.mark.mosquitto
def test_flush_waits_for_every_ack_of_a_large_backlog(mosquitto) -> None:
    pub = TelemetryPublisher(parse_broker_url(mosquitto.url), max_pending=5000)
    pub.start(10)
    try:
        for i in range(5000):
            assert pub.offer("park", "A", _batch(i))
        assert pub.flush(60), f"{pub.stats.pending_messages} still pending"
    finally:
        pub.close()
    assert pub.stats.acked_messages == 5000
