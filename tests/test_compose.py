"""The production stack's files, checked by parsing them (no Docker engine runs here).

docker-compose.yml: every service has a health check and a restart policy, every
image is pinned to a version, every secret comes from the env file (and .env.example
names every variable the stack uses), data lives in named volumes, the simulated
fleet is behind a profile, and our services run real `twin` subcommands with options
that exist. Plus the small scripts the containers run.
"""

from __future__ import annotations

import http.server
import os
import re
import subprocess
import sys
import threading
from importlib.metadata import entry_points
from pathlib import Path

import pytest
import yaml

from tests.fixtures.servers import free_port
from twin.historian.influx_url import parse_influx_url

ROOT = Path(__file__).resolve().parent.parent
COMPOSE = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
SERVICES: dict = COMPOSE["services"]
OUR_SERVICES = {name: s for name, s in SERVICES.items() if str(s.get("image", "")).startswith("sandan-twin:")}
SECRET = re.compile(r"PASSWORD|TOKEN|SECRET", re.I)
VAR = re.compile(r"\$\{(?P<name>[A-Za-z_][A-Za-z0-9_]*)(?:(?P<op>:?[-?])(?P<arg>[^}]*))?\}")


def env_example() -> dict[str, str]:
    out = {}
    for line in (ROOT / ".env.example").read_text().splitlines():
        line = line.strip()
        if line and not line.startswith("#"):
            key, _, value = line.partition("=")
            out[key.strip()] = value.strip()
    return out


def substitute(text: str, env: dict[str, str]) -> str:
    """Compose-style ${VAR}, ${VAR:-default}, ${VAR:?error} and $$."""

    def one(m: re.Match[str]) -> str:
        name, op, arg = m.group("name"), m.group("op"), m.group("arg")
        if env.get(name):
            return env[name]
        if op and op.endswith("?"):
            raise KeyError(f"{name} is required: {arg}")
        return arg or ""

    return VAR.sub(one, text).replace("$$", "$")


def all_strings(node) -> list[str]:
    if isinstance(node, dict):
        return [s for k, v in node.items() for s in all_strings(k) + all_strings(v)]
    if isinstance(node, list):
        return [s for v in node for s in all_strings(v)]
    return [node] if isinstance(node, str) else []


def test_the_expected_services_exist():
    assert set(SERVICES) == {"mosquitto", "influxdb", "ingest", "live", "dashboard", "sensors"}
    assert set(OUR_SERVICES) == {"ingest", "live", "dashboard", "sensors"}


@pytest.mark.parametrize("name", sorted(SERVICES))
def test_every_service_has_a_health_check_and_a_restart_policy(name):
    svc = SERVICES[name]
    test = svc.get("healthcheck", {}).get("test")
    assert test and test[0] in ("CMD", "CMD-SHELL") and len(test) > 1, f"{name} has no health check"
    assert svc.get("restart") in {"always", "unless-stopped", "on-failure"}, f"{name} does not restart"


@pytest.mark.parametrize("name", sorted(SERVICES))
def test_every_image_is_pinned_to_a_version(name):
    image = substitute(SERVICES[name]["image"], env_example())
    repo, _, tag = image.rpartition(":")
    assert repo and re.fullmatch(r"\d+\.\d+\.\d+([-.][\w.]+)?", tag), f"{name}: {image} is not pinned"


def test_our_image_version_is_the_package_version():
    version = re.search(r'^version = "([^"]+)"', (ROOT / "pyproject.toml").read_text(), re.M).group(1)
    assert env_example()["TWIN_VERSION"] == version
    assert f"${{TWIN_VERSION:-{version}}}" in OUR_SERVICES["ingest"]["image"]


def test_every_secret_comes_from_the_env_file():
    example = env_example()
    for name, svc in SERVICES.items():
        env = svc.get("environment", {})
        assert isinstance(env, dict), f"{name}: use a mapping for environment"
        for key, value in env.items():
            if SECRET.search(key):
                m = VAR.fullmatch(str(value))
                assert m and m.group("op") == ":?", f"{name}.{key} must be ${{VAR:?...}} from .env, got {value!r}"
                assert m.group("name") in example, f"{m.group('name')} missing from .env.example"
    for text in all_strings(COMPOSE):
        for m in VAR.finditer(text):
            assert m.group("name") in example, f"${{{m.group('name')}}} is used but not in .env.example"
            if SECRET.search(m.group("name")):
                assert m.group("op") == ":?", f"secret {m.group('name')} must not have a default"


def test_env_example_secrets_are_placeholders():
    for key, value in env_example().items():
        if SECRET.search(key):
            assert value.startswith("CHANGE_ME"), f"{key} in .env.example must be a CHANGE_ME placeholder"


def test_stack_resolves_with_the_example_env():
    env = env_example()
    for text in all_strings(COMPOSE):
        substitute(text, env)  # no required variable is missing
    with pytest.raises(KeyError, match="INFLUXDB_TOKEN"):
        substitute(OUR_SERVICES["ingest"]["environment"]["INFLUXDB_TOKEN"], {})


