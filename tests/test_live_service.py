"""`twin live` with a real Mosquitto: events, commands, hostile input, kill -9 and restart, KPIs."""

from __future__ import annotations

import time
from pathlib import Path

import pytest
import yaml

from tests.live_procs import LiveProc, Publisher, Watcher, now_reading
from twin.alarms.commands import command_topic, encode_command
from twin.config import load_complex, tiny_config_path
from twin.historian import open_historian

pytestmark = [pytest.mark.mosquitto, pytest.mark.slow]


@pytest.fixture
def config(tmp_path: Path) -> Path:
    """Tiny, default rules, stale-data alarms far away (the tests do not feed every sensor)."""
    data = yaml.safe_load(tiny_config_path().read_text(encoding="utf-8"))
    data["alarms"] = {"stale_factor": 10_000}
    path = tmp_path / "tiny-live.yaml"
    path.write_text(yaml.safe_dump(data))
    return path


@pytest.fixture
def rig(mosquitto, tmp_path: Path, config: Path):
    watcher = Watcher(mosquitto.url)
    pub = Publisher(mosquitto.url, load_complex(config))
    live = LiveProc(mosquitto.url, tmp_path, config).start()
    wait_ready(watcher, live)
    yield live, watcher, pub
    if live.alive():
        live.stop()
    watcher.close()
    pub.close()


def wait_ready(watcher: Watcher, live: LiveProc, mark: int = 0) -> None:
    """Ready once it published a complex snapshot (it does so right after subscribing)."""
    try:
        watcher.wait_for(
            lambda t, d: t == "twin/v1/park/_complex/state",
            timeout=30,
            mark=mark,
            what="complex snapshot",
        )
    except TimeoutError:
        raise AssertionError(f"twin live did not come up:\n{live.log()}") from None


def event(watcher: Watcher, kind: str, type_: str, mark: int = 0, timeout: float = 15.0) -> dict:
    _, doc = watcher.wait_for(
        lambda t, d: t.endswith("/_alarms/event") and d["event"] == kind and d["alarm"]["type"] == type_,
        timeout=timeout,
        mark=mark,
        what=f"{kind} {type_} event",
    )
    return doc


def reply(watcher: Watcher, request: str, timeout: float = 15.0) -> dict:
    _, doc = watcher.wait_for(
        lambda t, d: t.endswith("/_alarms/reply") and d.get("request") == request,
        timeout=timeout,
        what=f"reply to {request}",
    )
    return doc


def open_lists(watcher: Watcher, mark: int = 0) -> dict[str, list]:
    """The newest retained open-alarm list of each owner (since ``mark``)."""
    out = {}
    for topic, doc, _ in watcher.since(mark):
        if topic.endswith("/_alarms/open"):
            out[doc["owner"]] = doc["alarms"]
    return out


def test_a_tripping_reading_raises_events_and_operator_commands_work(rig) -> None:
    live, watcher, pub = rig
    pub.readings([now_reading("beta-f1-gas", 80.0)])
    leak = event(watcher, "raised", "gas_leak")
    topic, _ = watcher.wait_for(lambda t, d: t.endswith("/_alarms/event") and d["alarm"]["type"] == "gas")
    assert topic == "twin/v1/beta-chem/_alarms/event"  # the tenant's own subtree
    alarm = leak["alarm"]
    assert (alarm["owner"], alarm["severity"], alarm["state"], alarm["zones"]) == (
        "park",
        "critical",
        "active_unack",
        ["B"],
    )
    watcher.wait_for(
        lambda t, d: t == "twin/v1/park/_alarms/open" and [a["id"] for a in d["alarms"]] == [alarm["id"]],
        what="open list with the leak",
    )
    pub.raw(command_topic("park"), encode_command("ack", alarm["id"], "kim", request="r-ack"))
    assert reply(watcher, "r-ack")["ok"] is True
    acked = event(watcher, "acknowledged", "gas_leak")
    assert acked["by"] == "kim" and acked["alarm"]["acked_by"] == "kim" and acked["alarm"]["state"] == "active_ack"
    pub.raw(
        command_topic("park"),
        encode_command("comment", alarm["id"], "kim", text="evacuating B", request="r-c"),
    )
    assert reply(watcher, "r-c")["ok"] is True
    assert event(watcher, "commented", "gas_leak")["alarm"]["comments"][0]["text"] == "evacuating B"
    pub.raw(
        command_topic("park"),
        encode_command("shelve", alarm["id"], "kim", duration_s=2, request="r-s"),
    )
    assert reply(watcher, "r-s")["ok"] is True
    assert event(watcher, "shelved", "gas_leak")["alarm"]["shelved_by"] == "kim"
    expired = event(watcher, "unshelved", "gas_leak", timeout=10)  # the shelf expires after 2 s
    assert expired["by"] == "system" and expired["detail"] == "shelf expired"
    # a snapshot shows the disaster in the factory of zone B
    watcher.wait_for(
        lambda t, d: t == "twin/v1/beta-chem/beta-f1/state" and d["disasters"] == ["gas_leak"],
        what="beta-f1 snapshot with the gas leak",
    )


