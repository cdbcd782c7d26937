"""Alarm console callbacks: ordering, the critical banner, actions as the session user, forged input."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from dashboards.alarm_feed import AlarmFeed, AlarmsUnavailable, sorted_alarms
from dashboards.context import DashboardContext
from dashboards.data import HistorianSource
from dashboards.pages.alarms.callbacks import act, alarm_rows, banner
from twin.alarms.client import AlarmTimeout
from twin.codec import Reading
from twin.config import load_complex
from twin.historian import open_historian
from twin.timespec import now_ms


def _a(aid: str, severity: str, raised: int, **kw: Any) -> dict[str, Any]:
    return {
        "id": aid,
        "severity": severity,
        "raised_ms": raised,
        "type": "smoke",
        "source": "alpha-f1",
        "state": "active_unack",
        "owner": "alpha-elec",
        **kw,
    }


class FakeClient:
    """Records commands like the live twin's reply topic would answer them."""

    def __init__(self, url: object, connect_timeout: float = 0) -> None:
        self.sent: list[tuple[str, str, str, dict]] = []
        self.lists: dict[str, list[dict]] = {
            "park": [_a("alm-1", "minor", 5)],
            "alpha-elec": [_a("alm-2", "critical", 1)],
        }

    def command(self, action: str, alarm: str, user: str, timeout: float = 0, **kw: Any) -> dict[str, Any]:
        self.sent.append((action, alarm, user, kw))
        if alarm == "alm-404":
            return {"ok": False, "error": "unknown_alarm", "detail": "no such alarm"}
        if alarm == "alm-500":
            raise AlarmTimeout("no reply")
        return {"ok": True}

    def open_alarms(self) -> dict[str, list[dict]]:
        return self.lists

    def close(self) -> None:
        pass


@pytest.fixture
def ctx() -> DashboardContext:
    c = DashboardContext(load_complex("tiny"), HistorianSource("sqlite:///nonexistent/never-opened.db"))
    object.__setattr__(c, "alarms", AlarmFeed("mqtt://127.0.0.1:1883", factory=FakeClient))
    return c


def test_sorted_by_severity_then_newest_first() -> None:
    alarms = [
        _a("a", "minor", 9),
        _a("b", "critical", 1),
        _a("c", "critical", 7),
        _a("d", "odd", 99),
        _a("e", "warning", 100),
        _a("f", "major", 3),
    ]
    assert [a["id"] for a in sorted_alarms(alarms)] == ["c", "b", "f", "a", "e", "d"]


def test_feed_merges_every_owner_in_order(ctx: DashboardContext) -> None:
    assert [a["id"] for a in ctx.alarms.open_alarms()] == ["alm-2", "alm-1"]


def test_banner_only_while_a_critical_alarm_waits() -> None:
    text, cls = banner([_a("x", "critical", 1)])
    assert "CRITICAL: 1 unacknowledged" in text and "banner-critical" in cls
    assert banner([_a("x", "critical", 1, acked_by="kim")]) == ("", "alarm-banner")
    assert banner([_a("x", "critical", 1, shelved_until_ms=5)]) == ("", "alarm-banner")
    assert banner([_a("x", "major", 1)]) == ("", "alarm-banner")


def test_rows_show_severity_as_text_and_hide_done_actions(ctx: DashboardContext) -> None:
    table = str(alarm_rows(ctx, [_a("alm-1", "critical", 1), _a("alm-2", "minor", 1, acked_by="kim")]))
    assert "CRITICAL" in table and "MINOR" in table and "sev-critical" in table
    assert "'action': 'ack', 'alarm': 'alm-1'" in table and "'action': 'ack', 'alarm': 'alm-2'" not in table
    assert "No open alarms" in str(alarm_rows(ctx, []))


def test_actions_are_sent_as_the_session_user(ctx: DashboardContext) -> None:
    assert act(ctx, "kim", {"action": "ack", "alarm": "alm-2"}, 1, None, None) == "ack alm-2: done by kim"
    assert act(ctx, "kim", {"action": "comment", "alarm": "alm-2"}, 1, " crew on the way ", None).endswith("kim")
    assert act(ctx, "kim", {"action": "shelve", "alarm": "alm-2"}, 1, "detector", 900).endswith("kim")
    sent = ctx.alarms._get().sent  # type: ignore[attr-defined]
    assert sent == [
        ("ack", "alm-2", "kim", {}),
        ("comment", "alm-2", "kim", {"text": "crew on the way"}),
        ("shelve", "alm-2", "kim", {"duration_s": 900, "text": "detector"}),
    ]


@pytest.mark.parametrize(
    ("triggered", "clicks", "comment", "expected"),
    [
        ({"action": "delete", "alarm": "alm-2"}, 1, None, "unknown action"),
        ({"action": "ack", "alarm": "alm-2; DROP"}, 1, None, "unknown action"),
        ({"action": "ack", "alarm": ["alm-2"]}, 1, None, "unknown action"),
        ("alarms-action", 1, None, ""),
        ({"action": "ack", "alarm": "alm-2"}, 0, None, ""),
        ({"action": "comment", "alarm": "alm-2"}, 1, "   ", "type a comment first"),
    ],
)
def test_forged_or_empty_actions_send_nothing(ctx: DashboardContext, triggered, clicks, comment, expected) -> None:  # type: ignore[no-untyped-def]
    assert act(ctx, "kim", triggered, clicks, comment, None) == expected
    assert ctx.alarms._get().sent == []  # type: ignore[attr-defined]


