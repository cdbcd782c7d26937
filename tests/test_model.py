"""twin.model: field rules, immutability and the derived indexes every other module reads."""

from __future__ import annotations

import copy
import re
from typing import Any

import pytest
import yaml
from pydantic import ValidationError

from twin.config import load_complex, tiny_config_path
from twin.model import (
    HAZARD_KINDS,
    ID_PATTERN,
    KIND_UNITS,
    PARK_OWNER,
    Area,
    Complex,
    HazardSensor,
    Machine,
    MachineState,
    Position,
    PowerDraw,
    Sensor,
    SensorInfo,
    Shift,
    Truck,
)
from twin.validation import ModelReferenceError, format_path


@pytest.fixture(scope="module")
def tiny() -> Complex:
    return load_complex("tiny")


@pytest.fixture(scope="module")
def demo() -> Complex:
    return load_complex("demo")


def tiny_data() -> dict[str, Any]:
    return copy.deepcopy(yaml.safe_load(tiny_config_path().read_text(encoding="utf-8")))


def sensor(**kw: Any) -> Sensor:
    base: dict[str, Any] = {
        "id": "s1", "kind": "power", "unit": "kW", "period_s": 1, "range": [0, 10],
    }
    return Sensor(**(base | kw))


# ---- ids -----------------------------------------------------------------------------------


@pytest.mark.parametrize("good", ["A", "a1", "alpha-smt-power", "x_y", "9", "a" * 64])
def test_id_pattern_accepts(good: str) -> None:
    assert re.match(ID_PATTERN, good)
    assert sensor(id=good).id == good


@pytest.mark.parametrize(
    "bad",
    ["", "a/b", "a b", "a+b", "a#", "-a", "_a", "a.b", "센서", "a🔥", "a\n", "a" * 65, "$share"],
)
def test_id_pattern_rejects(bad: str) -> None:
    # ids become MQTT topic levels and SQL values: no separators, wildcards or exotic text
    assert not re.fullmatch(ID_PATTERN, bad)
    with pytest.raises(ValidationError, match="String should match pattern"):
        sensor(id=bad)


# ---- sensors ---------------------------------------------------------------------------------


def test_every_kind_has_units_and_hazard_kinds_are_kinds() -> None:
    assert all(KIND_UNITS[k] for k in KIND_UNITS)
    assert HAZARD_KINDS <= KIND_UNITS.keys()


@pytest.mark.parametrize(
    ("kind", "unit"), sorted((k, u) for k, us in KIND_UNITS.items() for u in us)
)
def test_every_allowed_unit_is_accepted(kind: str, unit: str) -> None:
    s = sensor(kind=kind, unit=unit)
    assert (s.kind, s.unit) == (kind, unit)


def test_unit_must_fit_the_kind() -> None:
    with pytest.raises(ValidationError, match=r"unit 'degC' is not valid for kind 'power'"):
        sensor(unit="degC")


def test_unknown_kind() -> None:
    with pytest.raises(ValidationError, match=r"unknown sensor kind 'radiation'; known: current, "):
        sensor(kind="radiation", unit="Sv")


@pytest.mark.parametrize("rng", [[1, 1], [2, 1], [0.5, -0.5]])
def test_range_low_must_be_below_high(rng: list[float]) -> None:
    with pytest.raises(ValidationError, match=r"range must be \[low, high\] with low < high"):
        sensor(range=rng)


@pytest.mark.parametrize("period", [0, -1, 86_401])
def test_period_bounds(period: float) -> None:
    with pytest.raises(ValidationError):
        sensor(period_s=period)
    assert sensor(period_s=86_400).period_s == 86_400


def test_hazard_sensor_needs_a_hazard_kind_and_a_position() -> None:
    ok = HazardSensor(
        id="h", kind="smoke", unit="%obs/m", period_s=2, range=[0, 30], position={"x": 1, "y": 2}
    )
    assert ok.position == Position(x=1, y=2)
    with pytest.raises(ValidationError, match="hazard sensor kind must be one of"):
        HazardSensor(
            id="h", kind="power", unit="kW", period_s=1, range=[0, 1], position={"x": 0, "y": 0}
        )
    with pytest.raises(ValidationError, match="position"):
        HazardSensor(id="h", kind="smoke", unit="%obs/m", period_s=2, range=[0, 30])


