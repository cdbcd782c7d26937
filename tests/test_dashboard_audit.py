"""The dashboard's audit log, written by a real `twin dashboard` wired to Mosquitto and `twin live`.

Failed and successful logins, a refused (rate-limited) login, a logout and an alarm
acknowledged through the console's callback each leave one JSON line with the user,
the client address and the time; no password appears in the audit log or the
process log.
"""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path

import orjson
import pytest

from dashboards.audit import AuditLog, record_alarm_action
from dashboards.auth.users import User, add_user
from dashboards.pages.alarms import ids
from tests.dashboard_proc import Client, DashboardProc
from tests.live_procs import now_reading

PASSWORDS = ("kim-correct-horse-7731", "a-wrong-guess-4412")
KEY = "audit-test-session-key-0123456789abcdef0123"


@pytest.fixture
def rig(live_rig, tmp_path: Path):  # type: ignore[no-untyped-def]
    broker, config, live, watcher, pub = live_rig  # Mosquitto and a running `twin live`
    add_user(tmp_path / "users.yaml", User("kim", "operator"), PASSWORDS[0])
    (tmp_path / "k").write_text(KEY)
    dash = DashboardProc(
        ["--historian", live.historian_url, "--config", str(config), "--broker", broker,
         "--users", str(tmp_path / "users.yaml"), "--secret-file", str(tmp_path / "k"),
         "--state-dir", str(tmp_path / "state"), "--audit-log", str(tmp_path / "audit" / "audit.jsonl"),
         "--proxy-hops", "1"],
        tmp_path,
    )  # fmt: skip
    try:
        dash.start()
        yield dash, watcher, pub
    finally:
        log = dash.stop()
    assert "Traceback" not in log
    assert not any(p in log for p in PASSWORDS) and KEY not in log


def _ack_body(client: Client, alarm: str) -> dict:
    deps = json.loads(client.request("/_dash-dependencies").body)
    dep = next(d for d in deps if d["output"] == f"{ids.STATUS}.children")
    button = {"type": ids.ACTION, "action": "ack", "alarm": alarm}
    prop = json.dumps(button, sort_keys=True, separators=(",", ":")) + ".n_clicks"
    values = {ids.COMMENT: "", ids.SHELVE_FOR: 3600}
    return {
        "output": dep["output"],
        "outputs": {"id": ids.STATUS, "property": "children"},
        "inputs": [[{"id": button, "property": "n_clicks", "value": 1}]],
        "state": [{**s, "value": values[s["id"]]} for s in dep["state"]],
        "changedPropIds": [prop],
    }


def test_logins_logout_and_an_acknowledgement_are_audited(rig, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    dash, watcher, pub = rig
    audit = tmp_path / "audit" / "audit.jsonl"

    assert Client(dash.url, ip="10.8.0.1").login("kim", PASSWORDS[1]).status == 200
    assert Client(dash.url, ip="10.8.0.2").login("nobody", PASSWORDS[0]).status == 200
    kim = Client(dash.url, ip="10.8.0.3")
    assert kim.login("kim", PASSWORDS[0]).status == 302

    pub.readings([now_reading("alpha-f1-smoke", 3.0)])
    _, raised = watcher.wait_for(
        lambda t, d: t.endswith("/_alarms/event") and d["event"] == "raised" and d["alarm"]["type"] == "smoke",
        timeout=15,
        what="the smoke alarm",
    )
    alarm = raised["alarm"]["id"]
    r = kim.request("/_dash-update-component", body=_ack_body(kim, alarm))
    assert r.status == 200 and b"done by kim" in r.body, r.body[:500]
    assert kim.logout().status == 302

    lines = audit.read_bytes().splitlines()
    events = [orjson.loads(line) for line in lines]
    for e in events:
        datetime.fromisoformat(e["ts"].replace("Z", "+00:00"))  # a real time, UTC
    picked = [(e["event"], e.get("ok"), e.get("user"), e.get("ip")) for e in events]
    assert picked == [
        ("login", False, "kim", "10.8.0.1"),
        ("login", False, "nobody", "10.8.0.2"),
        ("login", True, "kim", "10.8.0.3"),
        ("alarm", True, "kim", "10.8.0.3"),
        ("logout", None, "kim", "10.8.0.3"),
    ]
    assert events[0]["reason"] == "wrong_credentials"
    assert (events[3]["action"], events[3]["alarm"]) == ("ack", alarm)
    text = audit.read_text(encoding="utf-8")
    assert not any(p in text for p in PASSWORDS) and KEY not in text
    assert audit.stat().st_mode & 0o777 == 0o600


def test_rate_limited_login_is_audited(tmp_path: Path) -> None:
    add_user(tmp_path / "users.yaml", User("kim", "operator"), PASSWORDS[0])
    (tmp_path / "k").write_text(KEY)
    dash = DashboardProc(
        ["--historian", "sqlite://" + str(tmp_path / "h.db"), "--config", "tiny", "--users",
         str(tmp_path / "users.yaml"), "--secret-file", str(tmp_path / "k"), "--state-dir", str(tmp_path / "st")],
        tmp_path,
    ).start()  # fmt: skip
    try:
        for _ in range(5):
            assert Client(dash.url).login("kim", PASSWORDS[1]).status == 200
        assert Client(dash.url).login("kim", PASSWORDS[0]).status == 429
    finally:
        log = dash.stop()
    events = [orjson.loads(line) for line in (tmp_path / "st" / "audit.jsonl").read_bytes().splitlines()]
    assert [e.get("reason") for e in events] == ["wrong_credentials"] * 5 + ["rate_limited_user"]
    assert all(e["ok"] is False and e["user"] == "kim" and e["ip"] == "127.0.0.1" for e in events)
    assert not any(p in log for p in PASSWORDS)


def test_hostile_usernames_are_cut_and_kept_valid_json(tmp_path: Path) -> None:
    log = AuditLog(tmp_path / "a.jsonl")
    log.login(False, "x" * 100_000, "10.0.0.1")
    log.login(False, "bad\ud800\x00\n{\"event\": \"forged\"}", "10.0.0.1")
    lines = (tmp_path / "a.jsonl").read_bytes().splitlines()
    assert len(lines) == 2 and all(len(line) < 1000 for line in lines)
    second = orjson.loads(lines[1])
    assert second["event"] == "login" and "forged" in second["user"]  # data, not a second event


def test_alarm_action_outside_an_app_is_a_no_op() -> None:
    record_alarm_action("ack", "alm-1", "kim", {"ok": True})  # unit tests of the console call act() bare
