"""The disaster field: each kind's signature, its spread over time and distance, its decay."""

from __future__ import annotations

import pytest

from sensors.hazards import HazardField
from twin.config import load_complex

T0 = 1_795_700_000_000
S = 1000
MIN = 60 * S


@pytest.fixture(scope="module")
def demo():
    return load_complex("demo")


def _field(demo):
    return HazardField(demo)


def test_quiet_without_incidents(demo):
    f = _field(demo)
    assert all(f.overlay(sid, T0) == 0.0 for sid in demo.sensors)
    assert not f.power_cut("hanbit-f1", T0)


def test_fire_starts_in_the_burning_factory_and_reaches_neighbours_later_and_weaker(demo):
    f = _field(demo)
    f.start("fire#1", "fire", ["A"], ["hanbit-f1"], T0)
    own, near, far = "hanbit-f1-smoke", "hanbit-f2-smoke", "daesung-f1-smoke"
    # before onset and at onset: nothing
    assert f.overlay(own, T0 - S) == 0.0 and f.overlay(own, T0) == 0.0
    # the burning factory's own smoke rises within minutes, monotonically while burning
    series = [f.overlay(own, T0 + k * MIN) for k in range(0, 31, 5)]
    assert series == sorted(series) and series[-1] > 15.0  # %obs/m, range 0-30
    # the neighbour 350 m away: nothing until the smoke front arrives (~10 min), then less
    assert f.overlay(near, T0 + 5 * MIN) == 0.0
    assert 0.5 < f.overlay(near, T0 + 30 * MIN) < 0.5 * f.overlay(own, T0 + 30 * MIN)
    # a factory in another zone 1.4 km away: negligible
    assert f.overlay(far, T0 + 60 * MIN) < 0.01
    # heat: the factory's temperature sensor rises by well over 100 degC, the neighbour's a little
    assert f.overlay("hanbit-f1-temp", T0 + 30 * MIN) > 100.0
    assert 0.0 < f.overlay("hanbit-f2-temp", T0 + 60 * MIN) < 20.0
    # fires do not touch gas, water or seismic sensors
    assert f.overlay("C-gas-1", T0 + 30 * MIN) == 0.0
    assert f.overlay("A-seis-1", T0 + 30 * MIN) == 0.0


def test_flame_detector_trips_only_in_the_burning_factory_and_clears_when_out(demo):
    f = _field(demo)
    f.start("fire#1", "fire", ["C"], ["sejin-f1"], T0)
    assert f.overlay("sejin-f1-flame", T0 + 10 * S) == 0.0  # not grown yet
    assert f.overlay("sejin-f1-flame", T0 + 5 * MIN) == 1.0  # range [0, 1]: full scale
    assert f.overlay("sejin-f2-flame", T0 + 60 * MIN) == 0.0  # the neighbour has smoke, no flame
    f.contain("fire#1", T0 + 60 * MIN)
    assert f.overlay("sejin-f1-flame", T0 + 61 * MIN) == 0.0


def test_fire_decays_after_containment_and_is_forgotten(demo):
    f = _field(demo)
    f.start("fire#1", "fire", ["A"], ["hanbit-f1"], T0)
    f.contain("fire#1", T0 + 30 * MIN)
    at_out = f.overlay("hanbit-f1-smoke", T0 + 30 * MIN)
    later = [f.overlay("hanbit-f1-smoke", T0 + (30 + k * 10) * MIN) for k in range(6)]
    assert later[0] == pytest.approx(at_out)
    assert later == sorted(later, reverse=True) and later[-1] < 0.1 * at_out
    f.prune(T0 + 30 * MIN + 10 * 3600 * S)
    assert not f.incidents