def test_data_lives_in_named_volumes():
    declared = set(COMPOSE.get("volumes", {}))
    data_dirs = {
        "mosquitto": "/mosquitto/data",
        "influxdb": "/var/lib/influxdb2",
        "ingest": "/var/lib/twin/spool",
        "live": "/var/lib/twin/live",
    }
    for name, svc in SERVICES.items():
        for mount in svc.get("volumes", []):
            source, target, *mode = mount.split(":")
            if source.startswith((".", "/")):
                assert mode == ["ro"], f"{name}: bind mount {mount} must be read-only config"
            else:
                assert source in declared, f"{name}: volume {source} is not declared"
        if name in data_dirs:
            named = {m.split(":")[1]: m.split(":")[0] for m in svc["volumes"] if not m.startswith((".", "/"))}
            assert data_dirs[name] in named, f"{name}: {data_dirs[name]} must be a named volume"
    used = {m.split(":")[0] for s in SERVICES.values() for m in s.get("volumes", []) if not m.startswith((".", "/"))}
    assert used == declared


def test_simulated_fleet_is_behind_a_profile():
    assert SERVICES["sensors"]["profiles"] == ["simulated"]
    assert all("profiles" not in s for n, s in SERVICES.items() if n != "sensors")


def test_mosquitto_has_persistence_passwords_and_acl_and_no_anonymous():
    conf = (ROOT / "docker/mosquitto/mosquitto.conf").read_text()
    lines = {ln.split()[0]: ln.split(None, 1)[1] for ln in conf.splitlines() if ln.strip() and not ln.startswith("#")}
    assert lines["persistence"] == "true"
    assert lines["allow_anonymous"] == "false"
    assert lines["password_file"] == "/mosquitto/secrets/passwd"
    # the entrypoint copies the ACL (generated auth/acl, else the fallback acl) into the tmpfs
    assert lines["acl_file"] == "/mosquitto/secrets/acl"
    assert lines["include_dir"] == "/mosquitto/secrets/conf.d"  # the TLS listener
    svc = SERVICES["mosquitto"]
    assert "./docker/mosquitto:/mosquitto/config:ro" in svc["volumes"]
    assert "/mosquitto/secrets" in svc["tmpfs"]
    assert any(p.endswith(":8883") for p in svc["ports"])
    acl_users = set(re.findall(r"^user (\S+)", (ROOT / "docker/mosquitto/acl").read_text(), re.M))
    script = (ROOT / "docker/mosquitto/entrypoint.sh").read_text()
    assert set(re.findall(r"printf '([\w-]+):%s", script)) == acl_users
    for var in svc["environment"]:
        assert var in script
    # each of our services logs in as a user the ACL knows, with that user's password variable
    for s in OUR_SERVICES.values():
        user = re.match(r"mqtt://([\w-]+)@mosquitto:1883$", s["environment"]["TWIN_BROKER"]).group(1)
        assert user in acl_users
        assert f"TWIN_MQTT_{user.removeprefix('twin-').upper()}_PASSWORD" in s["environment"]["TWIN_MQTT_PASSWORD"]


def test_influxdb_is_set_up_from_the_env_file():
    env = SERVICES["influxdb"]["environment"]
    assert env["DOCKER_INFLUXDB_INIT_MODE"] == "setup"
    for key in ("USERNAME", "PASSWORD", "ORG", "BUCKET", "ADMIN_TOKEN", "RETENTION"):
        assert VAR.fullmatch(env[f"DOCKER_INFLUXDB_INIT_{key}"]), key
    assert env["DOCKER_INFLUXDB_INIT_ADMIN_TOKEN"] == OUR_SERVICES["ingest"]["environment"]["INFLUXDB_TOKEN"]


def test_our_services_run_real_twin_commands(monkeypatch):
    commands = {ep.name: ep for ep in entry_points(group="twin.commands")}
    example = env_example()
    for name, svc in OUR_SERVICES.items():
        args = svc["command"]
        assert args[0] in commands, f"{name}: `twin {args[0]}` does not exist"
        env = {k: substitute(str(v), example) for k, v in svc["environment"].items()}
        for k, v in env.items():
            monkeypatch.setenv(k, v)
        cmd = commands[args[0]].load()
        cmd.make_context(args[0], list(args[1:]))  # unknown options or bad values raise here
        if "TWIN_HISTORIAN" in env:
            settings = parse_influx_url(env["TWIN_HISTORIAN"], env=env)
            assert (settings.host, settings.api, settings.database, settings.org) == (
                "influxdb",
                "v2",
                example["INFLUXDB_BUCKET"],
                example["INFLUXDB_ORG"],
            )
            assert settings.retention.raw_ms == 35 * 86_400_000


def test_dockerfile_pins_its_base_and_ships_the_scripts():
    text = (ROOT / "Dockerfile").read_text()
    for base in re.findall(r"^FROM (\S+)", text, re.M):
        assert re.fullmatch(r"python:\d+\.\d+\.\d+-slim-\w+", base), base
    assert "COPY docker/healthcheck.py /usr/local/bin/twin-healthcheck" in text
    assert 'ENTRYPOINT ["twin-entrypoint"]' in text
    assert re.search(r"^USER twin$", text, re.M)
    for svc in OUR_SERVICES.values():
        assert svc["healthcheck"]["test"][1] == "twin-healthcheck"


