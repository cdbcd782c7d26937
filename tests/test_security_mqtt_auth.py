"""`twin mqtt-auth`: accounts and ACL from the model, checked in a real Mosquitto.

The broker runs with exactly the generated password file and ACL (plus one
test-only operator that may publish device commands, so a device has something it
is allowed to read). Denial is observed, not assumed: after a forbidden publish
the same client publishes an allowed marker; in-order delivery means a watcher
that got the marker would already have got the forbidden message.
"""

from __future__ import annotations

import base64
import hashlib
import queue
import stat
import uuid
from pathlib import Path

import paho.mqtt.client as mqtt
import pytest
from click.testing import CliRunner
from paho.mqtt.enums import CallbackAPIVersion
from paho.mqtt.packettypes import PacketTypes

from tests.fixtures.mosquitto import Mosquitto
from tests.fixtures.servers import free_port
from twin.config import load_complex
from twin.security import accounts_for, acl_text, device_username, hash_password, tenant_username
from twin.security.cli import mqtt_auth

TIMEOUT = 10  # seconds to wait for an expected message; never reached when things work

A, A_DEV, A_DEV2 = "alpha-elec", "alpha-aoi", "alpha-smt"
B, B_DEV = "beta-chem", "beta-reactor"


def tel(owner: str, device: str) -> str:
    return f"twin/v1/{owner}/{device}/telemetry"


# ---- pure: accounts, ACL and hashes ----------------------------------------------------


def test_each_device_gets_exactly_its_own_topics():
    accounts = {a.username: a for a in accounts_for(load_complex("tiny"))}
    dev = accounts[device_username(A, A_DEV)]
    assert dev.write == (tel(A, A_DEV), f"twin/v1/{A}/{A_DEV}/status")
    assert dev.read == (f"twin/v1/{A}/{A_DEV}/command",)
    assert accounts[tenant_username(B)].read == (f"twin/v1/{B}/#",)
    assert accounts[tenant_username(B)].write == ()
    assert accounts["twin-ingest"].write == ()
    # every device of the model has an account, and user names never collide
    complex_ = load_complex("tiny")
    assert {device_username(o, d) for o, d in complex_.devices} <= set(accounts)
    assert len(accounts) == len(accounts_for(complex_))


def test_acl_has_no_rule_outside_a_user_block():
    text = acl_text(accounts_for(load_complex("tiny")))
    first_rule = next(i for i, ln in enumerate(text.splitlines()) if ln.startswith(("topic", "pattern", "user")))
    assert text.splitlines()[first_rule].startswith("user ")
    assert "pattern" not in text


def test_hash_is_mosquittos_pbkdf2_sha512_format():
    salt = b"0123456789ab"
    h = hash_password("s3cret", salt=salt)
    _, seven, iterations, salt64, digest64 = h.split("$")
    assert (seven, iterations) == ("7", "101")
    assert base64.b64decode(salt64) == salt
    assert base64.b64decode(digest64) == hashlib.pbkdf2_hmac("sha512", b"s3cret", salt, 101)
    assert hash_password("s3cret") != hash_password("s3cret")  # fresh salt each time
    with pytest.raises(ValueError):
        hash_password("")


# ---- the command ---------------------------------------------------------------------------


def test_cli_creates_secrets_once_with_mode_0600_and_never_prints_them(tmp_path):
    out = tmp_path / "auth"
    r1 = CliRunner().invoke(mqtt_auth, ["--config", "tiny", "--out", str(out), "--tls", "--hostname", "127.0.0.1"])
    assert r1.exit_code == 0, r1.output
    secrets_dir = out / "secrets"
    assert stat.S_IMODE(secrets_dir.stat().st_mode) == 0o700
    first = {p.name: p.read_text() for p in secrets_dir.iterdir()}
    assert device_username(A, A_DEV) in first and "ca.key" in first
    for p in [*secrets_dir.iterdir(), out / "passwd", out / "tls" / "server.key"]:
        assert stat.S_IMODE(p.stat().st_mode) == 0o600, p
    r2 = CliRunner().invoke(mqtt_auth, ["--config", "tiny", "--out", str(out), "--tls"])
    assert r2.exit_code == 0, r2.output
    assert {p.name: p.read_text() for p in secrets_dir.iterdir()} == first  # kept, not regenerated
    assert "0 new" in r2.output and str(secrets_dir) in r1.output
    for value in first.values():
        for line in value.strip().splitlines()[1:-1] or [value.strip()]:
            assert line not in r1.output + r2.output


