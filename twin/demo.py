"""``twin demo``: the whole loop on one machine with embedded defaults.

Broker, ingest, live twin (state, alarms, KPIs), sensor fleet and dashboard run as separate processes that talk only
through MQTT and the historian, as they do in production.
"""

from __future__ import annotations

import json
import logging
import os
import secrets
import signal
import socket
import subprocess
import sys
import time
import urllib.request
import webbrowser
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO

import click

from twin.broker import broker_url_for, find_mosquitto
from twin.cli_options import config_option, log_level_option, setup_logging
from twin.config import load_complex
from twin.model import Complex
from twin.urls import parse_broker_url

__all__ = ["demo"]

log = logging.getLogger(__name__)

#: After the fleet stops, time for messages in flight to reach the ingest before it stops.
INGEST_GRACE_S = 2.0


def _free_port(preferred: int, host: str = "127.0.0.1") -> int:
    for port in (preferred, 0):
        with socket.socket() as s:
            try:
                s.bind((host, port))
            except OSError:
                continue
            return int(s.getsockname()[1])
    raise click.ClickException("no free TCP port")


def _wait_port(host: str, port: int, timeout: float, proc: subprocess.Popen) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise click.ClickException(f"process exited ({proc.returncode}) before listening on {port}")
        try:
            with socket.create_connection((host, port), timeout=0.5):
                return
        except OSError:
            time.sleep(0.1)
    raise click.ClickException(f"nothing listens on {host}:{port} after {timeout:.0f} s")


