"""Roads, trucks, docks and dispatching."""

from __future__ import annotations

import math

import pytest

from simulations.errors import SimulationError
from simulations.events import SHIPMENT_DELIVERED, TRUCK_MOVE
from simulations.model import build_model
from simulations.roads import RoadNetwork, ZoneArea
from simulations.settings import ModelSettings
from simulations.toy import machine, toy_complex
from twin.config import load_complex

ROAD = [[(0.0, 500.0), (2000.0, 500.0)]]
QUIET = {"defaults": {"arrivals": {"dist": "constant", "value": 1e9}}}  # no production traffic


def _truck(id: str, tenant: str | None = None, capacity: int = 10, speed: float = 36.0) -> dict:
    return {"id": id, "capacity": capacity, "speed_kmh": speed, "home": "hub", "tenant": tenant}


def test_road_network_distances_crossings_driveways_and_blocking():
    zones = [ZoneArea("A", 0, 0, 100, 100), ZoneArea("B", 100, 0, 100, 100)]
    # An L of two roads plus a shortcut through zone B; places beside the roads.
    roads = [
        [(0, 10), (190, 10)],
        [(190, 10), (190, 90)],
        [(10, 90), (190, 90)],
        [(150, 0), (150, 100)],
    ]
    net = RoadNetwork(roads, {"p": (10, 5), "q": (20, 95), "r": (150, 50)}, zones)
    # p -> onto the road at (10, 10): 5 m; along y=10 to x=150, up the crossing road x=150 to y=90,
    # back along y=90 to x=20, then 5 m to q.
    assert net.distance("p", "q") == pytest.approx(5 + 140 + 80 + 130 + 5)
    assert net.distance("p", "r") == pytest.approx(5 + 140 + 40)
    assert net.distance("p", "p") == 0.0
    assert net.path("p", "r")[0] == (10, 5) and net.path("p", "r")[-1] == (150, 50)
    # Zone B's roads blocked: p and q (both in A) are cut off from each other.
    assert math.isinf(net.distance("p", "q", frozenset({"B"})))
    assert net.path("p", "q", frozenset({"B"})) == []
    with pytest.raises(KeyError):
        net.distance("p", "nowhere")


def test_demo_roads_connect_every_factory_to_the_centre():
    model = build_model(load_complex("demo"))
    net = model.logistics.network
    for fid in model.factories:
        d = net.distance(fid, "hub")
        assert 0 < d < 6000, fid


def test_a_delivery_takes_travel_and_handling_time():
    c = toy_complex([[machine("m", 10)]], trucks=[_truck("t1")], roads=ROAD)
    events = []
    model = build_model(c, ModelSettings.model_validate(QUIET), sink=events.append)
    model.logistics.request("outbound", "f0", "hub", 5, "t0", 3600.0, None)
    model.run(3 * 3600.0)
    # hub -> f0: 1600 m at 10 m/s; load 300 s + 5 x 10 s; back; unload at a dock.
    delivered = [e for e in events if e.kind == SHIPMENT_DELIVERED]
    assert [e.time for e in delivered] == [pytest.approx(160 + 350 + 160 + 350)]
    assert delivered[0].data["on_time"] is True
    moves = [(e.data["origin"], e.data["destination"], e.data["distance_m"]) for e in events if e.kind == TRUCK_MOVE]
    assert moves == [("hub", "f0", pytest.approx(1600)), ("f0", "hub", pytest.approx(1600))]
    k = model.kpis()
    assert k["logistics.deliveries"] == 1
    assert k["truck.t1.truck_utilisation"] == pytest.approx(1020 / (3 * 3600.0))