def test_cli_fails_clearly_on_a_bad_config(tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text("version: 1\nsite: {name: x}\n")
    r = CliRunner().invoke(mqtt_auth, ["--config", str(bad), "--out", str(tmp_path / "o")])
    assert r.exit_code != 0
    assert not (tmp_path / "o" / "passwd").exists()


# ---- a real Mosquitto with the generated files -----------------------------------------------

OPERATOR, OPERATOR_PW = "test-operator", "operator-pw"  # test-only: may write device commands


@pytest.fixture(scope="module")
def secured(tmp_path_factory) -> tuple[Mosquitto, Path]:
    root = tmp_path_factory.mktemp("mqauth")
    out = root / "auth"
    r = CliRunner().invoke(mqtt_auth, ["--config", "tiny", "--out", str(out), "--tls", "--hostname", "127.0.0.1"])
    assert r.exit_code == 0, r.output
    with (out / "passwd").open("a") as f:
        f.write(f"{OPERATOR}:{hash_password(OPERATOR_PW)}\n")
    with (out / "acl").open("a") as f:
        f.write(f"\nuser {OPERATOR}\ntopic write twin/v1/+/+/command\n")
    tls_port = free_port()
    broker = Mosquitto(
        port=free_port(),
        workdir=root / "broker",
        extra_conf=(
            "allow_anonymous false\n"
            f"password_file {out / 'passwd'}\n"
            f"acl_file {out / 'acl'}\n"
            f"listener {tls_port} 127.0.0.1\n"
            f"cafile {out / 'tls/ca.crt'}\n"
            f"certfile {out / 'tls/server.crt'}\n"
            f"keyfile {out / 'tls/server.key'}\n"
        ),
    )
    broker.workdir.mkdir(parents=True)
    broker.start()
    broker.tls_port = tls_port  # type: ignore[attr-defined]
    try:
        yield broker, out
    finally:
        broker.stop()


def password(out: Path, user: str) -> str:
    return (out / "secrets" / user).read_text().strip()


class Client:
    """A connected paho client that queues what it receives and the PUBACK reason codes."""

    def __init__(self, port: int, user: str | None, pw: str | None, protocol=mqtt.MQTTv5, tls_ca: Path | None = None):
        self.messages: queue.Queue = queue.Queue()
        self.acks: dict[int, int] = {}
        self.acked: queue.Queue = queue.Queue()
        self.subacks: queue.Queue = queue.Queue()
        self.connected: queue.Queue = queue.Queue()
        self.c = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=f"t-{uuid.uuid4().hex[:8]}", protocol=protocol)
        if user is not None:
            self.c.username_pw_set(user, pw)
        if tls_ca is not None:
            self.c.tls_set(ca_certs=str(tls_ca))
        self.c.on_connect = lambda c, u, f, rc, p=None: self.connected.put(rc)
        self.c.on_message = lambda c, u, m: self.messages.put((m.topic, m.payload))
        self.c.on_publish = lambda c, u, mid, rc, p=None: self.acked.put((mid, rc))
        self.disconnects: list = []
        self.c.on_disconnect = lambda c, u, f, rc, p=None: self.disconnects.append(rc)
        self.c.on_subscribe = lambda c, u, mid, rcs, p=None: self.subacks.put(list(rcs))
        self.c.connect("127.0.0.1", port)
        self.c.loop_start()
        self.rc = self.connected.get(timeout=TIMEOUT)

    def subscribe(self, *filters: str) -> list:
        self.c.subscribe([(f, 1) for f in filters])
        return self.subacks.get(timeout=TIMEOUT)

    def publish(self, topic: str, payload: bytes) -> int:
        """Publish QoS 1 and return the PUBACK reason code (0 for MQTT 3.1.1, which has none).

        16 (no matching subscribers) is an accepted publish, reported as 0.
        """
        info = self.c.publish(topic, payload, qos=1)
        mid, rc = self.acked.get(timeout=TIMEOUT)
        assert mid == info.mid
        code = _rc_value(rc)
        return 0 if code == 16 else code

    def received_until(self, marker: bytes) -> list[tuple[str, bytes]]:
        got = []
        while True:
            topic, payload = self.messages.get(timeout=TIMEOUT)
            if payload == marker:
                return got
            got.append((topic, payload))

    def close(self) -> None:
        self.c.disconnect()
        self.c.loop_stop()


@pytest.fixture
def clients():
    made: list[Client] = []

    def make(*args, **kw) -> Client:
        c = Client(*args, **kw)
        made.append(c)
        return c

    yield make
    for c in made:
        c.close()


def _rc_value(rc) -> int:
    return rc.value if hasattr(rc, "value") else int(rc)


