"""Alarm history of the console: journal reading, filter validation and filtering, the callback.

The events are made by the real live-twin core (``LiveTwin``) and written by the real journal
(``AlarmJournal``), so the history reads exactly what ``twin live`` keeps on disk.
"""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import yaml

from dashboards.alarm_history import (
    HISTORY_RANGES,
    MAX_SPAN_DAYS,
    HistoryFilter,
    HistoryIndex,
    filter_alarms,
    parse_filter,
)
from dashboards.alarm_journal import HistoryUnavailable, JournalHistory
from dashboards.app import create_app
from dashboards.auth.session import AuthConfig
from dashboards.auth.users import User, add_user, load_users
from dashboards.context import DashboardContext
from dashboards.data import HistorianSource
from dashboards.pages.alarms.callbacks import banner, cue_keys
from dashboards.pages.alarms.history import history_view
from twin.alarms.journal import AlarmJournal
from twin.alarms.records import AlarmEvent, alarm_to_dict, event_to_dict
from twin.codec import Reading
from twin.config import load_complex, tiny_config_path
from twin.live import LiveTwin

T0 = 1_795_000_000_000
H = 3_600_000
SECRET = b"history-test-secret-0123456789abcdef"


def _config(tmp_path: Path) -> Path:
    data = yaml.safe_load(tiny_config_path().read_text(encoding="utf-8"))
    data["alarms"] = {"stale_factor": 10_000}  # only the alarms the test makes
    path = tmp_path / "tiny-history.yaml"
    path.write_text(yaml.safe_dump(data))
    return path


def _events(complex_) -> list[AlarmEvent]:  # type: ignore[no-untyped-def]
    """A smoke alarm in Alpha's factory (zone A): raised, acknowledged by kim, commented, cleared -> closed;
    an hour later a gas leak in zone B: Beta's gas alarm and the park's critical gas_leak, both open."""
    twin = LiveTwin(complex_, start_ms=T0)
    ev = twin.feed([Reading("alpha-f1-smoke", T0 + 1000, 3.0)], T0 + 1000)
    smoke = ev[0].alarm.id
    ev += twin.acknowledge(smoke, "kim", T0 + 2000)
    ev += twin.comment(smoke, "kim", "crew on the way", T0 + 3000)
    for i in range(120):
        ev += twin.feed([Reading("alpha-f1-smoke", T0 + 10_000 + i * 1000, 0.0)], T0 + 10_000 + i * 1000)
    ev += twin.feed([Reading("beta-f1-gas", T0 + H, 80.0)], T0 + H)
    return ev


@pytest.fixture
def journal(tmp_path: Path):  # type: ignore[no-untyped-def]
    complex_ = load_complex(_config(tmp_path))
    j = AlarmJournal(tmp_path / "live", fsync=False)
    j.append(_events(complex_))
    j.close()
    return complex_, j.path


def _f(**kw) -> HistoryFilter:  # type: ignore[no-untyped-def]
    return HistoryFilter(since_ms=kw.pop("since_ms", T0 - H), until_ms=kw.pop("until_ms", T0 + 2 * H), **kw)


# ---- journal reading ----------------------------------------------------------------------------


def test_journal_is_read_into_alarms_with_who_and_when(journal) -> None:  # type: ignore[no-untyped-def]
    _, path = journal
    alarms = {a.type: a for a in JournalHistory(path).alarms()}
    assert set(alarms) == {"smoke", "gas", "gas_leak"}
    smoke = alarms["smoke"]
    assert smoke.state.value == "closed" and smoke.acked_by == "kim" and smoke.acked_ms == T0 + 2000
    assert smoke.raised_ms == T0 + 1000 and smoke.cleared_ms is not None and smoke.closed_ms is not None
    assert [(c.user, c.text) for c in smoke.comments] == [("kim", "crew on the way")]
    assert alarms["gas_leak"].severity == "critical" and alarms["gas_leak"].tenant is None


