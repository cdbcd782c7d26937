"""twin.mqtt_fast: the bulk PUBLISH parser (pure) and FastClient against a real Mosquitto."""

from __future__ import annotations

import ssl
import struct
import threading
import time

import paho.mqtt.client as mqtt
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties

from tests.fixtures.mosquitto import Mosquitto
from tests.fixtures.servers import free_port
from twin.mqtt import connect, make_client, wait_connected
from twin.mqtt_fast import BufferedSocket, FastClient, parse_publishes, supported
from twin.urls import parse_broker_url

TIMEOUT = 20


# ---- a PUBLISH encoder for the pure tests (the broker tests below check the real thing) ----


def _vbi(n: int) -> bytes:
    out = bytearray()
    while True:
        d, n = n % 128, n // 128
        out.append(d | (0x80 if n else 0))
        if not n:
            return bytes(out)


def publish(topic: bytes, payload: bytes, qos: int = 1, mid: int = 1, props: bytes | None = b"") -> bytes:
    """props None = MQTT 3.1.1 (no property block); b"" = MQTT 5 with no properties."""
    body = struct.pack("!H", len(topic)) + topic
    if qos:
        body += struct.pack("!H", mid)
    if props is not None:
        body += _vbi(len(props)) + props
    body += payload
    return bytes([0x30 | (qos << 1)]) + _vbi(len(body)) + body


def test_parses_a_run_of_mqtt5_publishes():
    buf = bytearray(b"".join(publish(b"t/a", b"%d" % i, mid=i + 1) for i in range(5)))
    msgs, used = parse_publishes(buf, mqtt5=True)
    assert used == len(buf)
    assert [(m.mid, m.qos, m.topic, m.payload) for m in msgs] == [(i + 1, 1, b"t/a", b"%d" % i) for i in range(5)]


def test_parses_mqtt311_and_qos0():
    buf = bytearray(publish(b"x", b"p0", qos=0, props=None) + publish(b"y", b"p1", mid=7, props=None))
    msgs, used = parse_publishes(buf, mqtt5=False)
    assert used == len(buf)
    assert [(m.mid, m.qos, m.topic, m.payload) for m in msgs] == [(0, 0, b"x", b"p0"), (7, 1, b"y", b"p1")]