@pytest.mark.mosquitto
def test_anonymous_and_wrong_passwords_are_refused(secured, clients):
    broker, out = secured
    assert _rc_value(clients(broker.port, None, None).rc) != 0
    assert _rc_value(clients(broker.port, device_username(A, A_DEV), "wrong").rc) != 0
    # another device's password does not open this device's account
    other = password(out, device_username(B, B_DEV))
    assert _rc_value(clients(broker.port, device_username(A, A_DEV), other).rc) != 0
    assert _rc_value(clients(broker.port, "nobody", "x", protocol=mqtt.MQTTv311).rc) != 0
    assert _rc_value(clients(broker.port, device_username(A, A_DEV), password(out, device_username(A, A_DEV))).rc) == 0


def attempt(broker, out, user: str, topic: str, protocol=mqtt.MQTTv5) -> int:
    """One publish from a fresh connection of ``user``: its PUBACK reason code.

    A fresh connection each time because Mosquitto 2.0.11 (with this stack's
    max_inflight_messages) drops an MQTT 5 connection right after a denied QoS 1
    publish; the denial itself is what we test, not the reconnect.
    """
    c = Client(broker.port, user, password(out, user) if user != OPERATOR else OPERATOR_PW, protocol=protocol)
    try:
        return c.publish(topic, b"forged")
    finally:
        c.close()


@pytest.mark.mosquitto
@pytest.mark.parametrize("protocol", [mqtt.MQTTv5, mqtt.MQTTv311], ids=["mqtt5", "mqtt311"])
def test_a_device_publishes_only_to_its_own_topics(secured, clients, protocol):
    broker, out = secured
    me = device_username(A, A_DEV)
    ingest = clients(broker.port, "twin-ingest", password(out, "twin-ingest"))
    assert ingest.subscribe("twin/v1/#") == [mqtt.ReasonCode(PacketTypes.SUBACK, identifier=1)]
    forbidden = [
        tel(B, B_DEV),  # another tenant's device
        tel(A, A_DEV2),  # another device of the same tenant
        f"twin/v1/{A}/_alarms/command",  # alarm commands
        "twin/v1/park/_alarms/command",
        f"twin/v1/{A}/{A_DEV}/command",  # its own command topic is read-only for it
        f"twin/v1/{A}/{A_DEV}/state",  # snapshots belong to the live twin
        "twin/v1/sim/inject",
        "spBv1.0/plant/DDATA/node/dev",
    ]
    codes = [attempt(broker, out, me, t, protocol) for t in forbidden]
    marker = f"marker-{protocol}".encode()
    dev = clients(broker.port, me, password(out, me), protocol=protocol)
    assert dev.publish(tel(A, A_DEV), b"own") == 0
    assert dev.publish(f"twin/v1/{A}/{A_DEV}/status", marker) == 0
    # the ingest reads everything, so a forged message that got through would be here
    assert ingest.received_until(marker) == [(tel(A, A_DEV), b"own")]
    if protocol == mqtt.MQTTv5:
        assert codes == [135] * len(forbidden)  # 0x87 Not authorized, in the PUBACK
    else:
        assert codes == [0] * len(forbidden)  # 3.1.1 has no reason code: dropped silently


@pytest.mark.mosquitto
def test_a_device_cannot_read_other_tenants_or_devices(secured, clients):
    broker, out = secured
    me = device_username(A, A_DEV)
    dev = clients(broker.port, me, password(out, me))
    dev.subscribe("twin/v1/#", f"twin/v1/{B}/#", tel(A, A_DEV2), f"twin/v1/{A}/{A_DEV}/command")
    sensors = clients(broker.port, "twin-sensors", password(out, "twin-sensors"))
    assert sensors.publish(tel(B, B_DEV), b"beta-secret") == 0
    assert sensors.publish(tel(A, A_DEV2), b"sibling") == 0
    operator = clients(broker.port, OPERATOR, OPERATOR_PW)
    assert operator.publish(f"twin/v1/{B}/{B_DEV}/command", b"not-yours") == 0
    assert operator.publish(f"twin/v1/{A}/{A_DEV}/command", b"yours") == 0
    got = dev.received_until(b"yours")
    assert got == []


@pytest.mark.mosquitto
def test_a_tenant_account_reads_only_its_subtree_and_writes_nothing(secured, clients):
    broker, out = secured
    user = tenant_username(A)
    tenant = clients(broker.port, user, password(out, user))
    tenant.subscribe("twin/v1/#")
    sensors = clients(broker.port, "twin-sensors", password(out, "twin-sensors"))
    sensors.publish(tel(B, B_DEV), b"beta")
    sensors.publish(tel("park", "A"), b"park")
    sensors.publish(tel(A, A_DEV), b"alpha-marker")
    assert tenant.received_until(b"alpha-marker") == []
    assert attempt(broker, out, user, f"twin/v1/{A}/_alarms/command") == 135
    assert attempt(broker, out, user, tel(A, A_DEV)) == 135


