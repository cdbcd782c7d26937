"""Disasters stop factories and roads, call the emergency team, and cost production."""

from __future__ import annotations

import pytest

from simulations.errors import SimulationError
from simulations.events import DISASTER, SHIPMENT_DELIVERED
from simulations.model import build_model
from simulations.settings import ModelSettings
from simulations.stats import summarize
from simulations.toy import machine, toy_complex

H = 3600.0
ROAD = [[(0.0, 500.0), (2000.0, 500.0)]]


def _complex(**kw):
    trucks = [{"id": "k1", "capacity": 10, "speed_kmh": 36, "home": "hub"}]
    return toy_complex([[machine("m", 10), machine("n", 12)]], factories=2, trucks=trucks, roads=ROAD, **kw)


def _settings(disasters, **defaults) -> ModelSettings:
    return ModelSettings.model_validate(
        {
            "defaults": {"failures": False, "utilisation": 0.7, **defaults},
            "emergency": {
                "teams": 1,
                "response": {"dist": "constant", "value": 30, "unit": "min"},
                "restart": {"dist": "constant", "value": 30, "unit": "min"},
            },
            "disasters": disasters,
        }
    )


def test_scheduled_flood_stops_the_zone_and_is_followed_to_recovery():
    events = []
    flood = {"kind": "flood", "zone": "B", "day": 2, "time": "08:00", "duration_h": 4}
    model = build_model(_complex(), _settings([flood]), seed=3, sink=events.append)
    model.run(24 * H)
    model.reset_statistics()
    model.run(5 * 24 * H)
    onset = 32 * H
    phases = [(e.data["phase"], e.time) for e in events if e.kind == DISASTER]
    assert phases[:4] == [
        ("start", onset),
        ("response", onset + 0.5 * H),
        ("contained", onset + 4.5 * H),
        ("restarted", onset + 5 * H),
    ]
    assert phases[4][0] == "recovered" and phases[4][1] >= onset + 5 * H
    start = next(e for e in events if e.kind == DISASTER)
    assert start.data["zones"] == ["B"] and start.data["factories"] == ["f1"]
    k = model.kpis()
    assert k["factory.f1.disaster_downtime_h"] == pytest.approx(5.0)
    assert k["factory.f0.disaster_downtime_h"] == 0.0
    assert k["machine.m-f1.disaster_share"] == pytest.approx(5 / 96)  # measured from 24 h to 120 h
    assert k["machine.m.disaster_share"] == 0.0
    assert k["factory.f1.production_lost_units"] > 0 and k["factory.f0.production_lost_units"] == 0
    assert k["complex.disasters"] == 1
    assert k["complex.time_to_recover_h"] == pytest.approx((phases[4][1] - onset) / H)
    # While flooded, the zone's machines report "down" with reason "disaster".
    states = [(e.time, e.data["reason"]) for e in events if e.kind == "machine.state" and e.source == "n-f1"]
    assert (onset, "disaster") in states


def test_flooded_roads_hold_trucks_until_they_reopen():
    # The centre is in zone B: a flood there closes its docks and roads, so nothing
    # is delivered between onset and containment.
    events = []
    flood = {"kind": "flood", "zone": "B", "at_h": 10, "duration_h": 6}
    model = build_model(_complex(), _settings([flood], max_wait_h=0.25), seed=1, sink=events.append)
    model.run(30 * H)
    delivered = [e.time for e in events if e.kind == SHIPMENT_DELIVERED]
    assert delivered, "shipments before and after the flood"
    assert not [t for t in delivered if 10 * H < t < 16.5 * H]
    assert [t for t in delivered if t > 16.5 * H]
    assert model.logistics.blocked == frozenset()


def test_power_outage_needs_no_team_and_disasters_queue_for_the_team():
    events = []
    specs = [
        {"kind": "power_outage", "zone": "A", "at_h": 5, "duration_h": 1},
        {"kind": "fire", "factory": "f0", "at_h": 10, "duration_h": 2},
        {"kind": "gas_leak", "factory": "f1", "at_h": 10, "duration_h": 1},
    ]
    model = build_model(_complex(), _settings(specs), sink=events.append)
    model.run(20 * H)
    by_id: dict[str, list] = {}
    for e in events:
        if e.kind == DISASTER:
            by_id.setdefault(e.source, []).append((e.data["phase"], e.time / H))
    outage, fire, gas = by_id.values()
    assert [p for p, _ in outage][:3] == ["start", "contained", "restarted"]  # no response phase
    assert fire[:3] == [("start", 10), ("response", 10.5), ("contained", 12.5)]
    # One team: the gas leak waits until the fire is contained.
    assert gas[:3] == [("start", 10), ("response", 13.0), ("contained", 14.0)]


def test_disaster_outside_planned_time_costs_nothing():
    night = {"kind": "fire", "factory": "f0", "day": 1, "time": "20:00", "duration_h": 4}
    c = _complex(shifts=[("day", "06:00", 8)])
    model = build_model(c, _settings([night]))
    model.run(2 * 24 * H)
    k = model.kpis()
    assert k["complex.disasters"] == 1
    assert k["factory.f0.disaster_downtime_h"] == 0.0
    assert k["factory.f0.production_lost_units"] == 0.0


def test_random_disasters_follow_their_yearly_rate():
    counts = []
    for r in range(6):
        model = build_model(
            _complex(),
            _settings(
                [{"kind": "fire", "factory": "f0", "rate_per_year": 40, "duration_h": 1}],
                arrivals=1e9,
            ),
            seed=5,
            replication=r,
        )
        model.run(365 * 24 * H)
        counts.append(model.kpis()["complex.disasters"])
    assert summarize(counts).contains(40)


def test_inject_a_disaster_while_running():
    events = []
    model = build_model(_complex(), _settings([]), sink=events.append)
    model.run(3 * H)
    ident = model.inject_disaster({"kind": "fire", "factory": "f1", "duration_h": 1})
    model.run(3 * H + 1)
    start = [e for e in events if e.kind == DISASTER]
    assert start[0].source == ident and start[0].time == 3 * H and start[0].data["phase"] == "start"
    assert not model.factories["f1"].gate.is_open and model.factories["f0"].gate.is_open
    with pytest.raises(SimulationError, match="unknown factory 'nope'"):
        model.inject_disaster({"kind": "fire", "factory": "nope"})
    with pytest.raises(SimulationError, match="disaster kind: Input should be"):
        model.inject_disaster({"kind": "meteor", "zone": "A"})
