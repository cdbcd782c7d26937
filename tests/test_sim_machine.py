"""One machine: ISO 22400 OEE by hand, availability from MTBF/MTTR, setups, scrap, energy."""

from __future__ import annotations

import pytest

from simulations.events import MACHINE_STATE
from simulations.kpis import availability, oee, performance, quality
from simulations.model import build_model
from simulations.settings import ModelSettings
from simulations.stats import summarize
from simulations.toy import machine, toy_complex

H = 3600.0


def _hand_worked_model(sink=None):
    """ISO 22400 example, worked by hand below.

    One machine, ideal cycle 60 s, actual 70 s per unit, one shift 06:00-14:00 with a
    planned break 10:00-10:30, a failure after every 3 h of operation repaired in
    30 min, every 20th unit scrapped, always work waiting. One day:

      06:00-09:00 busy (3 h of operation) -> fails
      09:00-09:30 down
      09:30-10:00 busy
      10:00-10:30 planned break (off)
      10:30-13:00 busy (3 h of operation since the repair) -> fails
      13:00-13:30 down
      13:30-14:00 busy, then off until midnight

    planned busy time PBT = 8 h - 0.5 h = 450 min = 27000 s
    actual production time APT = 180 + 30 + 150 + 30 = 390 min = 23400 s
    produced PQ = floor(23400 / 70) = 334 (the 335th unit is 20 s in)
    scrap = floor(334 / 20) = 16, good GQ = 318
    A = 23400 / 27000 = 0.866667
    P = 60 x 334 / 23400 = 0.856410
    Q = 318 / 334 = 0.952096
    OEE = A x P x Q = 60 x 318 / 27000 = 0.706667
    energy = busy 6.5 h x 5 kW + down 1 h x 0.5 kW = 33.0 kWh
    """
    c = toy_complex([[machine("m", 60.0, mtbf_h=3, mttr_h=0.5)]], shifts=[("day", "06:00", 8)])
    s = ModelSettings.model_validate(
        {
            "defaults": {
                "release": "saturate",
                "lot_size": 1,
                "planned_downtime": [{"start": "10:00", "hours": 0.5}],
            },
            "machines": {
                "m": {
                    "processing": {"dist": "constant", "value": 70},
                    "time_to_failure": {"dist": "constant", "value": 1, "unit": "relative"},
                    "time_to_repair": {"dist": "constant", "value": 1, "unit": "relative"},
                    "scrap_every": 20,
                }
            },
        }
    )
    return build_model(c, s, seed=3, sink=sink)


def test_iso22400_hand_worked_example():
    model = _hand_worked_model()
    model.run(86400.0)
    k = model.kpis()
    assert k["machine.m.produced"] == 334
    assert k["machine.m.scrap"] == 16
    assert k["machine.m.good"] == 318
    assert k["machine.m.failures"] == 2
    assert k["machine.m.availability"] == pytest.approx(23400 / 27000)
    assert k["machine.m.performance"] == pytest.approx(60 * 334 / 23400)
    assert k["machine.m.quality"] == pytest.approx(318 / 334)
    assert k["machine.m.oee"] == pytest.approx(0.706667, abs=1e-6)
    assert k["machine.m.energy_kwh"] == pytest.approx(33.0)
    assert k["machine.m.energy_per_good_unit_kwh"] == pytest.approx(33.0 / 318)
    # One machine is its line, factory, tenant and complex: the aggregates agree.
    for level in ("line.l0", "factory.f0", "tenant.t0", "complex"):
        assert k[f"{level}.oee"] == pytest.approx(k["machine.m.oee"])
    # The ISO functions give the same numbers from the same elements.
    assert availability(23400, 27000) * performance(60, 334, 23400) * quality(318, 334) == pytest.approx(
        oee(60, 318, 27000)
    )