@pytest.mark.parametrize("size", [0, 120, 127, 128, 16_383, 16_384, 300_000])
def test_multi_byte_remaining_lengths(size):
    payload = bytes(range(256)) * (size // 256) + bytes(size % 256)
    buf = bytearray(publish(b"t", payload))
    msgs, used = parse_publishes(buf, mqtt5=True)
    assert used == len(buf) and msgs[0].payload == payload


@pytest.mark.parametrize(
    ("first", "why"),
    [
        (publish(b"t", b"p", props=b"\x26\x00\x01k\x00\x01v"), "properties present: paho's job"),
        (publish(b"t", b"p", qos=2), "QoS 2 needs paho's PUBREC/PUBREL state"),
        (bytes([0xD0, 0x00]), "PINGRESP"),
        (bytes([0x90, 0x03, 0x00, 0x01, 0x00]), "SUBACK"),
        (publish(b"", b"p", props=b"\x23\x00\x01"), "topic alias: paho's job"),
        (bytes([0x32, 0xFF, 0xFF, 0xFF, 0xFF, 0x7F]), "remaining length longer than 4 bytes"),
        (bytes([0x32, 0x03, 0x00, 0x09, 0x61]), "topic longer than the packet"),
        (bytes([0x32, 0x01, 0x00]), "packet too short for a topic length"),
    ],
)
def test_stops_at_what_paho_must_handle_and_keeps_it(first, why):
    tail = publish(b"t", b"after")
    buf = bytearray(publish(b"t", b"before") + first + tail)
    msgs, used = parse_publishes(buf, mqtt5=True)
    assert [m.payload for m in msgs] == [b"before"], why
    assert bytes(buf[used:]) == first + tail  # left in order for paho


def test_incomplete_packet_is_left_for_the_next_read():
    whole = publish(b"t", b"x" * 1000)
    for cut in (1, 2, 3, 10, len(whole) - 1):
        msgs, used = parse_publishes(bytearray(whole[:cut]), mqtt5=True)
        assert (msgs, used) == ([], 0)


def test_limit_bounds_one_call():
    buf = bytearray(publish(b"t", b"p") * 10)
    msgs, used = parse_publishes(buf, mqtt5=True, limit=3)
    assert len(msgs) == 3 and used == 3 * len(publish(b"t", b"p"))


@settings(max_examples=300, derandomize=True, deadline=None)
@given(st.binary(max_size=600), st.booleans())
def test_hostile_bytes_never_raise_and_never_overrun(data, mqtt5):
    msgs, used = parse_publishes(bytearray(data), mqtt5)
    assert 0 <= used <= len(data)
    assert sum(len(m.payload) + len(m.topic) for m in msgs) <= used


class _FakeSock:
    """Stands in for the kernel socket in the buffering unit test only."""

    def __init__(self, chunks: list[bytes]):
        self.chunks = chunks

    def recv(self, n: int) -> bytes:
        if not self.chunks:
            raise BlockingIOError
        return self.chunks.pop(0)[:n]

    def fileno(self) -> int:
        return 42


def test_buffered_socket_serves_small_reads_from_one_recv():
    s = BufferedSocket(_FakeSock([b"abcdef", b"gh"]))
    assert s.recv(1) == b"a" and s.pending() == 5
    assert s.recv(3) == b"bcd" and s.recv(10) == b"ef" and s.pending() == 0
    assert s.recv(10) == b"gh"
    with pytest.raises(BlockingIOError):
        s.recv(1)
    assert s.fileno() == 42  # everything else goes to the real socket


def test_supported_on_the_installed_paho():
    assert supported()


# ---- FastClient against a real Mosquitto -------------------------------------------------------


class Consumer:
    """A FastClient with manual acks, a persistent session, recording what arrives and by which path."""

    def __init__(self, url: str, client_id: str, *, ack: bool = True):
        self.url = parse_broker_url(url)
        self.client = make_client(self.url, client_id, persistent=True, manual_ack=True, client_cls=FastClient)
        self.got: list[tuple[str, bytes]] = []  # (path, payload) in arrival order
        self.lock = threading.Lock()
        self.ack = ack
        c = self.client
        c.on_connect = lambda cl, *_: cl.subscribe("fast/#", qos=1)
        c.on_message = self._slow
        c.on_messages = self._fast  # type: ignore[method-assign]

    def _slow(self, cl, userdata, msg) -> None:
        with self.lock:
            self.got.append(("paho", msg.payload))
        if self.ack and msg.qos == 1:
            cl.ack(msg.mid, msg.qos)

    def _fast(self, cl, msgs) -> None:
        with self.lock:
            self.got.extend(("fast", m.payload) for m in msgs)
        if self.ack:
            cl.ack_many([m.mid for m in msgs if m.qos == 1])

    def start(self) -> Consumer:
        connect(self.client, self.url, persistent=True, receive_maximum=500)
        self.client.loop_start()
        wait_connected(self.client, TIMEOUT)
        time.sleep(0.3)  # SUBACK
        return self

    def wait(self, n: int) -> None:
        deadline = time.monotonic() + TIMEOUT
        while len(self.got) < n and time.monotonic() < deadline:
            time.sleep(0.02)

    def stop(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()


def _publisher(url: str, protocol: int = mqtt.MQTTv5) -> mqtt.Client:
    u = parse_broker_url(url)
    p = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=f"pub-{time.monotonic_ns()}", protocol=protocol)
    p.connect(u.host, u.port)
    p.loop_start()
    return p


def _user_props(i: int) -> Properties:
    props = Properties(PacketTypes.PUBLISH)
    props.UserProperty = ("n", str(i))
    return props


@pytest.mark.mosquitto
def test_fast_and_paho_paths_deliver_everything_in_order(mosquitto):
    consumer = Consumer(mosquitto.url, "fast-order").start()
    pub = _publisher(mosquitto.url)
    try:
        expected = []
        qos1 = []
        infos = []
        for i in range(3000):
            payload = b"%06d" % i
            if i % 500 == 7:
                payload += b"x" * 400_000  # larger than one read: spans several recv calls
            props = _user_props(i) if i % 97 == 0 else None  # these take paho's own path
            qos = 1 if i % 11 else 0
            infos.append(pub.publish("fast/t", payload, qos=qos, properties=props))
            expected.append(payload)
            if qos:
                qos1.append(payload)
        for info in infos:
            info.wait_for_publish(TIMEOUT)
        consumer.wait(len(expected))
        paths = {p for p, _ in consumer.got}
        got = [payload for _, payload in consumer.got]
        assert sorted(got) == expected  # none lost, none doubled
        # in order per QoS (MQTT orders messages per topic and QoS; the broker may send QoS 0 ones early)
        assert [p for p in got if p in set(qos1)] == qos1
        assert paths == {"fast", "paho"}  # the first packet of each read and those with properties go to paho
    finally:
        pub.loop_stop()
        consumer.stop()


@pytest.mark.mosquitto
def test_batched_acks_reach_the_broker_and_unacked_messages_come_back(mosquitto):
    first = Consumer(mosquitto.url, "fast-acks").start()
    pub = _publisher(mosquitto.url)
    try:
        for i in range(400):
            pub.publish("fast/a", b"a%d" % i, qos=1).wait_for_publish(TIMEOUT)
        first.wait(400)
        assert len(first.got) == 400
    finally:
        first.stop()
    # all 400 were acknowledged with ack_many: a new connection of the same session gets none again
    again = Consumer(mosquitto.url, "fast-acks", ack=False).start()
    try:
        for i in range(200):
            pub.publish("fast/a", b"b%d" % i, qos=1).wait_for_publish(TIMEOUT)
        again.wait(200)
        time.sleep(0.5)
        assert [p for _, p in again.got] == [b"b%d" % i for i in range(200)]
    finally:
        again.stop()
    # those 200 were never acknowledged: the broker redelivers every one of them
    third = Consumer(mosquitto.url, "fast-acks").start()
    try:
        third.wait(200)
        time.sleep(0.5)
        assert sorted(p for _, p in third.got) == sorted(b"b%d" % i for i in range(200))
    finally:
        pub.loop_stop()
        third.stop()


@pytest.mark.mosquitto
def test_mqtt311_session(mosquitto):
    consumer = Consumer(mosquitto.url + "?protocol=3.1.1", "fast-311").start()
    pub = _publisher(mosquitto.url, mqtt.MQTTv311)
    try:
        for i in range(500):
            pub.publish("fast/b", b"%d" % i, qos=1).wait_for_publish(TIMEOUT)
        consumer.wait(500)
        assert [p for _, p in consumer.got] == [b"%d" % i for i in range(500)]
        assert any(path == "fast" for path, _ in consumer.got)
    finally:
        pub.loop_stop()
        consumer.stop()


@pytest.fixture
def tls_mosquitto(tmp_path):
    from twin.security.tls import make_ca_and_server_cert

    files = make_ca_and_server_cert(["127.0.0.1"])
    tls = tmp_path / "tls"
    tls.mkdir()
    for name, data in files.items():
        (tls / name).write_bytes(data)
    tls_port = free_port()
    broker = Mosquitto(
        port=free_port(), workdir=tmp_path / "broker",
        extra_conf=(
            f"listener {tls_port} 127.0.0.1\nallow_anonymous true\n"
            f"cafile {tls / 'ca.crt'}\ncertfile {tls / 'server.crt'}\nkeyfile {tls / 'server.key'}\n"
        ),
    )
    broker.workdir.mkdir()
    broker.start()
    try:
        yield broker, tls_port, tls / "ca.crt"
    finally:
        broker.stop()


@pytest.mark.mosquitto
def test_over_tls(tls_mosquitto):
    broker, tls_port, ca = tls_mosquitto
    consumer = Consumer(f"mqtts://127.0.0.1:{tls_port}?ca={ca}", "fast-tls").start()
    assert isinstance(consumer.client.socket(), BufferedSocket)
    assert isinstance(consumer.client.socket()._sock, ssl.SSLSocket)
    pub = _publisher(broker.url)  # plain listener; the consumer reads through TLS
    try:
        for i in range(2000):
            pub.publish("fast/tls", b"%d" % i + b"." * (i % 300), qos=1)
        consumer.wait(2000)
        assert [p for _, p in consumer.got] == [b"%d" % i + b"." * (i % 300) for i in range(2000)]
    finally:
        pub.loop_stop()
        consumer.stop()