def test_gas_plume_spreads_outward_with_time(demo):
    f = _field(demo)
    f.start("gas#1", "gas_leak", ["C"], ["haeorum-f1"], T0)
    own, mid_, far = "C-gas-2", "C-gas-3", "C-gas-1"  # 200 m, 377 m, 535 m; all ppm
    for t in (2 * MIN, 10 * MIN, 60 * MIN):
        a, b, c = (f.overlay(s, T0 + t) for s in (own, mid_, far))
        assert a > b > c >= 0.0
    # the far sensor's share of the source grows as the plume widens
    early = f.overlay(far, T0 + 5 * MIN) / f.overlay(own, T0 + 5 * MIN)
    late = f.overlay(far, T0 + 120 * MIN) / f.overlay(own, T0 + 120 * MIN)
    assert late > 10 * early
    assert f.overlay(own, T0 + 10 * MIN) > 50.0  # ppm, 200 m downstream after 10 min
    assert f.overlay("haeorum-f1-gas", T0 + 10 * MIN) > 35.0  # %LEL at the source
    assert f.overlay("D-gas-1", T0 + 10 * MIN) < 1.0  # another zone, 450 m away, early
    # a %LEL sensor of a flammable-gas leak reads in its own unit
    g = _field(demo)
    g.start("gas#2", "gas_leak", ["C"], ["sejin-f2"], T0)
    assert 20.0 < g.overlay("sejin-f2-gas", T0 + 10 * MIN) <= 40.0


def test_flood_raises_water_in_the_zone_first_then_nearby(demo):
    f = _field(demo)
    f.start("flood#1", "flood", ["C"], [], T0)
    inside, adjacent, distant = "C-water-2", "D-water-1", "D-water-2"  # 0 m, 150 m, 1050 m
    assert f.overlay(adjacent, T0 + 5 * MIN) == 0.0  # the water has not got there yet
    h1 = [f.overlay(s, T0 + 60 * MIN) for s in (inside, adjacent, distant)]
    assert h1[0] > h1[1] > h1[2] >= 0.0
    assert f.overlay(inside, T0 + 3 * 3600 * S) > 100.0  # cm of a 0-400 cm gauge
    f.contain("flood#1", T0 + 4 * 3600 * S)
    assert f.overlay(inside, T0 + 10 * 3600 * S) < f.overlay(inside, T0 + 4 * 3600 * S)


def test_earthquake_shakes_every_zone_with_distance_attenuation(demo):
    f = _field(demo)
    f.start("eq#1", "earthquake", ["A"], [], T0)
    peak = {
        s: max(f.overlay(s, T0 + k * S) for k in range(0, 61))
        for s in ("A-seis-1", "B-seis-1", "C-seis-1", "D-seis-1")
    }
    assert all(v > 0.05 for v in peak.values())  # every zone feels it (g)
    assert peak["A-seis-1"] > peak["B-seis-1"] > peak["D-seis-1"]
    assert peak["A-seis-1"] > peak["C-seis-1"] > peak["D-seis-1"]
    # the shaking builds and dies out within minutes
    assert f.overlay("A-seis-1", T0 + 10 * MIN) < 1e-4
    assert f.overlay("hanbit-f1-smoke", T0 + 30 * S) == 0.0


def test_power_outage_cuts_the_target_factories_until_containment(demo):
    f = _field(demo)
    f.start("po#1", "power_outage", [], ["hanbit-f1", "hanbit-f2"], T0)
    assert f.power_cut("hanbit-f1", T0 + MIN) and f.power_cut("hanbit-f2", T0 + MIN)
    assert not f.power_cut("mirae-f1", T0 + MIN)
    assert not f.power_cut("hanbit-f1", T0 - S)
    f.contain("po#1", T0 + 3600 * S)
    assert not f.power_cut("hanbit-f1", T0 + 3600 * S)
    # hazard sensors are battery-backed: an outage adds nothing to them
    assert all(f.overlay(s, T0 + MIN) == 0.0 for s in demo.sensors)


def test_whole_complex_targets_every_zone(demo):
    f = _field(demo)
    inc = f.start("eq#2", "earthquake", [], [], T0)
    assert set(inc.zones) == {z.id for z in demo.zones}
    assert inc.epicentre == (demo.site.width_m / 2, demo.site.height_m / 2)