def test_hand_worked_example_state_log():
    events = []
    model = _hand_worked_model(events.append)
    model.run(86400.0)
    log = [(e.time / H, e.data["state"], e.data["reason"]) for e in events if e.kind == MACHINE_STATE]
    assert log == [
        (0.0, "off", "off"),
        (6.0, "busy", "busy"),
        (9.0, "down", "failure"),
        (9.5, "busy", "busy"),
        (10.0, "off", "off"),
        (10.5, "busy", "busy"),
        (13.0, "down", "failure"),
        (13.5, "busy", "busy"),
        (14.0, "off", "off"),
    ]


def test_availability_equals_mtbf_over_mtbf_plus_mttr():
    mtbf_h, mttr_h = 2.0, 0.5
    c = toy_complex([[machine("m", 60.0, mtbf_h=mtbf_h, mttr_h=mttr_h)]])
    s = ModelSettings.model_validate(
        {
            "defaults": {
                "release": "saturate",
                "lot_size": 1,
                "processing": {"dist": "constant", "value": 60},
            }
        }
    )
    values = []
    for r in range(10):
        model = build_model(c, s, seed=1, replication=r)
        model.run(400 * H)
        k = model.kpis()
        values.append(k["machine.m.availability"])
        # The failure clock counts operating time: failures ~ operating hours / MTBF.
        assert k["machine.m.failures"] == pytest.approx(k["machine.m.availability"] * 400 / mtbf_h, rel=0.3)
    a = summarize(values)
    assert a.contains(mtbf_h / (mtbf_h + mttr_h)), a
    assert a.half_width < 0.03


def test_setups_only_on_product_change_and_counted_in_time():
    c = toy_complex([[machine("m", 10.0, setup_s=100)]])
    two = ModelSettings.model_validate(
        {
            "defaults": {
                "failures": False,
                "processing": {"dist": "constant", "value": 10},
                "utilisation": 0.5,
            },
            "factories": {"f0": {"products": [{"id": "a", "lot_size": 5}, {"id": "b", "lot_size": 5}]}},
        }
    )
    model = build_model(c, two, seed=2)
    model.run(50 * H)
    k = model.kpis()
    assert k["machine.m.setups"] > 10
    pbt = 50 * H  # no shifts: planned around the clock
    assert k["machine.m.setup_share"] * pbt == pytest.approx(k["machine.m.setups"] * 100.0)
    one = ModelSettings.model_validate({"defaults": {"failures": False}})
    model = build_model(c, one, seed=2)
    model.run(50 * H)
    assert model.kpis()["machine.m.setups"] == 0


def test_scrap_rate_gives_quality_within_ci():
    c = toy_complex([[machine("m", 10.0, scrap_rate=0.1)]])
    s = ModelSettings.model_validate({"defaults": {"failures": False, "release": "saturate", "lot_size": 7}})
    q = []
    for r in range(8):
        model = build_model(c, s, seed=5, replication=r)
        model.run(20 * H)
        q.append(model.kpis()["machine.m.quality"])
    assert summarize(q).contains(0.9)


def test_failure_interrupts_work_and_the_lot_resumes():
    # A 100 s unit, a failure after 60 s of work, a 50 s repair: 40 s are left and the
    # unit completes at 150 s (work is resumed, not restarted).
    c = toy_complex([[machine("m", 100.0)]])
    s = ModelSettings.model_validate(
        {
            "defaults": {"release": "saturate", "lot_size": 1},
            "machines": {"m": {"processing": 100, "time_to_failure": 60, "time_to_repair": 50}},
        }
    )
    events = []
    model = build_model(c, s, sink=events.append)
    model.run(151.0)
    counts = [e.time for e in events if e.kind == "machine.count"]
    assert counts == [pytest.approx(150.0)]
    states = [(e.time, e.data["reason"]) for e in events if e.kind == MACHINE_STATE]
    assert states == [(0.0, "starved"), (0.0, "busy"), (60.0, "failure"), (110.0, "busy")]