# ---- machines, layout, shifts -------------------------------------------------------------------


def _machine(**kw: Any) -> Machine:
    base: dict[str, Any] = {
        "id": "m", "ideal_cycle_time_s": 10, "mtbf_h": 10, "mttr_h": 1, "scrap_rate": 0.0,
        "power_kw": {"idle": 1, "busy": 2, "setup": 1},
    }
    return Machine(**(base | kw))


@pytest.mark.parametrize(
    ("field", "value"),
    [("mtbf_h", 0), ("mtbf_h", -1), ("mttr_h", 0), ("ideal_cycle_time_s", 0),
     ("scrap_rate", 1.0), ("scrap_rate", -0.01), ("setup_time_s", -1)],
)
def test_machine_field_bounds(field: str, value: float) -> None:
    with pytest.raises(ValidationError) as info:
        _machine(**{field: value})
    assert info.value.errors()[0]["loc"] == (field,)


def test_machine_defaults_and_power_per_state() -> None:
    m = _machine()
    assert m.setup_time_s == 0 and m.sensors == ()
    assert m.power_kw.off == 0 and m.power_kw.down == 0
    p = PowerDraw(idle=2, busy=8, setup=3, down=0.3)
    assert [p.for_state(s) for s in MachineState] == [0.0, 2.0, 8.0, 3.0, 0.3]


def test_machine_state_codes_are_stable() -> None:
    # the codes are what a 'state' sensor publishes; changing them would corrupt history
    assert [(s.value, s.code) for s in MachineState] == [
        ("off", 0), ("idle", 1), ("busy", 2), ("setup", 3), ("down", 4),
    ]
    assert all(MachineState.from_code(s.code) is s for s in MachineState)
    assert MachineState.from_code(2.0) is MachineState.BUSY


def test_area_contains_is_inclusive_of_the_edges() -> None:
    a = Area(x=100, y=50, w=200, h=100)
    assert a.contains(Position(x=100, y=50)) and a.contains(Position(x=300, y=150))
    assert a.contains(Position(x=200, y=100))
    assert not a.contains(Position(x=99.9, y=100)) and not a.contains(Position(x=200, y=150.1))
    with pytest.raises(ValidationError):
        Area(x=0, y=0, w=0, h=1)


def test_shift_start_is_hh_mm() -> None:
    assert Shift(name="day", start="06:00", hours=8).start == "06:00"
    for bad in ("6:00", "24:00", "06:60", "0600"):
        with pytest.raises(ValidationError):
            Shift(name="x", start=bad, hours=8)


def test_truck_speed_bounds() -> None:
    assert Truck(id="t", capacity=1, home="hub").speed_kmh == 20.0
    with pytest.raises(ValidationError):
        Truck(id="t", capacity=1, home="hub", speed_kmh=121)
    with pytest.raises(ValidationError):
        Truck(id="t", capacity=0, home="hub")


# ---- immutability and strictness --------------------------------------------------------------


def test_models_are_frozen(tiny: Complex) -> None:
    with pytest.raises(ValidationError, match="frozen"):
        tiny.site.name = "changed"  # type: ignore[misc]
    with pytest.raises(ValidationError, match="frozen"):
        tiny.machines["alpha-smt"].mtbf_h = 1  # type: ignore[misc]
    assert isinstance(tiny.zones, tuple) and isinstance(tiny.tenants[0].factories, tuple)


def test_unknown_keys_are_refused() -> None:
    with pytest.raises(ValidationError, match="Extra inputs are not permitted"):
        sensor(colour="red")


def test_cross_reference_errors_carry_a_path() -> None:
    data = tiny_data()
    data["logistics"]["trucks"][0]["home"] = "nowhere"
    with pytest.raises(ModelReferenceError) as info:
        Complex.model_validate(data)
    assert info.value.path == ("logistics", "trucks", 0, "home")
    assert "unknown home 'nowhere'" in info.value.reason
    assert str(info.value).startswith("logistics.trucks[0].home: ")


