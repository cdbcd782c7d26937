"""The compose broker's files with `twin mqtt-auth` output, run for real (no Docker here).

docker/mosquitto/entrypoint.sh is run with its directories pointed at a temp copy; the
image's own entrypoint is absent here, so the script ends there, after writing the
password file, the ACL and the TLS listener config. A real Mosquitto then runs the
stack's mosquitto.conf with only paths and ports rewritten.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest
from click.testing import CliRunner

from tests.fixtures.servers import free_port, read_log, require_binary, stop, wait_port
from tests.test_security_mqtt_auth import A_DEV, B_DEV, A, B, Client, tel
from twin.security import SERVICE_ACCOUNTS, acl_text, device_username
from twin.security.cli import mqtt_auth

ROOT = Path(__file__).resolve().parent.parent
COMPOSE_USERS = ("twin-ingest", "twin-sensors", "twin-live", "twin-dashboard", "twin-healthcheck")
ENV_PASSWORDS = {f"TWIN_MQTT_{u.removeprefix('twin-').upper()}_PASSWORD": f"env-{u}-pw" for u in COMPOSE_USERS}
ENV_PASSWORDS["TWIN_MQTT_HEALTH_PASSWORD"] = ENV_PASSWORDS.pop("TWIN_MQTT_HEALTHCHECK_PASSWORD")


def test_fallback_acl_is_the_services_part_of_the_generated_one():
    committed = (ROOT / "docker/mosquitto/acl").read_text()
    rules = [ln for ln in committed.splitlines() if ln and not ln.startswith("#")]
    expected = acl_text([a for a in SERVICE_ACCOUNTS if a.username in COMPOSE_USERS])
    assert rules == [ln for ln in expected.splitlines() if ln and not ln.startswith("#")]


def _entrypoint(config_dir: Path, secrets_dir: Path) -> subprocess.CompletedProcess:
    return subprocess.run(
        ["sh", str(config_dir / "entrypoint.sh"), "mosquitto"],
        env={
            "PATH": os.environ["PATH"],
            "TWIN_MOSQUITTO_CONFIG_DIR": str(config_dir),
            "TWIN_MOSQUITTO_SECRETS_DIR": str(secrets_dir),
            **ENV_PASSWORDS,
        },
        capture_output=True,
        text=True,
        timeout=60,
    )


@pytest.fixture
def stack_broker(tmp_path):
    if os.geteuid() != 0:
        pytest.fail("the entrypoint chowns files to the mosquitto user: run as root (as the container does)")
    config = tmp_path / "config"
    shutil.copytree(ROOT / "docker/mosquitto", config)
    r = CliRunner().invoke(
        mqtt_auth,
        [
            "--config",
            "tiny",
            "--out",
            str(config / "auth"),
            "--secrets",
            str(tmp_path / "secrets"),
            "--tls",
            "--hostname",
            "127.0.0.1",
        ],
    )
    assert r.exit_code == 0, r.output
    secrets_tmpfs = tmp_path / "tmpfs"
    res = _entrypoint(config, secrets_tmpfs)
    assert "accounts and ACL from" in res.stderr and "TLS listener on 8883" in res.stderr, res.stderr
    for value in ENV_PASSWORDS.values():
        assert value not in res.stderr + res.stdout
    plain, tls = free_port(), free_port()
    conf = (config / "mosquitto.conf").read_text()
    conf = conf.replace("/mosquitto/secrets", str(secrets_tmpfs)).replace("/mosquitto/data", str(tmp_path / "data"))
    conf = conf.replace("listener 1883 0.0.0.0", f"listener {plain} 127.0.0.1").replace(
        "log_dest stdout", "log_dest stderr"
    )
    conf += "user root\n"  # the test's temp dirs belong to root
    (tmp_path / "data").mkdir()
    (tmp_path / "run.conf").write_text(conf)
    tls_conf = secrets_tmpfs / "conf.d" / "tls.conf"
    tls_conf.write_text(tls_conf.read_text().replace("listener 8883 0.0.0.0", f"listener {tls} 127.0.0.1"))
    log = (tmp_path / "mosquitto.log").open("ab")
    proc = subprocess.Popen([require_binary("mosquitto"), "-c", str(tmp_path / "run.conf")], stdout=log, stderr=log)
    try:
        wait_port(plain, 10, proc)
        wait_port(tls, 10, proc)
    except Exception as exc:
        stop(proc)
        raise RuntimeError(read_log(tmp_path / "mosquitto.log")) from exc
    try:
        yield plain, tls, tmp_path / "secrets", secrets_tmpfs, config
    finally:
        stop(proc)
        log.close()


@pytest.mark.mosquitto
def test_stack_broker_takes_env_services_generated_devices_and_tls(stack_broker):
    plain, tls, secrets, tmpfs, config = stack_broker
    assert oct((tmpfs / "passwd").stat().st_mode & 0o777) == "0o600"
    text = (tmpfs / "passwd").read_text()
    assert all(re.fullmatch(r"[^:]+:\$7\$\d+\$[^$]+\$[^$]+", ln) for ln in text.splitlines())
    assert len(re.findall(r"^twin-ingest:", text, re.M)) == 1  # the .env password, not the generated one
    ca = config / "auth" / "tls" / "ca.crt"
    made: list[Client] = []
    try:
        ingest = Client(plain, "twin-ingest", ENV_PASSWORDS["TWIN_MQTT_INGEST_PASSWORD"])
        made.append(ingest)
        assert ingest.rc == 0
        ingest.subscribe("twin/v1/#")
        generated_ingest = (secrets / "twin-ingest").read_text().strip()
        made.append(refused := Client(plain, "twin-ingest", generated_ingest))
        assert refused.rc != 0
        made.append(anon := Client(plain, None, None))
        assert anon.rc != 0
        me = device_username(A, A_DEV)
        made.append(dev := Client(tls, me, (secrets / me).read_text().strip(), tls_ca=ca))
        assert dev.rc == 0
        made.append(other := Client(tls, me, (secrets / me).read_text().strip(), tls_ca=ca))
        assert other.publish(tel(B, B_DEV), b"forged") == 135
        assert dev.publish(tel(A, A_DEV), b"over-tls") == 0
        assert ingest.received_until(b"over-tls") == []
    finally:
        for c in made:
            c.close()


@pytest.mark.mosquitto
def test_without_generated_files_only_services_and_no_tls(tmp_path):
    config = tmp_path / "config"
    shutil.copytree(ROOT / "docker/mosquitto", config, ignore=shutil.ignore_patterns("auth"))
    if os.geteuid() != 0:
        pytest.fail("run as root (as the container does)")
    res = _entrypoint(config, tmp_path / "tmpfs")
    assert "only the stack's services can log in" in res.stderr and "TLS listener off" in res.stderr
    assert (tmp_path / "tmpfs" / "acl").read_text() == (config / "acl").read_text()
    assert (tmp_path / "tmpfs" / "conf.d" / "tls.conf").read_text() == ""
    users = re.findall(r"^([^:]+):", (tmp_path / "tmpfs" / "passwd").read_text(), re.M)
    assert sorted(users) == sorted(COMPOSE_USERS)


@pytest.mark.mosquitto
def test_broker_healthcheck_logs_in_without_its_password_on_a_command_line(stack_broker, tmp_path):
    """The compose healthcheck, run by sh as Docker runs CMD-SHELL, against the stack's broker."""
    import yaml

    plain = stack_broker[0]
    compose = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
    test = compose["services"]["mosquitto"]["healthcheck"]["test"]
    assert test[0] == "CMD-SHELL"
    script = test[1].replace("$$", "$").replace("-p 1883", f"-p {plain}")  # compose unescapes $$
    # a mosquitto_sub first on PATH that records its argv, then runs the real one
    spy_dir = tmp_path / "spy"
    spy_dir.mkdir()
    argv_log = tmp_path / "argv.log"
    (spy_dir / "mosquitto_sub").write_text(
        f'#!/bin/sh\nprintf "%s\\n" "$*" >> {argv_log}\nexec {require_binary("mosquitto_sub")} "$@"\n'
    )
    (spy_dir / "mosquitto_sub").chmod(0o755)
    env = {**os.environ, "PATH": f"{spy_dir}:{os.environ['PATH']}"}
    good = ENV_PASSWORDS["TWIN_MQTT_HEALTH_PASSWORD"]
    ok = subprocess.run(["sh", "-c", script], env={**env, "TWIN_MQTT_HEALTH_PASSWORD": good},
                        capture_output=True, text=True, timeout=30)
    assert ok.returncode == 0, ok.stderr
    bad = subprocess.run(["sh", "-c", script], env={**env, "TWIN_MQTT_HEALTH_PASSWORD": "wrong-password"},
                         capture_output=True, text=True, timeout=30)
    assert bad.returncode != 0  # the check really logs in: a wrong password fails it
    calls = argv_log.read_text().splitlines()
    assert len(calls) == 2 and all("127.0.0.1" in c for c in calls)
    assert not any(good in c or "wrong-password" in c for c in calls), calls
    assert not [p for p in Path("/tmp").glob("tmp*/mosquitto_sub") if good in p.read_text(errors="replace")]