def test_ci_runs_the_suite_with_an_influxdb2_service_container():
    ci = yaml.safe_load((ROOT / ".github/workflows/ci.yml").read_text())
    tests = ci["jobs"]["tests"]
    image = tests["services"]["influxdb"]["image"]
    assert image == SERVICES["influxdb"]["image"]
    assert {"INFLUXDB_URL", "INFLUXDB_TOKEN", "INFLUXDB_ORG"} <= set(tests["env"])
    assert any("bash .ci/run" in step.get("run", "") for step in tests["steps"])
    compose = ci["jobs"]["compose"]
    runs = " ".join(step.get("run", "") for step in compose["steps"])
    assert "docker compose" in runs and "--profile simulated" in runs


# ---- the scripts the containers run ------------------------------------------------


def _sh(script: str, env: dict[str, str], *args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        ["sh", str(ROOT / script), *args],
        env={"PATH": os.environ["PATH"], **env},
        capture_output=True,
        text=True,
        timeout=30,
    )


def test_mosquitto_entrypoint_refuses_placeholders_and_empty_passwords():
    good = {f"TWIN_MQTT_{u}_PASSWORD": "s3cret" for u in ("INGEST", "SENSORS", "LIVE", "DASHBOARD", "HEALTH")}
    r = _sh(
        "docker/mosquitto/entrypoint.sh",
        {**good, "TWIN_MQTT_SENSORS_PASSWORD": "CHANGE_ME-sensors"},
    )
    assert r.returncode == 2 and "TWIN_MQTT_SENSORS_PASSWORD still holds the placeholder" in r.stderr
    r = _sh("docker/mosquitto/entrypoint.sh", {k: v for k, v in good.items() if "HEALTH" not in k})
    assert r.returncode == 2 and "TWIN_MQTT_HEALTH_PASSWORD is empty" in r.stderr
    assert "s3cret" not in r.stderr


def test_twin_entrypoint_refuses_placeholders_and_runs_twin():
    r = _sh("docker/twin-entrypoint.sh", {"INFLUXDB_TOKEN": "CHANGE_ME-influxdb-token"}, "--version")
    assert r.returncode == 2 and "INFLUXDB_TOKEN still holds the placeholder" in r.stderr
    r = _sh("docker/twin-entrypoint.sh", {"INFLUXDB_TOKEN": "real"}, "--version")
    assert r.returncode == 0, r.stderr


def test_healthcheck_script():
    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self):  # noqa: N802
            self.send_response(200 if self.path == "/health" else 503)
            self.end_headers()

        def log_message(self, *args):
            pass

    server = http.server.HTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    port = server.server_address[1]
    check = lambda target: (  # noqa: E731
        subprocess.run(
            [sys.executable, str(ROOT / "docker/healthcheck.py"), target],  # noqa: E731
            capture_output=True,
            timeout=30,
        ).returncode
    )
    try:
        assert check(f"http://127.0.0.1:{port}/health") == 0
        assert check(f"http://127.0.0.1:{port}/sick") == 1
        assert check(f"tcp://127.0.0.1:{port}") == 0
        assert check(f"tcp://127.0.0.1:{free_port()}") == 1
    finally:
        server.shutdown()


def test_dashboard_runs_in_production_mode_with_users_and_key_files():
    svc = OUR_SERVICES["dashboard"]
    args = svc["command"]
    assert "--production" in args and "--dev-secret" not in args
    opt = {a: args[i + 1] for i, a in enumerate(args[:-1]) if a.startswith("--")}
    declared = COMPOSE["secrets"]
    # users file and session key come as compose secrets from files made by `twin dashboard-user`
    assert set(svc["secrets"]) == {"dashboard_users", "dashboard_session_key"} <= set(declared)
    assert opt["--users"] == "/run/secrets/dashboard_users"
    assert opt["--secret-file"] == "/run/secrets/dashboard_session_key"
    for name in svc["secrets"]:
        source = declared[name]["file"]
        assert source.startswith("./secrets/"), source
        assert not (ROOT / source).exists() or subprocess.run(
            ["git", "-C", str(ROOT), "ls-files", "--error-unmatch", source], capture_output=True
        ).returncode != 0, f"{source} must not be committed"
    assert not any(k.startswith("TWIN_DASHBOARD_SECRET") for k in svc["environment"])  # the key is in a file only
    # rate limit and audit log on a named volume the image's user owns
    state = opt["--state-dir"]
    assert f"dashboard-state:{state}" in svc["volumes"]
    assert state in (ROOT / "Dockerfile").read_text()
    # HTTPS-only cookies: browsers come through a reverse proxy on the host, not straight to the port
    assert opt["--proxy-hops"] == "1"
    assert all(p.startswith("127.0.0.1:") for p in svc["ports"])
