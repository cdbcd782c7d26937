"""twin.live.twin: the pure entry point (feed, tick, commands, snapshots) and restarts."""

from __future__ import annotations

import pytest

from tests.live_helpers import T0, ms, r, tiny_with
from twin.alarms.records import AlarmState, EventKind
from twin.live import CommandRejected, LiveTwin


@pytest.fixture
def twin() -> LiveTwin:
    return LiveTwin(tiny_with(), start_ms=T0)


def quiet(t: float) -> list:
    return [
        r("alpha-f1-smoke", t, 0.04),
        r("alpha-f1-temp", t, 21),
        r("beta-f1-gas", t, 2),
        r("A-seis-1", t, 0.002),
        r("B-seis-1", t, 0.002),
        r("A-water-1", t, 30),
    ]


def test_quiet_readings_raise_nothing(twin: LiveTwin) -> None:
    for t in range(0, 120, 2):
        assert twin.feed(quiet(t), ms(t)) == []
        assert twin.tick(ms(t)) == []


def test_readings_older_than_the_last_are_ignored(twin: LiveTwin) -> None:
    twin.feed([r("beta-f1-gas", 10, 2)], ms(10))
    assert twin.feed([r("beta-f1-gas", 5, 500), r("beta-f1-gas", 10, 500)], ms(11)) == []
    assert twin.ignored_old == 2


def test_gas_leak_then_operator_actions_then_clear(twin: LiveTwin) -> None:
    ev = twin.feed([r("beta-f1-gas", 0, 80)], ms(0))
    by_type = {e.alarm.type: e.alarm for e in ev}
    assert set(by_type) == {
        "gas_leak",
        "gas",
    }  # zone disaster + the sensor's early-warning threshold
    leak, gas = by_type["gas_leak"], by_type["gas"]
    assert leak.owner == "park" and leak.severity == "critical" and leak.zones == ("B",)
    assert gas.owner == "beta-chem" and gas.suppressed_by == leak.id  # no flood of dependent alarms
    twin.acknowledge(leak.id, "kim", ms(5))
    twin.comment(leak.id, "kim", "evacuating zone B", ms(6))
    with pytest.raises(CommandRejected):
        twin.acknowledge(leak.id, "lee", ms(7))
    ev = twin.feed([r("beta-f1-gas", 10, 3)], ms(10))
    # the suppressed early warning closes by itself; the leak waits for its off delay (30 s)
    assert [(e.alarm.id, e.alarm.state, e.detail) for e in ev] == [
        (gas.id, AlarmState.CLOSED, "cleared while suppressed")
    ]
    ev = twin.feed([r("beta-f1-gas", 41, 3)], ms(41))
    kinds = [(e.kind, e.alarm.type, e.alarm.state) for e in ev]
    assert (EventKind.CLEARED, "gas_leak", AlarmState.CLOSED) in kinds  # it was acknowledged
    assert twin.open_alarms("park") == []


def test_snapshots_show_states_alarms_and_disasters(twin: LiveTwin) -> None:
    twin.feed(
        [
            r("alpha-smt-state", 0, 2),
            r("alpha-smt-power", 0, 7.9),
            r("alpha-smt-good", 0, 10),
            r("alpha-aoi-power", 0, 1.1),
            r("A-water-1", 0, 200),
        ],
        ms(0),
    )
    factories, summary = twin.snapshots(ms(1))
    f = next(x for x in factories if x.factory == "alpha-f1")
    smt, aoi = f.machines
    assert (smt.state, smt.source, smt.power_kw, smt.good_count) == (
        "busy",
        "state_sensor",
        7.9,
        10,
    )
    assert (aoi.state, aoi.source) == ("idle", "power")
    assert f.power_kw == pytest.approx(9.0)
    assert f.disasters == ("flood",) and f.tenant == "alpha-elec" and f.zone == "A"
    zone_a = next(z for z in summary.zones if z.zone == "A")
    assert zone_a.disasters == ("flood",) and zone_a.alarms.critical == 1
    assert summary.alarms.critical == 1 and summary.state_counts["busy"] == 1
    # 20 s later everything that did not speak again is stale
    f2 = twin.factory_snapshot("alpha-f1", ms(20))
    assert f2.machines[0].state == "unknown" and f2.machines[0].stale
    assert f2.stale_count == f2.sensors


def test_restart_from_the_events_rebuilds_the_alarm_state(twin: LiveTwin) -> None:
    events = []
    events += twin.feed([r("alpha-f1-smoke", 0, 3.0), r("beta-reactor-temp", 0, 100)], ms(0))  # smoke: major
    events += twin.feed([r("A-seis-1", 1, 0.1), r("B-seis-1", 1, 0.1)], ms(1))  # earthquake + 2 seismic
    smoke = next(a for a in twin.open_alarms() if a.type == "smoke")
    seismic_b = next(a for a in twin.open_alarms() if a.source == "B-seis-1")
    events += twin.acknowledge(smoke.id, "kim", ms(2))
    events += twin.shelve(seismic_b.id, "lee", 600, ms(3), reason="maintenance")
    events += twin.tick(ms(4))
    again = LiveTwin(tiny_with(), start_ms=ms(5), events=events)
    assert again.book.state() == twin.book.state()
    # conditions of active alarms are seeded: quiet readings clear them as before the restart
    after = again.feed([r("alpha-f1-smoke", 10, 0.04)], ms(10))
    assert [(e.kind, e.alarm.id, e.alarm.state) for e in after] == [(EventKind.CLEARED, smoke.id, AlarmState.CLOSED)]


def test_commands_respect_the_owner_scope(twin: LiveTwin) -> None:
    from twin.alarms.commands import AlarmCommand

    ev = twin.feed([r("alpha-f1-smoke", 0, 3.0)], ms(0))
    smoke = ev[0].alarm
    with pytest.raises(CommandRejected):
        twin.command(AlarmCommand("ack", smoke.id, "mallory"), ms(1), scope="beta-chem")
    assert twin.command(AlarmCommand("ack", smoke.id, "kim"), ms(1), scope="alpha-elec")[0].alarm.acked_by == "kim"