@pytest.mark.mosquitto
def test_dashboard_and_live_accounts(secured, clients):
    broker, out = secured
    dash = clients(broker.port, "twin-dashboard", password(out, "twin-dashboard"))
    live = clients(broker.port, "twin-live", password(out, "twin-live"))
    ingest = clients(broker.port, "twin-ingest", password(out, "twin-ingest"))
    ingest.subscribe("twin/v1/#")
    dash.subscribe("twin/v1/#")
    live.subscribe("twin/v1/+/_alarms/command")
    assert dash.publish(f"twin/v1/{A}/_alarms/command", b"ack") == 0
    assert live.received_until(b"ack") == []
    assert live.publish(tel(A, A_DEV), b"reading") == 135  # the live twin cannot fake readings
    sensors = clients(broker.port, "twin-sensors", password(out, "twin-sensors"))
    assert sensors.publish(tel(A, A_DEV), b"reading") == 0
    live2 = clients(broker.port, "twin-live", password(out, "twin-live"))
    assert live2.publish(f"twin/v1/{A}/alpha-f1/state", b"state") == 0
    assert dash.received_until(b"state") == []  # telemetry and commands are not the dashboard's to read
    assert ingest.received_until(b"state") == [(f"twin/v1/{A}/_alarms/command", b"ack"), (tel(A, A_DEV), b"reading")]
    assert attempt(broker, out, "twin-dashboard", tel(A, A_DEV)) == 135  # dashboards cannot fake readings
    assert attempt(broker, out, "twin-ingest", tel(A, A_DEV)) == 135  # the ingest publishes nothing
    assert attempt(broker, out, "twin-dashboard", f"twin/v1/{A}/alpha-f1/state") == 135


@pytest.mark.mosquitto
def test_tls_listener_with_the_generated_ca(secured, clients):
    broker, out = secured
    me = device_username(A, A_DEV)
    dev = clients(broker.tls_port, me, password(out, me), tls_ca=out / "tls" / "ca.crt")
    assert _rc_value(dev.rc) == 0
    assert dev.publish(tel(A, A_DEV), b"over-tls") == 0


@pytest.mark.mosquitto
def test_the_twins_own_mqtts_url_verifies_the_generated_certificate(secured, monkeypatch):
    from twin.mqtt import BrokerUnavailable, connect, make_client, wait_connected
    from twin.security.tls import make_ca_and_server_cert
    from twin.urls import parse_broker_url

    broker, out = secured
    me = device_username(A, A_DEV)
    monkeypatch.setenv("TWIN_MQTT_PASSWORD", password(out, me))
    ca = out / "tls" / "ca.crt"
    good = parse_broker_url(f"mqtts://{me}@127.0.0.1:{broker.tls_port}?ca={ca}")
    client = make_client(good, "tls-ok")
    connect(client, good)
    client.loop_start()
    try:
        wait_connected(client, TIMEOUT)
    finally:
        client.disconnect()
        client.loop_stop()
    # a broker whose certificate another CA signed is refused (no silent fallback to trust)
    other_ca = out.parent / "other-ca.crt"
    other_ca.write_bytes(make_ca_and_server_cert(["127.0.0.1"])["ca.crt"])
    wrong = parse_broker_url(f"mqtts://{me}@127.0.0.1:{broker.tls_port}?ca={other_ca}")
    client = make_client(wrong, "tls-wrong-ca")
    connect(client, wrong)
    client.loop_start()
    try:
        with pytest.raises(BrokerUnavailable):
            wait_connected(client, 2)
    finally:
        client.disconnect()
        client.loop_stop()


@pytest.mark.mosquitto
def test_sparkplug_host_and_bridge_accounts(secured):
    broker, out = secured
    assert attempt(broker, out, "twin-sparkplug", "spBv1.0/plant/NCMD/node-1") == 0  # rebirth request
    assert attempt(broker, out, "twin-sparkplug", "spBv1.0/STATE/twin-host") == 0
    assert attempt(broker, out, "twin-sparkplug", f"twin/v1/{A}/{A_DEV}/status") == 0
    assert attempt(broker, out, "twin-sparkplug", tel(A, A_DEV)) == 135  # it stores readings itself
    assert attempt(broker, out, "twin-sparkplug", "spBv1.0/plant/DDATA/node-1/dev") == 135  # cannot forge a node
    assert attempt(broker, out, "twin-bridge", tel(B, B_DEV)) == 0
    assert attempt(broker, out, "twin-bridge", f"twin/v1/{B}/_alarms/command") == 135


def test_mqtt_auth_is_a_twin_subcommand():
    from importlib.metadata import entry_points

    commands = {ep.name: ep for ep in entry_points(group="twin.commands")}
    assert commands["mqtt-auth"].load() is mqtt_auth
