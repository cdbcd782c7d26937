"""`twin demo` runs the whole loop from a plain install and stops cleanly."""

from __future__ import annotations

import subprocess
import sys
import time
import urllib.request

import pytest

from tests.fixtures.servers import free_port
from twin.config import load_complex
from twin.historian import open_historian

pytestmark = pytest.mark.slow


def _run_demo(tmp_path, engine: str) -> None:
    port = free_port()
    log = (tmp_path / "demo.out").open("wb")
    proc = subprocess.Popen(
        [sys.executable, "-m", "twin", "demo", "--duration", "20", "--no-browser",
         "--data-dir", str(tmp_path / "data"), "--port", str(port), "--broker-engine", engine],
        stdout=log, stderr=subprocess.STDOUT,
    )
    status = None
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and proc.poll() is None and status is None:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=2) as r:
                status = r.status
        except OSError:
            time.sleep(0.5)
    code = proc.wait(120)
    out = (tmp_path / "demo.out").read_text()
    assert code == 0, out
    assert status == 200, f"the dashboard never answered while the demo ran\n{out}"
    assert "stopped cleanly" in out
    with open_historian(f"sqlite://{tmp_path / 'data' / 'history.db'}") as h:
        counts = h.counts()
        letters = h.dead_letter_counts()
    sensors = set(load_complex("demo").sensors)
    assert sensors <= set(counts), f"no readings from {sorted(sensors - set(counts))[:10]}"
    kpis = {s for s in counts if s.startswith("kpi.")}
    assert set(counts) == sensors | kpis
    assert any(s.endswith(".complex.oee") for s in kpis), "the live twin wrote no KPIs"
    assert letters == {}, f"the fleet produced rejected readings: {letters}"


def test_demo_with_mosquitto(tmp_path):
    _run_demo(tmp_path, "mosquitto")


def test_demo_with_embedded_broker_needs_only_pip(tmp_path):
    _run_demo(tmp_path, "amqtt")
