"""`twin history`, `twin deadletters` and the ingest's flags, with good and hostile input."""

from __future__ import annotations

import csv
import io
import json
import subprocess
import sys
import time

import pytest
from click.testing import CliRunner

from twin.cli import cli
from twin.codec import Reading
from twin.historian import open_historian
from twin.historian.base import DeadLetter

NOW = time.time_ns() // 1_000_000
T0 = (NOW // 3_600_000 - 2) * 3_600_000  # an hour boundary two hours ago


@pytest.fixture
def store(tmp_path):
    url = f"sqlite://{tmp_path / 'h.db'}"
    with open_historian(url) as h:
        h.store(
            [Reading("alpha-smt-power", T0 + i * 1000, float(i)) for i in range(180)]
            + [Reading("beta-reactor-temp", T0 + 500, 42.0)],
            [DeadLetter.make(NOW, "twin/v1/x/y/telemetry", b"garbage", "malformed_json", "Expecting value")],
        )
    return url


def run(*args: str):
    return CliRunner().invoke(cli, list(args), catch_exceptions=False)


def test_history_raw_csv(store):
    r = run("history", "--historian", store, "--sensor", "alpha-smt-power",
            "--since", str(T0), "--until", str(T0 + 60_000))
    assert r.exit_code == 0, r.output
    rows = list(csv.DictReader(io.StringIO(r.output)))
    assert len(rows) == 60
    assert rows[0]["sensor"] == "alpha-smt-power" and float(rows[0]["value"]) == 0.0
    assert rows[0]["time"].endswith("Z") and int(rows[59]["ts_ms"]) == T0 + 59_000


def test_history_windows_json(store):
    r = run("history", "--historian", store, "--sensor", "alpha-smt-power", "--since", str(T0),
            "--until", str(T0 + 180_000), "--every", "1m", "--format", "json")
    assert r.exit_code == 0, r.output
    rows = [json.loads(line) for line in r.output.splitlines()]
    assert [w["count"] for w in rows] == [60, 60, 60]
    assert rows[0]["mean"] == pytest.approx(29.5) and rows[1]["min"] == 60.0 and rows[2]["last"] == 179.0


def test_history_all_sensors_by_default(store):
    r = run("history", "--historian", store, "--since", str(T0), "--until", str(T0 + 1000))
    assert {row["sensor"] for row in csv.DictReader(io.StringIO(r.output))} == {
        "alpha-smt-power", "beta-reactor-temp"}


@pytest.mark.parametrize("args,needle", [
    (["--since", "yesterday"], "bad time"),
    (["--since", "2026-11-27T06:00:00"], "needs a UTC offset"),
    (["--every", "5 parsecs"], "bad duration"),
    (["--every", "0s"], "must be > 0"),
    (["--since", "now", "--until", "-1h"], "before --until"),
    (["--format", "xml"], "Invalid value"),
])
def test_history_hostile_flags(store, args, needle):
    r = CliRunner().invoke(cli, ["history", "--historian", store, *args])
    assert r.exit_code == 2
    assert needle in r.output


@pytest.mark.parametrize("url,needle", [
    ("postgres://x/y", "unknown historian scheme"),
    ("sqlite://", "has no path"),
    ("sqlite:///tmp/x.db?bogus=1", "unknown option"),
])
def test_bad_historian_url_is_a_clear_error(url, needle):
    r = CliRunner().invoke(cli, ["history", "--historian", url])
    assert r.exit_code == 2
    assert needle in r.output and "Traceback" not in r.output


def test_deadletters_lists_reason_and_payload(store):
    r = run("deadletters", "--historian", store)
    assert r.exit_code == 0
    assert "malformed_json=1" in r.output and "garbage" in r.output
    j = run("deadletters", "--historian", store, "--format", "json", "--reason", "malformed_json")
    assert json.loads(j.output.splitlines()[0])["payload"] == "garbage"


@pytest.mark.parametrize("args,needle", [
    (["--broker", "http://x"], "must start with mqtt://"),
    (["--broker", "mqtt://h:99999"], "port"),
    (["--broker", "mqtt://h?protocol=4"], "protocol must be"),
    (["--broker", "mqtt://h", "--config", "/nonexistent.yaml"], "file not found"),
    (["--broker", "mqtt://h", "--workers", "0"], "Invalid value"),
    (["--broker", "mqtt://h", "--spool-max-mb", "-1"], "Invalid value"),
])
def test_ingest_hostile_flags(tmp_path, args, needle):
    p = subprocess.run(
        [sys.executable, "-m", "twin", "ingest", "--historian", f"sqlite://{tmp_path / 'h.db'}", *args],
        capture_output=True, text=True, timeout=60,
    )
    assert p.returncode == 2, p.stderr
    assert needle in p.stderr and "Traceback" not in p.stderr
