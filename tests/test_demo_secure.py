"""`twin demo --secure`: the whole demo with broker accounts and a dashboard login, and no secret leaks.

Every part logs in to a real Mosquitto with its own service account (password by environment
variable), the dashboard asks for a login; after the run, no log, database or produced file holds
any password or key, in any usual encoding, and no process command line ever carried one.
"""

from __future__ import annotations

import subprocess
import sys
import time
import urllib.error
import urllib.request

import paho.mqtt.client as mqtt
import psutil
import pytest

from tests.fixtures.servers import free_port, require_binary
from tests.test_security_secrets import _leaks
from twin.config import load_complex
from twin.historian import open_historian

pytestmark = [pytest.mark.slow, pytest.mark.mosquitto]


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args, **kwargs):  # noqa: ANN002, ANN003
        return None


def _status(url: str) -> int | None:
    try:
        with urllib.request.build_opener(_NoRedirect).open(url, timeout=3) as r:
            return r.status
    except urllib.error.HTTPError as exc:
        return exc.code
    except OSError:
        return None


def _anonymous_refused(port: int) -> bool:
    c = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id="anon-probe", protocol=mqtt.MQTTv5)
    codes: list[object] = []
    c.on_connect = lambda cl, u, f, rc, p=None: codes.append(rc)
    c.connect("127.0.0.1", port)
    deadline = time.monotonic() + 10
    while not codes and time.monotonic() < deadline:
        c.loop(0.1)
    c.disconnect()
    return bool(codes) and getattr(codes[0], "is_failure", False)


def test_secure_demo_logs_in_everywhere_and_leaks_no_secret(tmp_path):
    require_binary("mosquitto")
    data = tmp_path / "data"
    port = free_port()
    out = (tmp_path / "demo.out").open("wb")
    proc = subprocess.Popen(
        [sys.executable, "-m", "twin", "demo", "--secure", "--duration", "25", "--no-browser",
         "--data-dir", str(data), "--port", str(port)],
        stdout=out, stderr=subprocess.STDOUT,
    )
    secrets_dir = data / "auth" / "secrets"
    statuses: dict[str, int | None] = {}
    cmdlines: list[str] = []
    anonymous_refused = None
    try:
        deadline = time.monotonic() + 90
        while time.monotonic() < deadline and proc.poll() is None and "login" not in statuses:
            if _status(f"http://127.0.0.1:{port}/health") is not None:
                statuses = {"root": _status(f"http://127.0.0.1:{port}/"),
                            "login": _status(f"http://127.0.0.1:{port}/login")}
            time.sleep(0.5)
        for child in psutil.Process(proc.pid).children(recursive=True):
            try:
                cmdlines.append(" ".join(child.cmdline()))
            except psutil.Error:
                pass
        broker_conf = (data / "broker" / "mosquitto.conf").read_text()
        bport = int(broker_conf.split()[1])
        anonymous_refused = _anonymous_refused(bport)
        code = proc.wait(180)
    finally:
        if proc.poll() is None:
            proc.kill()
        out.close()
    text = (tmp_path / "demo.out").read_text()
    assert code == 0, text
    assert "stopped cleanly" in text
    assert "allow_anonymous false" in broker_conf and "acl_file" in broker_conf
    assert anonymous_refused, "the secure demo's broker let an anonymous client in"
    assert statuses.get("login") == 200, statuses
    assert statuses.get("root") in (302, 303, 401), f"the dashboard served / without a login: {statuses}"

    # every part got in with its own account: readings of every sensor, KPIs from the live twin
    with open_historian(f"sqlite://{data / 'history.db'}") as h:
        counts = h.counts()
        letters = h.dead_letter_counts()
    sensors = set(load_complex("demo").sensors)
    assert sensors <= set(counts), f"no readings from {sorted(sensors - set(counts))[:10]}"
    assert any(s.startswith("kpi.") for s in counts), "the live twin wrote no KPIs"
    assert letters == {}
    for part in ("ingest", "live", "dashboard", "sensors"):
        log = (data / "logs" / f"{part}.log").read_text()
        assert "not authorised" not in log.lower() and "refused" not in log.lower(), f"{part}: {log[-2000:]}"

    # no secret in any log or produced file, nor in any command line
    secrets = {p.name: p.read_text().strip() for p in secrets_dir.iterdir() if p.is_file()}
    assert {"twin-ingest", "twin-live", "twin-dashboard", "twin-sensors", "dashboard-admin",
            "dashboard-session-key"} <= set(secrets)
    files = [p for p in tmp_path.rglob("*") if p.is_file() and secrets_dir not in p.parents]
    assert {"ingest.log", "broker.log", "history.db", "passwd", "dashboard-users.yaml"} <= {p.name for p in files}
    assert _leaks(files, secrets, tmp_path) == []
    assert len(cmdlines) >= 5, cmdlines
    assert [c for c in cmdlines if any(s in c for s in secrets.values())] == []
    # the scan finds a secret where one is, so an empty result means something
    assert _leaks([secrets_dir / "twin-live"], secrets, tmp_path) == [
        "data/auth/secrets/twin-live: password of twin-live"
    ]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["demo", "--secure", "--broker", "mqtt://127.0.0.1:1"], "--secure starts its own broker"),
        (["demo", "--secure", "--broker-engine", "amqtt"], "needs Mosquitto"),
        (["broker", "--acl-file", "{f}"], "--acl-file needs --password-file"),
        (["broker", "--engine", "amqtt", "--password-file", "{f}"], "amqtt broker has no accounts"),
        (["broker", "--password-file", "{missing}"], "does not exist"),
    ],
)
def test_bad_secure_flags_are_refused_before_anything_starts(tmp_path, args, message):
    from click.testing import CliRunner

    from twin.cli import cli

    f = tmp_path / "acl"
    f.write_text("user x\n")
    args = [a.format(f=f, missing=tmp_path / "nope") for a in args]
    if args[0] == "demo":
        args += ["--data-dir", str(tmp_path / "d"), "--no-browser", "--duration", "1"]
    else:
        args += ["--data-dir", str(tmp_path / "b")]
    r = CliRunner().invoke(cli, args)
    assert r.exit_code == 2, r.output
    assert message in r.output
    assert not (tmp_path / "d" / "logs" / "broker.log").exists()