def test_journal_is_read_incrementally_and_torn_lines_wait(journal, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    complex_, path = journal
    history = JournalHistory(path)
    assert len(history.alarms()) == 3
    twin = LiveTwin(complex_, start_ms=T0, events=list(AlarmJournal(path.parent).events()))
    more = twin.feed([Reading("alpha-f1-smoke", T0 + 2 * H, 5.0)], T0 + 2 * H)  # a new smoke alarm
    line = json.dumps(event_to_dict(more[0])).encode()
    with path.open("ab") as f:
        f.write(line[:20])  # a line being written: not read yet
    assert len(history.alarms()) == 3
    with path.open("ab") as f:
        f.write(
            line[20:] + b"\n" + b"{garbage\n" + b'{"alarm": {"id": 5}}\n' + b'{"v": 1, "alarm": {"id": "alm-77"}}\n'
        )
    alarms = history.alarms()
    assert len(alarms) == 4 and history.skipped == 3  # unreadable lines are logged and skipped


def test_replaced_journal_is_read_again(journal, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    _, path = journal
    history = JournalHistory(path)
    assert len(history.alarms()) == 3
    lines = path.read_bytes().splitlines(keepends=True)
    path.unlink()
    path.write_bytes(lines[0])  # rotated: a new, shorter file
    assert [a.type for a in history.alarms()] == ["smoke"]


def test_missing_or_unconfigured_journal_says_so(tmp_path: Path) -> None:
    with pytest.raises(HistoryUnavailable, match="no alarm journal configured"):
        JournalHistory(None).alarms()
    with pytest.raises(HistoryUnavailable, match="not found"):
        JournalHistory(tmp_path / "nope" / "alarms.jsonl").alarms()
    (tmp_path / "dir.jsonl").mkdir()
    with pytest.raises(HistoryUnavailable, match="cannot read"):
        JournalHistory(tmp_path / "dir.jsonl").alarms()


def test_index_keeps_the_newest_alarms_only(journal) -> None:  # type: ignore[no-untyped-def]
    complex_, _ = journal
    index = HistoryIndex(max_alarms=2)
    index.apply(_events(complex_))
    assert len(index) == 2 and sorted(a.type for a in index.alarms()) == ["gas", "gas_leak"]  # the oldest went


# ---- filtering ------------------------------------------------------------------------------------


def test_filters_narrow_the_history(journal) -> None:  # type: ignore[no-untyped-def]
    _, path = journal
    alarms = JournalHistory(path).alarms()

    def types(**kw) -> list[str]:  # type: ignore[no-untyped-def]
        return [a.type for a in filter_alarms(alarms, _f(**kw))]

    assert sorted(types()) == ["gas", "gas_leak", "smoke"] and types()[-1] == "smoke"  # newest raised first
    assert types(zone="A") == ["smoke"]
    assert sorted(types(zone="B")) == ["gas", "gas_leak"]
    assert types(tenant="alpha-elec") == ["smoke"]
    assert types(tenant="park") == ["gas_leak"]
    assert types(severity="critical") == ["gas_leak"]
    assert types(type="gas") == ["gas"]
    assert types(state="closed") == ["smoke"]
    assert sorted(types(state="open")) == ["gas", "gas_leak"]
    assert types(type="fire") == [] and types(zone="A", severity="critical") == []
    # time: the smoke alarm closed two minutes after T0, so a range starting later leaves it out;
    # open alarms stay in every range after they were raised; nothing raised after the range ends
    assert sorted(types(since_ms=T0 + 30 * 60_000)) == ["gas", "gas_leak"]
    assert types(until_ms=T0 + 30 * 60_000) == ["smoke"]


def test_parse_filter_accepts_the_ui_values() -> None:
    c = load_complex("tiny")
    tz = UTC
    f, why = parse_filter(
        c,
        {"range": "24h", "zone": "A", "tenant": "park", "severity": "major", "type": "gas_leak", "state": "closed"},
        T0,
        tz,
    )
    assert why == "" and f == HistoryFilter(T0 - 86_400_000, T0, "A", "park", "major", "gas_leak", "closed")
    f, why = parse_filter(c, {"range": "7d", "zone": None, "tenant": "", "severity": None, "type": None}, T0, tz)
    assert f is not None and f.zone is None and f.tenant is None and f.until_ms - f.since_ms == HISTORY_RANGES["7d"][1]
    f, _ = parse_filter(c, {"range": "1h", "start": "2026-11-01", "end": "2026-11-02T00:00:00"}, T0, tz)
    assert f is not None
    assert f.since_ms == int(datetime(2026, 11, 1, tzinfo=UTC).timestamp() * 1000)
    assert f.until_ms == int(datetime(2026, 11, 3, tzinfo=UTC).timestamp() * 1000)  # the end day is included
    f, _ = parse_filter(c, {"range": "24h", "end": "2026-11-02"}, T0, tz)  # end only: the range before it
    assert f is not None and f.until_ms - f.since_ms == 86_400_000


@pytest.mark.parametrize(
    ("raw", "why"),
    [
        ({"range": "forever"}, "unknown time range"),
        ({"range": None}, "unknown time range"),
        ({"range": ["24h"]}, "unknown time range"),
        ({"range": "24h", "zone": "Z"}, "unknown zone"),
        ({"range": "24h", "zone": ["A"]}, "unknown zone"),
        ({"range": "24h", "zone": {"$ne": ""}}, "unknown zone"),
        ({"range": "24h", "tenant": "gamma"}, "unknown tenant"),
        ({"range": "24h", "tenant": ["park"]}, "unknown tenant"),
        ({"range": "24h", "severity": "CRITICAL"}, "unknown severity"),
        ({"range": "24h", "severity": 3}, "unknown severity"),
        ({"range": "24h", "type": "gas leak"}, "alarm types"),
        ({"range": "24h", "type": "gas\n"}, "alarm types"),
        ({"range": "24h", "type": "'; DROP TABLE alarms; --"}, "alarm types"),
        ({"range": "24h", "type": "x" * 65}, "alarm types"),
        ({"range": "24h", "type": 7}, "alarm types"),
        ({"range": "24h", "state": "deleted"}, "unknown state"),
        ({"range": "24h", "start": "2026-02-30"}, "real days"),
        ({"range": "24h", "start": "yesterday"}, "real days"),
        ({"range": "24h", "start": "9999-12-31"}, "start date"),  # after the end (now)
        ({"range": "24h", "start": 20261101}, "real days"),
        ({"range": "24h", "start": "2026-11-01" + "x" * 100}, "real days"),
        ({"range": "24h", "start": "2026-11-05", "end": "2026-11-01"}, "start date"),
        ({"range": "24h", "start": "2020-01-01", "end": "2026-11-01"}, f"at most {MAX_SPAN_DAYS} days"),
    ],
)
def test_parse_filter_rejects_hostile_values(raw: dict, why: str) -> None:
    f, message = parse_filter(load_complex("tiny"), raw, T0, UTC)
    assert f is None and why in message


# ---- the console's callback -------------------------------------------------------------------------


def test_history_view_renders_and_rejects(journal, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    complex_, path = journal
    ctx = DashboardContext(
        complex_,
        HistorianSource("sqlite://" + str(tmp_path / "h.db")),
        clock=lambda: T0 + 2 * H,
        alarm_journal=str(path),
    )
    ops = User("ops", "operator")
    table, status, types = history_view(ctx, ops, {"range": "24h", "tenant": "alpha-elec"})
    text = json.dumps(table.to_plotly_json(), default=str)
    assert "alm-1" in text and "kim" in text and "crew on the way" in text
    assert "alm-2" not in text and status.startswith("1 alarm(s)")
    assert [t["value"] for t in types] == ["gas", "gas_leak", "smoke"]
    table, status, _ = history_view(ctx, ops, {"range": "24h", "zone": "<script>"})
    assert "Filter rejected: unknown zone" in status and "alm-" not in json.dumps(table.to_plotly_json(), default=str)
    _, status, _ = history_view(ctx, None, {"range": "24h"})
    assert status == "not signed in"
    ctx2 = DashboardContext(complex_, HistorianSource("sqlite://" + str(tmp_path / "h.db")))
    table, status, types = history_view(ctx2, ops, {"range": "24h"})
    assert "no alarm journal configured" in status and types == []


def _login(client, user: str) -> None:  # type: ignore[no-untyped-def]
    page = client.get("/login").get_data(as_text=True)
    token = re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)  # type: ignore[union-attr]
    r = client.post("/login", data={"username": user, "password": f"{user}-pass", "csrf_token": token, "next": "/"})
    assert r.status_code == 302


def _history_body(client, **values) -> dict:  # type: ignore[no-untyped-def]
    deps = client.get("/_dash-dependencies").get_json()
    dep = next(d for d in deps if "alarms-history-table.children" in d["output"])
    base = {"alarms-history-range": "24h", "alarms-history-tick": 1}
    inputs = []
    for i in dep["inputs"]:
        key = f"{i['id']}.{i['property']}"
        inputs.append({**i, "value": values.get(key, base.get(i["id"]))})
    return {
        "output": dep["output"],
        "outputs": [
            {"id": o.split(".")[0], "property": o.split(".")[1]} for o in dep["output"].strip(".").split("...")
        ],
        "inputs": inputs,
        "state": [],
        "changedPropIds": ["alarms-history-zone.value"],
    }


def test_forged_history_calls_never_fail_and_tenants_get_nothing(journal, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    complex_, path = journal
    users_file = tmp_path / "users.yaml"
    add_user(users_file, User("ops", "operator"), "ops-pass")
    add_user(users_file, User("alpha", "tenant", "alpha-elec"), "alpha-pass")
    app = create_app(
        complex_,
        "sqlite://" + str(tmp_path / "h.db"),
        alarm_journal=str(path),
        clock=lambda: T0 + 2 * H,
        auth=AuthConfig(load_users(users_file), SECRET),
    )
    ops, alpha = app.server.test_client(), app.server.test_client()
    _login(ops, "ops")
    _login(alpha, "alpha")
    r = ops.post("/_dash-update-component", json=_history_body(ops))
    assert r.status_code == 200 and b"alm-1" in r.data and b"gas_leak" in r.data
    r = ops.post("/_dash-update-component", json=_history_body(ops, **{"alarms-history-severity.value": "critical"}))
    assert r.status_code == 200 and b"alm-1" not in r.data and b"alarm-row" not in r.data and b"gas_leak" in r.data
    hostile = [
        {"alarms-history-zone.value": {"$gt": ""}},
        {"alarms-history-zone.value": ["A", "B"]},
        {"alarms-history-tenant.value": "../../etc/passwd"},
        {"alarms-history-severity.value": 1e308},
        {"alarms-history-type.value": "a" * 100_000},
        {"alarms-history-state.value": True},
        {"alarms-history-range.value": None},
        {"alarms-history-dates.start_date": "0000-00-00"},
        {"alarms-history-dates.start_date": "2026-11-05", "alarms-history-dates.end_date": "1900-01-01"},
        {"alarms-history-dates.end_date": {"nested": [1, 2]}},
    ]
    for values in hostile:
        r = ops.post("/_dash-update-component", json=_history_body(ops, **values))
        assert r.status_code == 200, (values, r.data[:300])
        assert b"Filter rejected" in r.data and b"history-row" not in r.data, values
    r = alpha.post("/_dash-update-component", json=_history_body(alpha))  # tenants may not read the console
    assert r.status_code == 403 and b"alm-" not in r.data
    r = app.server.test_client().post("/_dash-update-component", json=_history_body(ops))
    assert r.status_code == 401 and b"alm-" not in r.data


# ---- the audible cue: what the browser beeps for ----------------------------------------------------


def test_cue_keys_change_once_per_announcement(tmp_path: Path) -> None:
    complex_ = load_complex(_config(tmp_path))
    twin = LiveTwin(complex_, start_ms=T0)
    twin.feed([Reading("beta-f1-gas", T0, 80.0)], T0)

    def open_list() -> list[dict]:
        return [alarm_to_dict(a) for a in twin.open_alarms()]

    first = cue_keys(open_list())
    leak = next(a for a in twin.open_alarms() if a.type == "gas_leak")
    assert first == [f"{leak.id}@{T0}"]  # the critical gas leak; Beta's gas warning makes no sound
    assert cue_keys(open_list()) == first  # the same list again: no new beep
    twin.tick(T0 + complex_.alarms.renotify_s * 1000 + 1000)  # the live twin's reminder
    reminder = cue_keys(open_list())
    assert reminder != first and reminder[0].startswith(leak.id + "@")
    twin.acknowledge(leak.id, "kim", T0 + 2 * H)
    assert cue_keys(open_list()) == [] and banner(open_list()) == ("", "alarm-banner")
    suppressed = {**alarm_to_dict(leak), "suppressed_by": "alm-99"}
    assert cue_keys([suppressed]) == []  # a suppressed alarm does not need an operator


# ---- configuration: --alarm-journal and TWIN_ALARM_JOURNAL ---------------------------------------------


def test_alarm_journal_flag_rejects_a_directory(tmp_path: Path) -> None:
    from click.testing import CliRunner

    from dashboards.cli import dashboard

    r = CliRunner().invoke(
        dashboard,
        ["--historian", "sqlite://" + str(tmp_path / "h.db"), "--config", "tiny", "--alarm-journal", str(tmp_path)],
    )
    assert r.exit_code == 2 and "--alarm-journal" in r.output and "directory" in r.output


def test_wsgi_factory_reads_the_journal_from_the_environment(journal, tmp_path: Path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    from dashboards.wsgi import wsgi_app

    _, path = journal
    monkeypatch.setenv("TWIN_HISTORIAN", "sqlite://" + str(tmp_path / "h.db"))
    monkeypatch.setenv("TWIN_CONFIG", str(_config(tmp_path)))
    monkeypatch.setenv("TWIN_ALARM_JOURNAL", str(path))
    monkeypatch.delenv("TWIN_DASHBOARD_USERS", raising=False)  # open local mode: the local admin
    client = wsgi_app().test_client()
    day = datetime.fromtimestamp(T0 / 1000, UTC).date()
    # explicit days around the events: the result does not depend on today's date
    body = _history_body(
        client,
        **{
            "alarms-history-dates.start_date": str(day - timedelta(days=2)),
            "alarms-history-dates.end_date": str(day + timedelta(days=2)),
        },
    )
    r = client.post("/_dash-update-component", json=body)
    assert r.status_code == 200 and b"history-row-alm-1" in r.data
    monkeypatch.setenv("TWIN_ALARM_JOURNAL", str(tmp_path / "missing" / "alarms.jsonl"))
    r = wsgi_app().test_client().post("/_dash-update-component", json=body)
    assert r.status_code == 200 and b"not found" in r.data and b"history-row" not in r.data