HOSTILE = [
    (b"not json", "malformed_json"),
    (
        b'{"action": "ack", "alarm": "alm-1", "user": "kim", "request": "h-extra", "sudo": true}',
        "bad_schema",
    ),
    (
        b'{"action": "rm -rf", "alarm": "alm-1", "user": "kim", "request": "h-action"}',
        "unknown_action",
    ),
    (
        b'{"action": "ack", "alarm": "alm-999", "user": "kim", "request": "h-unknown"}',
        "unknown_alarm",
    ),
    (b'{"action": "ack", "alarm": "alm-1", "user": "k\\u0000im", "request": "h-nul"}', "bad_text"),
    (
        b'{"action": "shelve", "alarm": "alm-1", "user": "kim", "duration_s": 1e9, "request": "h-long"}',
        "bad_duration",
    ),
    (b"[" * 5000, "too_large"),
]


def test_hostile_commands_get_error_replies_and_change_nothing(rig) -> None:
    live, watcher, pub = rig
    pub.readings([now_reading("alpha-f1-smoke", 3.0)])  # smoke alarm of tenant alpha-elec: alm-1
    smoke = event(watcher, "raised", "smoke")["alarm"]
    assert smoke["id"] == "alm-1" and smoke["owner"] == "alpha-elec"
    mark = watcher.mark()
    for payload, _ in HOSTILE:
        pub.raw(command_topic("park"), payload)
    # another tenant cannot act on alpha's alarm, and unknown owners are refused
    pub.raw(command_topic("beta-chem"), encode_command("ack", "alm-1", "mallory", request="h-tenant"))
    pub.raw(
        "twin/v1/nobody/_alarms/command",
        encode_command("ack", "alm-1", "mallory", request="h-owner"),
    )
    pub.raw(command_topic("alpha-elec"), encode_command("ack", "alm-1", "kim", request="ok-1"))
    assert reply(watcher, "ok-1")["ok"] is True
    replies = [d for t, d, _ in watcher.since(mark) if t.endswith("/_alarms/reply")]
    codes = sorted(d["error"] for d in replies if not d["ok"])
    assert codes == sorted([c for _, c in HOSTILE] + ["unknown_alarm", "unknown_owner"])
    by_req = {d["request"]: d for d in replies}
    assert by_req["h-tenant"]["error"] == "unknown_alarm"  # indistinguishable from a missing alarm
    acks = [e for e in watcher.events(mark) if e["event"] == "acknowledged"]
    assert [e["by"] for e in acks] == ["kim"]  # only the legitimate command changed anything
    assert live.alive()


def test_kill_9_then_restart_rebuilds_the_same_alarms_and_misses_no_reading(
    rig, mosquitto, tmp_path: Path, config: Path
) -> None:
    live, watcher, pub = rig
    pub.readings(
        [
            now_reading("beta-f1-gas", 80.0),
            now_reading("alpha-f1-smoke", 3.0),
            now_reading("B-seis-1", 0.2),
        ]
    )
    leak = event(watcher, "raised", "gas_leak")["alarm"]  # stays active, unacknowledged
    smoke = event(watcher, "raised", "smoke")["alarm"]
    seismic = event(watcher, "raised", "seismic")["alarm"]
    pub.raw(command_topic("park"), encode_command("ack", smoke["id"], "kim", request="a1"))
    pub.raw(
        command_topic("park"),
        encode_command("shelve", seismic["id"], "lee", duration_s=3600, request="s1"),
    )
    pub.raw(
        command_topic("park"),
        encode_command("comment", leak["id"], "op", text="crew sent", request="c1"),
    )
    for req in ("a1", "s1", "c1"):
        assert reply(watcher, req)["ok"] is True
    event(watcher, "commented", "gas_leak")
    time.sleep(1.0)  # the open lists after the last event are published
    before = open_lists(watcher)
    states = {a["id"]: a["state"] for owner in before.values() for a in owner}
    assert states[leak["id"]] == "active_unack" and states[smoke["id"]] == "active_ack"
    assert next(a for o in before.values() for a in o if a["id"] == seismic["id"])["shelved_by"] == "lee"

    live.kill()  # SIGKILL: no chance to flush anything
    # while it is down, the smoke detector reads normal again: the restarted twin must see it
    pub.readings([now_reading("alpha-f1-smoke", 0.04)])
    mark = watcher.mark()
    live.start()
    wait_ready(watcher, live, mark)
    # the reading sent while it was down closes the acknowledged smoke alarm; every other alarm
    # is identical to before the kill, field by field
    cleared = event(watcher, "cleared", "smoke", mark=mark)
    assert cleared["alarm"]["id"] == smoke["id"] and cleared["alarm"]["state"] == "closed"
    time.sleep(1.0)
    after = open_lists(watcher, mark)
    expected = {o: [a for a in alarms if a["id"] != smoke["id"]] for o, alarms in before.items()}
    assert {o: a for o, a in after.items() if a or expected.get(o)} == {o: a for o, a in expected.items() if a}
    # numbering goes on from the journal
    pub.readings([now_reading("A-water-1", 200.0)])
    assert int(event(watcher, "raised", "flood", mark=mark)["alarm"]["id"].split("-")[1]) > int(
        leak["id"].split("-")[1]
    )


