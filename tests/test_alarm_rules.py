"""twin.alarms.rules: every rule kind on hand-made sequences, hysteresis and delay edges."""

from __future__ import annotations

import pytest

from tests.live_helpers import T0, ms, tiny_with
from twin.alarms.rules import Debounce, RuleEngine, Transition, default_rules, off_power_level
from twin.config import load_complex
from twin.model import PowerDraw


def run(engine: RuleEngine, seq: list[tuple[str, float, float]]) -> list[Transition]:
    out: list[Transition] = []
    for sid, t, v in seq:
        engine.on_reading(sid, ms(t), v, out)
    return out


def of(out: list[Transition], type_: str) -> list[tuple[bool, int]]:
    """(active, seconds after T0) of the transitions of one alarm type."""
    return [(t.active, (t.ts_ms - T0) // 1000) for t in out if t.spec.type == type_]


def engine(alarms: dict, **kw) -> RuleEngine:
    return RuleEngine(tiny_with({"defaults": False, **alarms}), start_ms=T0, **kw)


# ---- debounce ---------------------------------------------------------------------------


def test_debounce_needs_the_condition_to_hold_for_the_whole_delay() -> None:
    d = Debounce(on_delay_s=5, off_delay_s=3)
    assert d.update(True, 0) is None
    assert d.update(False, 2000) is None  # dip resets the timer
    assert d.update(True, 4000) is None
    assert d.update(True, 8999) is None  # 4.999 s held
    assert d.update(True, 9000) == 9000 and d.active
    assert d.update(False, 10_000) is None
    assert d.poll(12_999) is None
    assert d.poll(13_000) == 13_000 and not d.active  # the off delay ran out without a reading


# ---- threshold --------------------------------------------------------------------------


def test_threshold_hysteresis_raises_at_limit_and_clears_below_the_deadband() -> None:
    e = engine({"thresholds": [{"sensor": "beta-reactor-temp", "type": "hot", "above": 250, "deadband": 5}]})
    seq = [(249.9, 0), (250, 1), (246, 2), (245, 3), (244.99, 4), (249, 5), (250, 6)]
    out = run(e, [("beta-reactor-temp", t, v) for v, t in seq])
    assert of(out, "hot") == [(True, 1), (False, 4), (True, 6)]
    assert out[0].value == 250 and ">=" in out[0].message


def test_threshold_below_mirrors_above() -> None:
    e = engine(
        {
            "thresholds": [
                {
                    "sensor": "beta-reactor-press",
                    "type": "low_pressure",
                    "below": 2,
                    "deadband": 0.5,
                }
            ]
        }
    )
    out = run(e, [("beta-reactor-press", t, v) for t, v in enumerate([3, 2, 2.4, 2.5, 2.51, 1.9])])
    assert of(out, "low_pressure") == [(True, 1), (False, 4), (True, 5)]


def test_threshold_on_and_off_delays_edges() -> None:
    e = engine(
        {
            "thresholds": [
                {
                    "sensor": "beta-reactor-temp",
                    "type": "hot",
                    "above": 250,
                    "on_delay_s": 4,
                    "off_delay_s": 6,
                }
            ]
        }
    )
    # 0-3 s above: one sample short of the delay, then a dip: no alarm
    # 10 s on: raised at exactly 14 s; off at 20 s, back at 25 s (5 s < 6 s): stays;
    # off at 30 s: clears at 36 s
    seq = [
        (0, 260),
        (2, 260),
        (3, 260),
        (4, 200),
        (10, 260),
        (12, 260),
        (13.999, 260),
        (14, 260),
        (20, 200),
        (25, 260),
        (30, 200),
        (35, 200),
    ]
    out = run(e, [("beta-reactor-temp", t, v) for t, v in seq])
    assert of(out, "hot") == [(True, 14)]
    polled: list[Transition] = []
    e.poll(ms(35.999), lambda s: None, polled)
    assert not [t for t in polled if t.spec.type == "hot"]
    e.poll(ms(36), lambda s: None, polled)
    assert of(polled, "hot") == [(False, 36)]


# ---- rate of change ---------------------------------------------------------------------


def test_rate_of_change_rise_needs_half_a_window_and_the_rate() -> None:
    e = engine({"rates": [{"sensor": "beta-reactor-temp", "rise_per_min": 6, "window_s": 60}]})
    slow = [("beta-reactor-temp", t, 100 + 0.05 * t) for t in range(0, 120, 2)]  # 3 degC/min
    assert run(e, slow) == []
    fast = [("beta-reactor-temp", 120 + t, 106 + 0.2 * t) for t in range(0, 40, 2)]  # 12 degC/min
    out = run(e, fast)
    assert [a for a, _ in of(out, "rate_of_change")] == [True]
    flat = [("beta-reactor-temp", 160 + t, 114) for t in range(0, 120, 2)]
    assert [a for a, _ in of(run(e, flat), "rate_of_change")] == [False]


def test_rate_of_change_fall() -> None:
    e = engine(
        {
            "rates": [
                {
                    "sensor": "beta-reactor-press",
                    "type": "pressure_drop",
                    "fall_per_min": 3,
                    "window_s": 20,
                }
            ]
        }
    )
    out = run(e, [("beta-reactor-press", t, 10 - 0.1 * t) for t in range(0, 30)])  # -6 bar/min
    assert of(out, "pressure_drop")[:1] == [(True, 10)]


# ---- stale / missing data ----------------------------------------------------------------


def test_stale_alarm_per_device_for_missing_and_silent_sensors() -> None:
    e = engine({"stale": [{"sensors": ["beta-reactor-temp", "beta-reactor-press"], "factor": 3}]})
    last: dict[str, int] = {}
    out: list[Transition] = []
    # never heard: stale once factor x period (3 x 2 s) has passed since the start
    e.poll(ms(6), last.get, out)
    assert out == []
    e.poll(ms(6.001), last.get, out)
    assert of(out, "stale") == [(True, 6)] and out[0].spec.source == "beta-reactor"
    assert "beta-reactor-press" in out[0].message and "beta-reactor-temp" in out[0].message
    last.update({"beta-reactor-temp": ms(10), "beta-reactor-press": ms(10)})
    e.poll(ms(11), last.get, out)
    assert of(out, "stale")[-1] == (False, 11)
    last["beta-reactor-temp"] = ms(20)
    e.poll(ms(16.001), last.get, out)  # press silent for 6.001 s
    assert of(out, "stale")[-1] == (True, 16)
    assert "beta-reactor-press" in out[-1].message and "beta-reactor-temp" not in out[-1].message


# ---- composite disaster rules -------------------------------------------------------------


def test_fire_needs_smoke_and_heat_in_the_same_zone() -> None:
    e = RuleEngine(tiny_with({"defaults": False}), start_ms=T0)
    quiet = [("alpha-f1-smoke", t, 0.04) for t in range(0, 60, 2)] + [("alpha-f1-temp", t, 21) for t in range(0, 60, 2)]
    assert run(e, sorted(quiet, key=lambda x: x[1])) == []
    smoke_only = [("alpha-f1-smoke", t, 5.0) for t in range(60, 80, 2)]
    assert of(run(e, smoke_only), "fire") == []
    # heat rises 1 degC/2 s: 8 degC above the window's minimum after 16 s
    heat = [("alpha-f1-temp", 80 + t, 21 + t / 2) for t in range(0, 20, 2)]
    out = run(e, heat)
    assert of(out, "fire") == [(True, 96)]
    fire = next(t for t in out if t.spec.type == "fire")
    assert fire.spec.source == "A" and fire.spec.disaster and fire.spec.zones == ("A",)
    # burning: smoke at half the limit keeps it; smoke gone + off delay (60 s) clears it
    out = run(e, [("alpha-f1-smoke", 100, 0.6), ("alpha-f1-smoke", 102, 0.2), ("alpha-f1-temp", 102, 25)])
    assert of(out, "fire") == []
    out = run(e, [("alpha-f1-smoke", 162, 0.1)])
    assert of(out, "fire") == [(False, 162)]


def test_fire_heat_alone_or_smoke_in_another_zone_is_no_fire() -> None:
    data_fire = {"defaults": False}
    e = RuleEngine(tiny_with(data_fire), start_ms=T0)
    # beta-f1 (zone B) has no smoke sensor: heat in A and "smoke" nowhere -> nothing
    out = run(e, [("alpha-f1-temp", t, 21 + t) for t in range(0, 30, 2)])
    assert of(out, "fire") == []
    # a hot reading above the fixed heat-detector level counts as heat
    out = run(e, [("alpha-f1-smoke", 40, 2.0)])
    assert of(out, "fire") == [(True, 40)]


def test_gas_leak_above_the_exposure_limit_with_deadband() -> None:
    e = RuleEngine(
        tiny_with(
            {
                "defaults": False,
                "disasters": {"gas_leak": {"limit_ppm": 50, "deadband_share": 0.2, "off_delay_s": 0}},
            }
        ),
        start_ms=T0,
    )
    out = run(e, [("beta-f1-gas", t, v) for t, v in [(0, 2), (2, 49.9), (4, 50), (6, 41), (8, 39.9)]])
    assert of(out, "gas_leak") == [(True, 4), (False, 8)]
    assert out[0].spec.source == "B" and "beta-f1-gas" in out[0].message


def test_flood_default_level_is_a_quarter_of_the_gauge_range() -> None:
    e = RuleEngine(tiny_with({"defaults": False, "disasters": {"flood": {"off_delay_s": 0}}}), start_ms=T0)
    # A-water-1 range [0, 300] cm: flood at 75 cm, clears below 75 - 2% x 300 = 69 cm
    out = run(e, [("A-water-1", t, v) for t, v in [(0, 30), (5, 74.9), (10, 75), (15, 70), (20, 68.9)]])
    assert of(out, "flood") == [(True, 10), (False, 20)]


def test_flood_absolute_level_in_metres() -> None:
    c = tiny_with({"defaults": False, "disasters": {"flood": {"level_cm": 120}}})
    e = RuleEngine(c, start_ms=T0)
    assert e.specs[("A", "flood")]
    out = run(e, [("A-water-1", 0, 119), ("A-water-1", 5, 120)])  # the tiny gauge is in cm
    assert of(out, "flood") == [(True, 5)]


def test_earthquake_needs_two_zones_within_the_window() -> None:
    e = RuleEngine(tiny_with({"defaults": False}), start_ms=T0)
    out = run(e, [("A-seis-1", 0, 0.2), ("B-seis-1", 11, 0.2)])  # 11 s apart: two local events
    assert of(out, "earthquake") == []
    out = run(e, [("A-seis-1", 40, 0.08), ("B-seis-1", 41, 0.002), ("B-seis-1", 42, 0.06)])
    assert of(out, "earthquake") == [(True, 42)]
    quake = next(t for t in out if t.spec.type == "earthquake")
    assert quake.zones == ("A", "B") and quake.spec.source == "tiny-park" and quake.value == 0.08
    # shaking over: clears after the window and the off delay (60 s) with no new hit
    polled: list[Transition] = []
    e.poll(ms(42 + 10 + 59), lambda s: None, polled)
    assert of(polled, "earthquake") == []
    e.poll(ms(42 + 10 + 61), lambda s: None, polled)
    assert [a for a, _ in of(polled, "earthquake")] == [False]


def test_earthquake_reads_gal_sensors_in_g() -> None:
    zones = tiny_with().model_dump(mode="json")["zones"]
    for z in zones:
        for s in z["hazard_sensors"]:
            if s["kind"] == "seismic":
                s["unit"], s["range"] = "gal", [0, 2000]
    e = RuleEngine(tiny_with({"defaults": False}, zones=zones), start_ms=T0)
    out = run(e, [("A-seis-1", 0, 49.0), ("B-seis-1", 1, 49.1)])  # 0.04997 g and 0.05007 g
    assert of(out, "earthquake") == []
    out = run(e, [("A-seis-1", 2, 60.0)])
    assert of(out, "earthquake") == [(True, 2)]


def outage_engine(planned_off=None) -> RuleEngine:
    c = tiny_with({"defaults": False, "disasters": {"power_outage": {"min_machines": 2, "window_s": 10}}})
    return RuleEngine(c, planned_off=planned_off, start_ms=T0)


def test_power_outage_when_many_machines_lose_power_at_once() -> None:
    e = outage_engine()
    run(e, [("alpha-smt-power", 0, 8.0), ("alpha-aoi-power", 0, 3.0)])
    out = run(e, [("alpha-smt-power", 1, 0.0), ("alpha-aoi-power", 5, 0.05)])
    assert of(out, "power_outage") == [(True, 5)]
    assert out[0].spec.source == "A" and out[0].value == 2
    out = run(e, [("alpha-smt-power", 30, 2.0)])  # one back: fewer than 2 without power
    assert of(out, "power_outage") == []  # off delay 30 s
    polled: list[Transition] = []
    e.poll(ms(60), lambda s: None, polled)
    assert of(polled, "power_outage") == [(False, 60)]


def test_power_outage_not_raised_by_drops_far_apart_or_planned_stops() -> None:
    e = outage_engine()
    run(e, [("alpha-smt-power", 0, 8.0), ("alpha-aoi-power", 0, 3.0)])
    assert of(run(e, [("alpha-smt-power", 1, 0.0), ("alpha-aoi-power", 12, 0.0)]), "power_outage") == []
    e = outage_engine(planned_off=lambda machine, ts: True)  # end of the last shift: planned
    run(e, [("alpha-smt-power", 0, 8.0), ("alpha-aoi-power", 0, 3.0)])
    assert run(e, [("alpha-smt-power", 1, 0.0), ("alpha-aoi-power", 2, 0.0)]) == []


def test_off_power_level_is_halfway_to_the_lowest_running_draw() -> None:
    assert off_power_level(PowerDraw(idle=2, busy=8, setup=3, down=0.3)) == pytest.approx(0.15)
    assert off_power_level(PowerDraw(off=0.5, idle=2, busy=8, setup=3)) == pytest.approx(1.25)


# ---- defaults and config --------------------------------------------------------------------


def test_defaults_cover_every_hazard_sensor_of_the_demo() -> None:
    c = load_complex("demo")
    th, rates, stale = default_rules(c)
    covered = {r.sensor for r in th}
    hazard = {sid for sid, i in c.sensors.items() if i.hazard}
    assert covered == hazard
    e = RuleEngine(c)
    kinds = {k[1] for k in e.specs}
    assert {"fire", "gas_leak", "flood", "earthquake", "power_outage", "stale"} <= kinds
    assert all(e.specs[k].severity == "critical" for k in e.specs if e.specs[k].disaster)


def test_user_rule_overrides_the_default_of_the_same_sensor_and_type() -> None:
    e = RuleEngine(
        tiny_with(
            {
                "thresholds": [
                    {
                        "sensor": "alpha-f1-smoke",
                        "type": "smoke",
                        "above": 5,
                        "severity": "critical",
                    }
                ]
            }
        ),
        start_ms=T0,
    )
    spec = e.specs[("alpha-f1-smoke", "smoke")]
    assert spec.severity == "critical"
    out = run(e, [("alpha-f1-smoke", 0, 2.0)])  # above the default 1.0, below the user's 5
    assert of(out, "smoke") == []


def test_defaults_off_leaves_only_disasters_and_listed_rules() -> None:
    e = RuleEngine(
        tiny_with(
            {
                "defaults": False,
                "disasters": {
                    "fire": None,
                    "flood": None,
                    "gas_leak": None,
                    "earthquake": None,
                    "power_outage": None,
                },
            }
        )
    )
    assert e.specs == {}


def test_rate_and_fire_windows_hold_at_high_sample_rates() -> None:
    """A sensor sending 50 readings/s must not shrink the 5-minute windows (bounded memory)."""
    e = RuleEngine(
        tiny_with(
            {
                "defaults": False,
                "rates": [{"sensor": "alpha-f1-temp", "type": "slow_rise", "rise_per_min": 1.0, "window_s": 300}],
            }
        ),
        start_ms=T0,
    )
    out: list[Transition] = []
    for k in range(0, 200 * 50):  # 200 s at 50 Hz, rising 1.2 degC/min, smoke present
        t = k / 50
        e.on_reading("alpha-f1-temp", ms(t), 20 + 0.02 * t, out)
        if k % 100 == 0:
            e.on_reading("alpha-f1-smoke", ms(t), 2.0, out)
    assert [a for a, _ in of(out, "slow_rise")] == [True]  # needs 150 s of history: it kept it
    assert of(out, "fire") == []  # 4 degC in 200 s: below the 8 degC rise
    check = e._by_key[("alpha-f1-temp", "slow_rise")]
    assert len(check.points) <= 300


def test_power_outage_of_one_whole_factory() -> None:
    # defaults: zone A has 2 metered machines (< 3), but they are all of alpha-f1's
    e = RuleEngine(tiny_with({"defaults": False}), start_ms=T0)
    run(e, [("alpha-smt-power", 0, 8.0), ("alpha-aoi-power", 0, 3.0)])
    assert of(run(e, [("alpha-smt-power", 1, 0.0)]), "power_outage") == []
    assert of(run(e, [("alpha-aoi-power", 3, 0.0)]), "power_outage") == [(True, 3)]


def test_outage_seeded_after_a_restart_stays_while_machines_are_dark() -> None:
    e = outage_engine()
    e.seed_active([("A", "power_outage")])  # the journal said: outage in zone A
    out = run(e, [("alpha-smt-power", 0, 0.0), ("alpha-aoi-power", 0, 0.0)])
    polled: list[Transition] = []
    e.poll(ms(120), lambda s: None, polled)
    assert of(out + polled, "power_outage") == []  # still dark: not cleared
    out = run(e, [("alpha-smt-power", 130, 8.0), ("alpha-aoi-power", 130, 3.0)])
    e.poll(ms(161), lambda s: None, polled)
    assert of(polled, "power_outage") == [(False, 160)]
