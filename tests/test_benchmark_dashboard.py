"""The dashboard benchmark runs end to end on a tiny data set, so the script cannot rot.

Fill + a real `twin dashboard` process + trend callbacks over HTTP + the raw baseline;
no browser (pages are measured by the full run) and no timing assertions.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from dashboards.trend import MAX_POINTS

ROOT = Path(__file__).resolve().parents[1]
SCRIPT = ROOT / "benchmarks" / "dashboard.py"
TINY = ["--sensors", "2", "--days", "0.005", "--runs", "1", "--calls", "3", "--no-live", "--no-progress"]


def _run(*args: str, timeout: float = 300) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, str(SCRIPT), *args], cwd=ROOT, capture_output=True, text=True, timeout=timeout
    )


def test_fill_and_trend_callbacks_on_a_tiny_historian(tmp_path: Path) -> None:
    data = tmp_path / "data"
    proc = _run(*TINY, "--pages", "none", "--data-dir", str(data), "--json")
    assert proc.returncode == 0, proc.stderr[-3000:]
    result = json.loads(proc.stdout.strip().splitlines()[-1])

    # the keys other tools read, nested and flat
    assert set(result["page_load_s"]) == {"operations", "alarms", "tenant", "simulation"}
    assert set(result["trend_p95_ms"]) == {"15m", "24h", "7d", "30d"}
    for key in ("15m", "24h", "7d", "30d"):
        assert result["trend_p95_ms"][key] > 0
        assert result[f"trend_p95_ms.{key}"] == result["trend_p95_ms"][key]
        assert 0 < result["trend_points_max"][key] <= MAX_POINTS
        assert result["baseline_raw_points"][key] > 0
    assert all(result[f"page_load_s.{p}"] is None for p in ("operations", "alarms", "tenant", "simulation"))

    # 2 sensors x 432 s at 1 Hz, plus the factory KPIs once a minute
    fill = result["fill"]
    assert fill["reused"] is False and fill["readings"] >= 2 * 431
    assert (data / "historian.db").exists() and (data / "fill.json").exists()
    assert result["trend_trace_types"]["15m"] == ["scatter"]  # 432 points: below the WebGL threshold

    # a second run reuses the filled file and only tops it up
    again = _run(*TINY, "--pages", "none", "--data-dir", str(data), "--json")
    assert again.returncode == 0, again.stderr[-3000:]
    second = json.loads(again.stdout.strip().splitlines()[-1])
    assert second["fill"]["reused"] is True
    assert second["fill"]["start_ms"] == fill["start_ms"] and second["fill"]["end_ms"] > fill["end_ms"]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--sensors", "0"], "must be > 0"),
        (["--days", "-1"], "must be > 0"),
        (["--calls", "nope"], "invalid int value"),
        (["--pages", "operations,../../etc"], "unknown page"),
        (["--runs", "0"], "must be > 0"),
    ],
)
def test_bad_flags_are_refused_with_a_clear_message(args: list[str], message: str) -> None:
    proc = _run(*args, timeout=60)
    assert proc.returncode == 2
    assert message in proc.stderr and "Traceback" not in proc.stderr