def test_trucks_wait_for_a_free_dock():
    c = toy_complex(
        [[machine("m", 10)]],
        factories=2,
        trucks=[_truck("k1"), _truck("k2")],
        docks=(1,),
        roads=ROAD,
    )
    model = build_model(c, ModelSettings.model_validate(QUIET))
    # Both trucks start at the hub and need the single dock at the same moment.
    model.logistics.request("inbound", "hub", "f0", 5, "t0", 3600.0, None)
    model.logistics.request("inbound", "hub", "f1", 5, "t1", 3600.0, None)
    model.run(3600.0)
    k = model.kpis()
    assert k["logistics.deliveries"] == 2
    # Two dock visits; the second waited the first's 350 s of loading.
    assert k["logistics.dock_wait_min"] == pytest.approx((0 + 350) / 2 / 60)


def _fleet_settings(dispatch: str) -> ModelSettings:
    # A full truck (10 packs of 10 units) every 1000 s per factory, due in 30 min.
    return ModelSettings.model_validate(
        {
            "defaults": {
                "release": "saturate",
                "lot_size": 10,
                "pack_size": 10,
                "shipment_size": 10,
                "failures": False,
                "due_h": 0.5,
                "processing": {"dist": "constant", "value": 10},
            },
            "logistics": {"dispatch": dispatch},
        }
    )


def test_shared_pool_serves_a_busy_tenant_better_than_its_dedicated_truck():
    # Each of two tenants ships a truckload every 1000 s. t0 owns one truck, whose round
    # trip takes 1120 s (1600 m each way, 400 s handling at each end): alone it falls
    # behind. The two shared trucks and the pool of all three keep up.
    c = toy_complex(
        [[machine("m", 10)]],
        factories=2,
        roads=ROAD,
        trucks=[_truck("own", tenant="t0"), _truck("s1"), _truck("s2")],
    )
    dedicated = build_model(c, _fleet_settings("dedicated"), seed=1)
    shared = build_model(c, _fleet_settings("shared"), seed=1)
    for m in (dedicated, shared):
        m.run(12 * 3600.0)
    kd, ks = dedicated.kpis(), shared.kpis()
    assert kd["tenant.t0.on_time_rate"] < 0.5 < ks["tenant.t0.on_time_rate"]
    # Busy from the first shipment (after 1000 s) to the end.
    assert kd["truck.own.truck_utilisation"] == pytest.approx(1 - 1000 / (12 * 3600.0), abs=0.001)
    assert dedicated.logistics.tenant_pool["t0"].name == "tenant:t0"
    assert shared.logistics.tenant_pool["t0"] is shared.logistics.tenant_pool["t1"]


def test_tenant_without_any_truck_is_refused():
    c = toy_complex([[machine("m", 10)]], factories=2, trucks=[_truck("own", tenant="t0")], roads=ROAD)
    with pytest.raises(SimulationError, match="tenant 't1' has no dedicated truck"):
        build_model(c, _fleet_settings("dedicated"))
    build_model(c, _fleet_settings("shared"))  # one shared pool: fine


def test_material_deliveries_gate_order_release():
    c = toy_complex([[machine("m", 10)]], trucks=[_truck("t1")], roads=ROAD)
    s = ModelSettings.model_validate(
        {
            "defaults": {
                "arrivals": {"dist": "constant", "value": 3600},
                "lot_size": 10,
                "materials": True,
                "failures": False,
                "processing": {"dist": "constant", "value": 10},
            }
        }
    )
    events = []
    model = build_model(c, s, sink=events.append)
    model.run(3600 + 2000)
    released = [e.time for e in events if e.kind == "order.released"]
    started = [e.time for e in events if e.kind == "machine.state" and e.data["reason"] == "busy"]
    # Ordered at 3600 s; the truck loads the lot's one pack at the hub (310 s), drives
    # 1600 m to f0 (160 s) and unloads (310 s); only then does the machine start.
    assert released == [3600.0]
    assert started == [pytest.approx(3600 + 310 + 160 + 310)]
    assert model.kpis()["factory.f0.lead_time_h"] == pytest.approx((780 + 100) / 3600)