def test_snapshots_and_kpis_from_the_machine_stream(rig) -> None:
    live, watcher, pub = rig
    for k in range(6):
        pub.readings(
            [
                now_reading("alpha-smt-state", 2),
                now_reading("alpha-smt-power", 7.9),
                now_reading("alpha-smt-good", 100 + k),
                now_reading("alpha-aoi-power", 1.1),
            ]
        )
        time.sleep(0.5)
    _, snap = watcher.wait_for(
        lambda t, d: t == "twin/v1/alpha-elec/alpha-f1/state" and d["machines"][0]["good_count"] == 105,
        what="the SMT's last count in the snapshot",
    )
    smt, aoi = snap["machines"]
    assert (smt["source"], smt["good_count"], aoi["state"], aoi["source"]) == (
        "state_sensor",
        105,
        "idle",
        "power",
    )
    hist = open_historian(live.historian_url)
    deadline = time.monotonic() + 15
    got = {}
    done = "kpi.shift.machine.alpha-smt.good"
    while time.monotonic() < deadline and (done not in got or got[done].value < 5):
        got = hist.latest(
            [
                "kpi.shift.machine.alpha-smt.availability",
                "kpi.shift.machine.alpha-smt.good",
                "kpi.day.factory.alpha-f1.energy_kwh",
            ]
        )
        time.sleep(0.3)
    hist.close()
    assert got["kpi.shift.machine.alpha-smt.availability"].value == pytest.approx(1.0)
    assert got["kpi.shift.machine.alpha-smt.good"].value == 5
    assert got["kpi.day.factory.alpha-f1.energy_kwh"].value > 0


def test_sigterm_stops_cleanly(rig) -> None:
    live, watcher, pub = rig
    assert live.stop() == 0
    assert "stopping the live twin" not in live.log()
    # the retained snapshot stays for dashboards that connect later
    late = Watcher(watcher_url(watcher), topics=("twin/v1/park/_complex/state",))
    try:
        _, doc = late.wait_for(lambda t, d: True, what="retained complex snapshot")
        assert doc["kind"] == "complex" and doc["site"] == "tiny-park"
    finally:
        late.close()


def watcher_url(w: Watcher) -> str:
    host, port = w.client.host, w.client.port
    return f"mqtt://{host}:{port}"


def test_alarm_client_for_dashboards(rig, mosquitto) -> None:
    from twin.alarms.client import AlarmClient
    from twin.urls import parse_broker_url

    live, watcher, pub = rig
    pub.readings([now_reading("alpha-f1-smoke", 3.0)])
    smoke = event(watcher, "raised", "smoke")["alarm"]
    url = parse_broker_url(mosquitto.url)
    with AlarmClient(url, owner="beta-chem") as other, AlarmClient(url, owner="alpha-elec") as mine:
        assert other.acknowledge(smoke["id"], "mallory")["error"] == "unknown_alarm"
        assert mine.comment(smoke["id"], "kim", "on it")["ok"] is True
        assert mine.acknowledge(smoke["id"], "kim")["ok"] is True
        # the open list is published before the reply: it is already up to date
        (only,) = mine.open_alarms()["alpha-elec"]
        assert (only["id"], only["acked_by"], only["comments"][0]["text"]) == (smoke["id"], "kim", "on it")
        assert "alpha-elec" not in other.open_alarms()  # a tenant's client sees its own list only