def _wait_ingest(port: int, timeout: float, proc: subprocess.Popen) -> None:
    """Wait until the ingest reports a broker connection on its /health endpoint."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise click.ClickException(f"ingest exited ({proc.returncode}) while starting")
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/health", timeout=1) as r:
                if json.loads(r.read()).get("broker_down_s") == 0:
                    return
        except (OSError, ValueError):
            pass
        time.sleep(0.2)
    raise click.ClickException(f"ingest did not connect to the broker within {timeout:.0f} s")


@dataclass
class _Part:
    name: str
    proc: subprocess.Popen
    log_file: IO[bytes] = field(repr=False)


class _Parts:
    """Child processes, started in order and stopped in reverse order."""

    def __init__(self, log_dir: Path):
        self.log_dir = log_dir
        self.parts: list[_Part] = []

    def start(self, name: str, args: list[str], env: dict[str, str] | None = None) -> subprocess.Popen:
        f = (self.log_dir / f"{name}.log").open("ab")
        proc = subprocess.Popen([sys.executable, "-m", "twin", *args], stdout=f, stderr=subprocess.STDOUT,
                                env={**os.environ, **env} if env else None)
        self.parts.append(_Part(name, proc, f))
        log.info("started %s (pid %d), log %s", name, proc.pid, self.log_dir / f"{name}.log")
        return proc

    def dead(self) -> list[_Part]:
        return [p for p in self.parts if p.proc.poll() is not None]

    def stop(self, name: str, timeout: float = 30) -> int | None:
        for p in self.parts:
            if p.name == name and p.proc.poll() is None:
                p.proc.send_signal(signal.SIGTERM)
                try:
                    return p.proc.wait(timeout)
                except subprocess.TimeoutExpired:
                    log.warning("%s did not stop in %.0f s; killing it", name, timeout)
                    p.proc.kill()
                    return p.proc.wait(5)
        return None

    def stop_all(self) -> None:
        for p in reversed(self.parts):
            self.stop(p.name)
            p.log_file.close()


@dataclass
class _Auth:
    passwd: Path
    acl: Path
    passwords: dict[str, str]
    users: Path
    session_key: Path
    admin_password_file: Path


#: The dashboard user the secure demo creates.
DEMO_ADMIN = "admin"


def _prepare_auth(complex_: Complex, config: str, auth_dir: Path) -> _Auth:
    """Broker accounts and ACL (as `twin mqtt-auth`), a dashboard admin and session key: created once, kept."""
    from twin.security.cli import write_broker_auth, write_private

    secrets_dir = auth_dir / "secrets"
    _, passwords, _ = write_broker_auth(complex_, auth_dir, secrets_dir)
    admin_file = secrets_dir / "dashboard-admin"
    session_key = secrets_dir / "dashboard-session-key"
    if not session_key.exists():
        write_private(session_key, secrets.token_urlsafe(48) + "\n")
    users = auth_dir / "dashboard-users.yaml"
    if not admin_file.exists() or not users.exists():
        password = secrets.token_urlsafe(18)
        add = subprocess.run(
            [sys.executable, "-m", "twin", "dashboard-user", "add", DEMO_ADMIN, "--users", str(users),
             "--role", "admin", "--config", config, "--password-stdin", "--replace"],
            input=password + "\n", text=True, capture_output=True,
        )
        if add.returncode != 0:
            raise click.ClickException(f"could not create the dashboard user: {add.stderr.strip()[-500:]}")
        write_private(admin_file, password + "\n")
    return _Auth(auth_dir / "passwd", auth_dir / "acl", passwords, users, session_key, admin_file)


@click.command("demo")
@config_option
@click.option("--data-dir", default="twin-data", show_default=True, type=click.Path(file_okay=False),
              help="Where the historian, spool, broker data and logs go.")
@click.option("--broker", envvar="TWIN_BROKER", default=None, metavar="URL",
              help="Use this broker instead of starting one [env: TWIN_BROKER].")
@click.option("--port", type=click.IntRange(1, 65535), default=8050, show_default=True,
              help="Dashboard port (another free one is used when taken).")
@click.option("--speed", type=click.FloatRange(min=1.0), default=1.0, show_default=True,
              help="Sensor fleet speed factor (see `twin sensors --help`).")
@click.option("--duration", type=click.FloatRange(min=1.0), default=None,
              help="Run headless for this many seconds, then stop everything and exit 0.")
@click.option("--no-browser", is_flag=True, help="Do not open a web browser.")
@click.option("--broker-engine", type=click.Choice(["auto", "mosquitto", "amqtt"]), default="auto",
              show_default=True, help="Broker to start when --broker is not given: auto = Mosquitto "
              "if installed, else the embedded pure-Python amqtt broker.")
@click.option("--secure", is_flag=True,
              help="Accounts on: a Mosquitto with the accounts and ACL of `twin mqtt-auth` (each part logs in "
              "with its own service account) and a dashboard login (user 'admin'). Passwords are created in "
              "DATA_DIR/auth/secrets (mode 0600) and never printed. Needs Mosquitto.")
@log_level_option
def demo(config: str, data_dir: str, broker: str | None, port: int, speed: float,
         duration: float | None, no_browser: bool, broker_engine: str, secure: bool, log_level: str) -> None:
    """Run the whole twin locally: broker, sensor fleet, ingest, live twin and dashboard.

    Ctrl-C stops every part cleanly. Logs of each part are in DATA_DIR/logs.
    """
    setup_logging(log_level)
    complex_ = load_complex(config)  # fail fast, before starting anything
    data = Path(data_dir).resolve()
    (data / "logs").mkdir(parents=True, exist_ok=True)
    auth: _Auth | None = None
    if secure:
        if broker is not None:
            raise click.BadParameter("--secure starts its own broker with accounts; leave out --broker",
                                     param_hint="--broker")
        if broker_engine == "amqtt" or find_mosquitto() is None:
            raise click.BadParameter("--secure needs Mosquitto (apt-get install mosquitto): the embedded "
                                     "broker has no accounts", param_hint="--broker-engine")
        broker_engine = "mosquitto"
        auth = _prepare_auth(complex_, config, data / "auth")
    historian = f"sqlite://{data / 'history.db'}"
    parts = _Parts(data / "logs")
    stop_requested = False

    def on_signal(*_: object) -> None:
        nonlocal stop_requested
        stop_requested = True

    signal.signal(signal.SIGINT, on_signal)
    signal.signal(signal.SIGTERM, on_signal)
    ok = True
    try:
        if broker is None:
            engine = broker_engine
            if engine == "auto":
                engine = "mosquitto" if find_mosquitto() else "amqtt"
            bport = _free_port(1883)
            access = ["--password-file", str(auth.passwd), "--acl-file", str(auth.acl)] if auth else []
            proc = parts.start("broker", ["broker", "--port", str(bport), "--engine", engine,
                                          "--data-dir", str(data / "broker"), *access])
            _wait_port("127.0.0.1", bport, 20, proc)
            broker = broker_url_for(engine, "127.0.0.1", bport)
        parse_broker_url(broker)

        def common(account: str) -> tuple[list[str], dict[str, str] | None]:
            """Broker flags and environment of one part: its own account when secure (password by env)."""
            if auth is None:
                return ["--broker", broker, "--config", config], None
            url = broker.replace("mqtt://", f"mqtt://{account}@", 1)
            return ["--broker", url, "--config", config], {"TWIN_MQTT_PASSWORD": auth.passwords[account]}

        iport = _free_port(9108)
        args, env = common("twin-ingest")
        ingest_proc = parts.start("ingest", ["ingest", *args, "--historian", historian,
                                             "--spool-dir", str(data / "spool"), "--http-port", str(iport),
                                             "--log-level", log_level], env)
        args, env = common("twin-live")
        parts.start("live", ["live", *args, "--historian", historian, "--data-dir", str(data / "live"),
                             "--log-level", log_level], env)
        dport = _free_port(port)
        args, env = common("twin-dashboard")
        login = ["--users", str(auth.users), "--secret-file", str(auth.session_key)] if auth else []
        dash_proc = parts.start("dashboard", ["dashboard", *args, "--historian", historian,
                                              "--alarm-journal", str(data / "live" / "alarms.jsonl"),
                                              "--port", str(dport), *login, "--log-level", log_level], env)
        # the fleet starts once the ingest listens, so the first readings are not missed
        _wait_ingest(iport, 60, ingest_proc)
        args, env = common("twin-sensors")
        parts.start("sensors", ["sensors", *args, "--speed", str(speed), "--log-level", log_level], env)
        _wait_port("127.0.0.1", dport, 60, dash_proc)
        dash_url = f"http://127.0.0.1:{dport}/"
        click.echo(f"{complex_.summary()}")
        click.echo(f"dashboard: {dash_url}")
        click.echo(f"broker:    {broker}")
        click.echo(f"historian: {historian}")
        click.echo(f"ingest:    http://127.0.0.1:{iport}/metrics  /health")
        if auth is not None:
            click.echo(f"accounts:  {auth.passwd.parent} (passwords in {auth.passwd.parent / 'secrets'}, mode 0600)")
            click.echo(f"login:     user 'admin', password in {auth.admin_password_file}")
        click.echo("press Ctrl-C to stop" if duration is None else f"running for {duration:.0f} s")
        if not no_browser and duration is None:
            webbrowser.open(dash_url)
        deadline = None if duration is None else time.monotonic() + duration
        while not stop_requested and (deadline is None or time.monotonic() < deadline):
            dead = parts.dead()
            if dead:
                for p in dead:
                    click.echo(f"error: {p.name} exited with {p.proc.returncode}; see "
                               f"{parts.log_dir / (p.name + '.log')}", err=True)
                ok = False
                break
            time.sleep(0.2)
    finally:
        click.echo("stopping...")
        # sensors first (they flush), then ingest (it stores what it holds), then the rest
        for name in ("sensors", "ingest", "live", "dashboard", "broker"):
            if name == "ingest":
                time.sleep(INGEST_GRACE_S)
            code = parts.stop(name)
            if code not in (None, 0, -signal.SIGTERM):
                click.echo(f"warning: {name} stopped with exit code {code}", err=True)
        parts.stop_all()
    if not ok:
        sys.exit(1)
    click.echo("stopped cleanly")
