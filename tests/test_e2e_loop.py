"""Real broker + `twin sensors` + `twin ingest`: every published reading stored exactly once."""

from __future__ import annotations

import subprocess
import sys

import pytest

from sensors.record import read_record
from tests.ingest_procs import IngestProc
from tests.streams import wait_stored
from twin.config import load_complex
from twin.historian import open_historian

pytestmark = [pytest.mark.mosquitto, pytest.mark.slow]


@pytest.mark.parametrize("config,speed", [("tiny", "1"), ("demo", "30")])
def test_fleet_to_historian_exactly_once(mosquitto, tmp_path, config, speed):
    url = f"sqlite://{tmp_path / 'h.db'}"
    ing = IngestProc(mosquitto.url, url, tmp_path, config=config).start()
    record = tmp_path / "published.jsonl"
    fleet = subprocess.run(
        [sys.executable, "-m", "twin", "sensors", "--broker", mosquitto.url, "--config", config,
         "--duration", "6", "--speed", speed, "--start", "-10m", "--record", str(record)],
        capture_output=True, text=True, timeout=120,
    )
    assert fleet.returncode == 0, fleet.stderr[-3000:]
    published = list(read_record(record))
    assert published, "the fleet published nothing"
    expected = {(r.sensor_id, r.ts_ms): r.value for r in published}
    assert len(expected) == len(published), "the fleet published a (sensor, ts) twice"
    try:
        with open_historian(url) as h:
            wait_stored(h, set(expected))
            stored = h.query(sorted(load_complex(config).sensors), 0, 2**62)
            assert h.dead_letter_counts() == {}
    finally:
        assert ing.stop() == 0, ing.log()
    got = {(r.sensor_id, r.ts_ms): r.value for r in stored}
    assert len(got) == len(stored)
    assert got == expected  # same keys (nothing lost, nothing extra) and identical values
    assert {s for s, _ in got} == set(load_complex(config).sensors)
