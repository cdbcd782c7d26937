"""``twin forecast``: hostile input, and a real run reading retained snapshots from Mosquitto."""

from __future__ import annotations

import json
from pathlib import Path

import paho.mqtt.publish as publish
import pytest
from click.testing import CliRunner

from simulations.forecast import BASELINE, HEADLINE
from simulations.forecast_cli import forecast
from simulations.live_state import observed_snapshots
from simulations.model import build_model
from twin.config import load_complex
from twin.snapshot import complex_state_topic, encode_snapshot, factory_state_topic
from twin.timespec import now_ms


def _invoke(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(
        forecast, list(args), env={"TWIN_BROKER": None, "TWIN_CONFIG": None}
    )
    text = result.output + (result.stderr if result.stderr_bytes is not None else "")
    assert isinstance(result.exception, SystemExit) or result.exception is None, repr(
        result.exception
    )
    assert "Traceback" not in text
    return result.exit_code, text


@pytest.mark.parametrize(
    ("args", "flag"),
    [
        (["--what-if", "down:nope:2h"], "--what-if"),
        (["--what-if", "down:alpha-smt"], "--what-if"),
        (["--what-if", "down:alpha-smt:1h", "--what-if", "down:alpha-smt:1h"], "--what-if"),
        (["--horizon", "0"], "--horizon"),
        (["--horizon", "-3"], "--horizon"),
        (["--replications", "0"], "--replications"),
        (["--json", "/no/such/dir/out.json"], "--json"),
        (["--report", "/"], "--report"),
        (["--variant", "x"], "--variant"),
        (["--scenario", "/no/such.yaml"], "--scenario"),
        (["--broker", "ftp://x"], "--broker"),
    ],
)
def test_bad_input_is_refused_before_connecting(args, flag):
    base = ["--config", "tiny", "--broker", "mqtt://127.0.0.1:1"]
    if "--broker" in args:
        base = ["--config", "tiny"]
    code, text = _invoke(*base, *args)
    assert code == 2, text
    assert flag in text


@pytest.mark.mosquitto
def test_forecast_reads_retained_snapshots_and_writes_json_and_report(mosquitto, tmp_path: Path):
    tiny = load_complex("tiny")
    model = build_model(tiny, seed=5)
    model.run(34 * 3600.0)
    ts = now_ms()
    msgs = [
        {
            "topic": factory_state_topic(s.tenant, s.factory),
            "payload": encode_snapshot(s),
            "qos": 1,
            "retain": True,
        }
        for s in observed_snapshots(model, ts).values()
    ]
    # retained junk beside them: a wrong tenant, garbage, the complex summary topic
    msgs += [
        {"topic": "twin/v1/beta-chem/alpha-f1/state", "payload": b"{not json", "retain": True},
        {"topic": "twin/v1/beta-chem/beta-f1/state", "payload": b"\xff" * 10, "retain": False},
        {"topic": complex_state_topic(), "payload": b"{}", "retain": True},
    ]
    host, port = "127.0.0.1", mosquitto.port
    publish.multiple(msgs, hostname=host, port=port)
    out, html = tmp_path / "f.json", tmp_path / "f.html"
    code, text = _invoke(
        "--broker",
        mosquitto.url,
        "--config",
        "tiny",
        "--replications",
        "4",
        "--seed",
        "2",
        "--what-if",
        "down:alpha-smt:2h",
        "--horizon",
        "3",
        "--wait",
        "10",
        "--json",
        str(out),
        "--report",
        str(html),
        "--no-progress",
    )
    assert code == 0, text
    assert "3/3 machine states observed" in text
    assert "complex" in text and "down:alpha-smt:2h" in text
    doc = json.loads(out.read_text())
    assert doc["replications"] == 4 and doc["horizon_h"] == 3.0
    base = doc["scenarios"][BASELINE]["outputs"][HEADLINE]
    assert base["mean"] > 0 and base["n"] == 4
    diff = doc["comparisons"]["down:alpha-smt:2h"][HEADLINE]["diff"]
    assert diff < 0
    assert doc["meta"]["machines_observed"] == ["alpha-aoi", "alpha-smt", "beta-reactor"]
    page = html.read_text()
    assert page.startswith("<!DOCTYPE html>") and "plotly" in page and "down:alpha-smt:2h" in page

    # the same broker holds nothing of the demo complex: a clear error, exit 1
    code, text = _invoke("--broker", mosquitto.url, "--config", "demo", "--wait", "1")
    assert code == 1 and "no state snapshot" in text
