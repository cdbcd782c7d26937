"""Secrets never reach logs, produced files or `ps`: a real run with auth on, then a scan.

The fixture broker runs with the files of `twin mqtt-auth`; the ingest, the live twin
and the simulated fleet log in with their generated passwords. The fleet and the live
twin get theirs from TWIN_MQTT_PASSWORD (so their command lines are clean); the
ingest is given its password inside the broker URL, the way a careless operator
would, to prove that logs still redact it. Then every file the run produced (logs,
historian, spool, journal, broker persistence, the ACL and the hashed password file)
is scanned for every generated password.
"""

from __future__ import annotations

import os
import queue
import subprocess
import sys
import time
from pathlib import Path
from urllib.parse import quote

import paho.mqtt.client as mqtt
import pytest
from click.testing import CliRunner
from paho.mqtt.enums import CallbackAPIVersion

from tests.fixtures.mosquitto import Mosquitto
from tests.fixtures.servers import free_port
from tests.ingest_procs import IngestProc
from twin.security.cli import mqtt_auth

pytestmark = [pytest.mark.mosquitto, pytest.mark.slow]

WAIT = 60  # seconds: upper bound for the pipeline to show data; reached only on failure


def _spawn(args: list[str], log: Path, password: str) -> subprocess.Popen:
    env = {**os.environ, "TWIN_MQTT_PASSWORD": password}
    return subprocess.Popen(
        [sys.executable, "-m", "twin", *args], stdout=log.open("ab"), stderr=subprocess.STDOUT, env=env
    )


def _stop(proc: subprocess.Popen) -> None:
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(5)


def _cmdline(pid: int) -> bytes:
    return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ")


@pytest.mark.timeout(180)
def test_a_run_with_auth_on_leaks_no_secret(tmp_path):
    auth = tmp_path / "auth"
    secrets_dir = tmp_path / "secrets"  # kept apart: everything else under tmp_path is scanned
    r = CliRunner().invoke(
        mqtt_auth,
        ["--config", "tiny", "--out", str(auth), "--secrets", str(secrets_dir), "--tls", "--hostname", "127.0.0.1"],
    )
    assert r.exit_code == 0, r.output
    pw = {p.name: p.read_text().strip() for p in secrets_dir.iterdir() if p.name != "ca.key"}
    run = tmp_path / "run"
    run.mkdir()
    broker = Mosquitto(
        port=free_port(),
        workdir=run / "broker",
        extra_conf=(
            "allow_anonymous false\n"
            f"password_file {auth / 'passwd'}\n"
            f"acl_file {auth / 'acl'}\n"
            "log_type all\n"  # the most a broker log can say
            "connection_messages true\n"
        ),
    )
    broker.workdir.mkdir()
    broker.start()
    host = f"127.0.0.1:{broker.port}"
    procs: list[subprocess.Popen] = []
    ingest = IngestProc(
        f"mqtt://twin-ingest:{quote(pw['twin-ingest'], safe='')}@{host}",
        f"sqlite:///{run / 'history.db'}",
        run,
        "--log-level",
        "debug",
    )
    try:
        ingest.start()
        procs.append(
            _spawn(
                [
                    "live",
                    "--broker",
                    f"mqtt://twin-live@{host}",
                    "--config",
                    "tiny",
                    "--historian",
                    f"sqlite:///{run / 'live.db'}",
                    "--data-dir",
                    str(run / "live"),
                    "--snapshot-interval",
                    "1",
                    "--log-level",
                    "debug",
                ],
                run / "live.log",
                pw["twin-live"],
            )
        )
        procs.append(
            _spawn(
                [
                    "sensors",
                    "--broker",
                    f"mqtt://twin-sensors@{host}",
                    "--config",
                    "tiny",
                    "--speed",
                    "60",
                    "--log-level",
                    "debug",
                ],
                run / "sensors.log",
                pw["twin-sensors"],
            )
        )
        # The pipeline works with least privilege: the ingest stores readings, and the
        # dashboard account sees the live twin's state snapshots.
        deadline = time.monotonic() + WAIT
        stored = 0.0
        while time.monotonic() < deadline and stored == 0:
            for line in ingest.metrics().splitlines():
                if line.startswith("twin_ingest_readings_stored_total"):
                    stored = float(line.split()[-1])
            time.sleep(0.5)
        assert stored > 0, ingest.log()
        states: queue.Queue = queue.Queue()
        dash = mqtt.Client(CallbackAPIVersion.VERSION2, client_id="secrets-dash", protocol=mqtt.MQTTv5)
        dash.username_pw_set("twin-dashboard", pw["twin-dashboard"])
        dash.on_connect = lambda c, u, f, rc, p=None: c.subscribe("twin/v1/+/+/state", qos=1)
        dash.on_message = lambda c, u, m: states.put(m.topic)
        dash.connect("127.0.0.1", broker.port)
        dash.loop_start()
        try:
            assert states.get(timeout=WAIT).endswith("/state"), (run / "live.log").read_text()[-3000:]
        finally:
            dash.disconnect()
            dash.loop_stop()
        # What `ps` shows: clean where the password came from the environment.
        for proc in procs:
            line = _cmdline(proc.pid)
            assert b"--broker" in line
            for secret in pw.values():
                assert secret.encode() not in line
        assert pw["twin-ingest"].encode() in _cmdline(ingest.proc.pid)  # the careless form is visible...
    finally:
        for proc in procs:
            _stop(proc)
        ingest.stop()
        broker.stop()

    # ...but no log or produced file holds any password, in any usual encoding.
    files = [p for p in tmp_path.rglob("*") if p.is_file() and secrets_dir not in p.parents]
    names = {p.name for p in files}
    assert {"it-ingest.log", "live.log", "sensors.log", "mosquitto.log", "history.db", "passwd", "acl"} <= names
    assert b"twin-ingest" in (run / "broker" / "mosquitto.log").read_bytes()  # the logs did talk about the users
    assert _leaks(files, pw, tmp_path) == []
    # the scan itself finds a password where one is (so an empty result means something)
    assert _leaks([secrets_dir / "twin-live"], pw, tmp_path) == ["secrets/twin-live: password of twin-live"]


def _leaks(files: list[Path], pw: dict[str, str], root: Path) -> list[str]:
    found = []
    for path in files:
        data = path.read_bytes()
        for user, secret in pw.items():
            for form in {secret, quote(secret, safe=""), secret.encode().hex()}:
                if form.encode() in data:
                    found.append(f"{path.relative_to(root)}: password of {user}")
                    break
    return found