def test_format_path() -> None:
    assert format_path(("tenants", 2, "factories", 0, "zone")) == "tenants[2].factories[0].zone"
    assert format_path(("logistics", "roads", 1, 0)) == "logistics.roads[1][0]"
    assert format_path(()) == ""


# ---- derived indexes ------------------------------------------------------------------------


def test_sensor_index_places_every_kind_of_sensor(tiny: Complex) -> None:
    s = tiny.sensors
    assert s["A-seis-1"] == SensorInfo(s["A-seis-1"].sensor, "A", PARK_OWNER, "A", hazard=True)
    assert s["alpha-f1-smoke"] == SensorInfo(
        s["alpha-f1-smoke"].sensor, "alpha-f1", "alpha-elec", "A", "alpha-f1", hazard=True
    )
    assert s["alpha-smt-power"] == SensorInfo(
        s["alpha-smt-power"].sensor, "alpha-smt", "alpha-elec", "A", "alpha-f1", "alpha-smt"
    )
    assert s["beta-reactor-press"].owner == "beta-chem"
    assert s["hub-occupancy"] == SensorInfo(s["hub-occupancy"].sensor, "hub", PARK_OWNER, "B")
    assert s["truck-1-x"] == SensorInfo(s["truck-1-x"].sensor, "truck-1", PARK_OWNER, None)
    assert s["alpha-smt-power"].sensor.range == (0.0, 20.0)


def test_devices_group_sensors_by_owner_and_device(tiny: Complex) -> None:
    assert tiny.devices == {
        ("park", "A"): ("A-seis-1", "A-water-1"),
        ("park", "B"): ("B-seis-1",),
        ("alpha-elec", "alpha-f1"): ("alpha-f1-smoke", "alpha-f1-temp"),
        ("alpha-elec", "alpha-smt"): ("alpha-smt-power", "alpha-smt-state", "alpha-smt-good"),
        ("alpha-elec", "alpha-aoi"): ("alpha-aoi-power", "alpha-aoi-vib"),
        ("beta-chem", "beta-f1"): ("beta-f1-gas",),
        ("beta-chem", "beta-reactor"): (
            "beta-reactor-power", "beta-reactor-temp", "beta-reactor-press",
        ),
        ("park", "hub"): ("hub-occupancy",),
        ("park", "truck-1"): ("truck-1-x", "truck-1-y"),
    }


def test_factory_and_machine_indexes(tiny: Complex) -> None:
    assert tiny.factory_tenant == {"alpha-f1": "alpha-elec", "beta-f1": "beta-chem"}
    assert list(tiny.machines) == ["alpha-smt", "alpha-aoi", "beta-reactor"]
    assert tiny.factories["beta-f1"].zone == "B"


def test_demo_indexes_are_consistent(demo: Complex) -> None:
    tenants = {t.id for t in demo.tenants}
    all_sensor_ids = [sid for ids in demo.devices.values() for sid in ids]
    assert sorted(all_sensor_ids) == sorted(demo.sensors)  # each sensor on exactly one device
    for sid, info in demo.sensors.items():
        assert info.sensor.id == sid
        assert info.owner == PARK_OWNER or info.owner in tenants
        if info.machine is not None:
            assert demo.factory_tenant[info.factory] == info.owner  # type: ignore[index]
        if info.sensor.kind == "state":
            # a state sensor must be able to publish every machine state code
            assert info.sensor.range == (0.0, float(max(s.code for s in MachineState)))
    # tenant owners never hold a park device, so a tenant ACL on twin/v1/{tenant}/# is enough
    park = {d for (o, d) in demo.devices if o == PARK_OWNER}
    assert not park & {d for (o, d) in demo.devices if o != PARK_OWNER}


def test_the_model_is_equal_across_loads(tiny: Complex) -> None:
    again = load_complex("tiny")
    assert again == tiny
    assert again is not tiny