def test_forged_shelve_duration_falls_back_to_an_offered_one(ctx: DashboardContext) -> None:
    act(ctx, "kim", {"action": "shelve", "alarm": "alm-2"}, 1, "", 10**9)
    assert ctx.alarms._get().sent[0][3]["duration_s"] == 3600  # type: ignore[attr-defined]


def test_refusals_and_silence_are_reported(ctx: DashboardContext) -> None:
    assert "refused (unknown_alarm" in act(ctx, "kim", {"action": "ack", "alarm": "alm-404"}, 1, None, None)
    assert "not sent: the live twin did not answer" in act(
        ctx, "kim", {"action": "ack", "alarm": "alm-500"}, 1, None, None
    )
    assert act(ctx, None, {"action": "ack", "alarm": "alm-2"}, 1, None, None) == "not signed in"


def test_without_a_broker_the_feed_says_why() -> None:
    with pytest.raises(AlarmsUnavailable, match="--broker"):
        AlarmFeed(None).open_alarms()


def test_tenant_portal_lists_only_the_tenants_own_alarms(ctx: DashboardContext) -> None:
    from dashboards.auth.users import User
    from dashboards.pages.tenant.callbacks import tenant_alarms

    ctx.alarms._get().lists = {  # type: ignore[attr-defined]
        "alpha-elec": [_a("alm-2", "critical", 1, owner="alpha-elec")],
        "beta-chem": [_a("alm-3", "major", 2, owner="beta-chem")],
    }
    alpha = User("alpha", "tenant", "alpha-elec")
    own = str(tenant_alarms(ctx, alpha, "alpha-elec"))
    assert "alm-2" in own and "alm-3" not in own and "alarms-action" not in own  # read-only
    assert "alm-3" not in str(tenant_alarms(ctx, alpha, "beta-chem"))
    assert "alm-2" not in str(tenant_alarms(ctx, None, "alpha-elec"))
    assert "alm-3" in str(tenant_alarms(ctx, User("ops", "operator"), "beta-chem"))


def test_a_closed_feed_does_not_reconnect(ctx: DashboardContext) -> None:
    ctx.alarms.open_alarms()
    ctx.alarms.close()
    with pytest.raises(AlarmsUnavailable, match="shutting down"):
        ctx.alarms.open_alarms()


def test_console_map_draws_detectors_and_trucks_from_the_historian(tmp_path: Path) -> None:
    """The console's map reads the detectors' and trucks' newest readings from a real historian;
    the detector with an alarm of its own is ringed; without the historian, zones only."""
    from dashboards.pages.alarms.callbacks import read_map
    from dashboards.sitemap import ALARM_ZONE_COLOURS, HAZARD_TRACE, TRUCK_TRACE

    now = now_ms()
    url = "sqlite://" + str(tmp_path / "history.db")
    with open_historian(url) as h:
        h.store([Reading("beta-f1-gas", now - 500, 412.0), Reading("alpha-f1-smoke", now - 500, 0.01)])
        h.store([Reading(f"truck-1-{k}", now - 500, v) for k, v in (("x", 120.0), ("y", 80.0))])
    c = DashboardContext(load_complex("tiny"), HistorianSource(url), clock=lambda: now)
    client = FakeClient(None)
    client.lists = {"park": [_a("alm-5", "major", 1, type="gas_high", source="beta-f1-gas", source_kind="sensor")]}
    object.__setattr__(c, "alarms", AlarmFeed("mqtt://127.0.0.1:1883", factory=lambda *a, **k: client))
    fig = read_map(c)
    hazards = next(t for t in fig.data if t.name == HAZARD_TRACE)
    at = {sid: i for i, sid in enumerate(hazards.customdata)}
    assert "412 ppm" in hazards.hovertext[at["beta-f1-gas"]] and "MAJOR ALARM" in hazards.hovertext[at["beta-f1-gas"]]
    assert hazards.marker.line.color[at["beta-f1-gas"]] == ALARM_ZONE_COLOURS["major"]
    assert "ALARM" not in hazards.hovertext[at["alpha-f1-smoke"]]
    trucks = next(t for t in fig.data if t.name == TRUCK_TRACE)
    assert (list(trucks.x), list(trucks.y)) == ([120.0], [80.0])
    # The historian gone: the map still shows the zones, and the page keeps running.
    gone = DashboardContext(load_complex("tiny"), HistorianSource("sqlite:///nonexistent/never.db"), clock=lambda: now)
    object.__setattr__(gone, "alarms", c.alarms)
    assert HAZARD_TRACE not in [t.name for t in read_map(gone).data]


def test_console_map_outlines_the_zones_of_active_alarms(ctx: DashboardContext) -> None:
    from dashboards.pages.alarms.callbacks import alarm_map

    zone = ctx.complex.zones[0].id
    plain = alarm_map(ctx, [])
    fig = alarm_map(ctx, [_a("alm-9", "critical", 1, zones=[zone], disaster=True, type="fire"),
                          _a("alm-8", "major", 1, zones=["no-such-zone", 7]),  # unknown or malformed: ignored
                          _a("alm-7", "critical", 1, zones=[zone], state="cleared_unack")])  # cleared: not shown
    texts = [a.text for a in fig.layout.annotations]
    assert any("CRITICAL" in t and "FIRE" in t.upper() and "1 alarm" in t for t in texts), texts
    assert len(fig.layout.annotations) == len(plain.layout.annotations) + 1
    assert len(fig.layout.shapes) >= len(plain.layout.shapes)
