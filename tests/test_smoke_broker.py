import time

import paho.mqtt.client as mqtt

from twin.mqtt import connect, make_client, wait_connected
from twin.urls import parse_broker_url


def test_mosquitto_fixture_delivers_qos1(mosquitto):
    url = parse_broker_url(mosquitto.url)
    got = []
    sub = make_client(url, "smoke-sub")
    sub.on_connect = lambda c, u, f, rc, p: c.subscribe("smoke/#", qos=1)
    sub.on_message = lambda c, u, m: got.append(m.payload)
    connect(sub, url)
    sub.loop_start()
    wait_connected(sub, 10)
    time.sleep(0.3)
    pub = make_client(url, "smoke-pub")
    connect(pub, url)
    pub.loop_start()
    wait_connected(pub, 10)
    pub.publish("smoke/a", b"x", qos=1).wait_for_publish(5)
    deadline = time.monotonic() + 5
    while not got and time.monotonic() < deadline:
        time.sleep(0.05)
    pub.loop_stop()
    sub.loop_stop()
    assert got == [b"x"]
    assert isinstance(sub, mqtt.Client)
