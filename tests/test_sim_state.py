"""Starting from a given state, forking a running model, the event sink, real time."""

from __future__ import annotations

import pytest
import simpy

from simulations.errors import StateError
from simulations.events import EVENT_KINDS, MACHINE_COUNT, MACHINE_STATE, SimEvent
from simulations.model import build_model, realtime_environment
from simulations.settings import ModelSettings
from simulations.state import ComplexState, MachineSnapshot, WorkItem
from simulations.toy import machine, toy_complex
from twin.config import load_complex
from twin.model import MachineState

H = 3600.0


def _line():
    return toy_complex([[machine("a", 10), machine("b", 12)]], buffer_capacity=3, shifts=[("day", "06:00", 10)])


def _deterministic() -> ModelSettings:
    return ModelSettings.model_validate(
        {
            "defaults": {
                "release": "saturate",
                "lot_size": 4,
                "processing": {"dist": "constant", "value": 1, "unit": "relative"},
                "time_to_failure": {"dist": "constant", "value": 2, "unit": "h"},
                "time_to_repair": {"dist": "constant", "value": 20, "unit": "min"},
            }
        }
    )


def test_start_from_a_given_state():
    state = ComplexState(
        time_s=8 * H,  # 08:00, inside the 06:00-16:00 shift
        machines={
            "a": MachineSnapshot(MachineState.DOWN, job=WorkItem(4), repair_left_s=600, work_left_s=15),
            "b": MachineSnapshot(MachineState.BUSY, job=WorkItem(2, age_s=100), work_left_s=5),
        },
        buffers={"b": (WorkItem(4), WorkItem(4)), "a": (WorkItem(1),)},
    )
    events: list[SimEvent] = []
    model = build_model(_line(), _deterministic(), state=state, sink=events.append)
    assert model.env.now == 8 * H
    assert model.factories["f0"].wip_now() == 4 + 2 + 8 + 1
    model.run(8 * H + 700)
    a = [(e.time - 8 * H, e.data["reason"]) for e in events if e.kind == MACHINE_STATE and e.source == "a"]
    # down for the 600 s of repair left, then finishes its lot's last 15 s, then takes the next lot
    assert a[:2] == [(0.0, "failure"), (600.0, "busy")]
    done_a = [e.time - 8 * H for e in events if e.kind == MACHINE_COUNT and e.source == "a"]
    assert done_a[0] == pytest.approx(615.0)
    done_b = [(e.time - 8 * H, e.data["lot"]) for e in events if e.kind == MACHINE_COUNT and e.source == "b"]
    assert done_b[0] == (pytest.approx(5.0), 2)  # the lot on b: 5 s left
    assert done_b[1] == (pytest.approx(5.0 + 48.0), 4)  # then the first buffered lot: 4 x 12 s


def test_fork_of_a_running_model_continues_exactly_like_the_original():
    # All times are constant here, so the fork must reproduce the original's
    # continuation exactly: machine states, lots in buffers and on machines, work
    # and repair time left, time to the next failure, and the shift calendar.
    c, s = _line(), _deterministic()
    t_fork, t_end = 11.3 * H, 40 * H
    original = build_model(c, s, seed=1)
    original.run(t_fork)
    snap = original.snapshot()
    assert snap.time_s == t_fork and snap.wip_units > 0
    assert any(m.job is not None for m in snap.machines.values())
    original.reset_statistics()
    original.run(t_end)
    fork = build_model(c, s, seed=999, state=snap)
    fork.run(t_end)
    k0, k1 = original.kpis(), fork.kpis()
    for name in (
        "machine.a.produced",
        "machine.b.produced",
        "machine.a.failures",
        "machine.b.failures",
        "machine.a.availability",
        "line.l0.throughput_uph",
        "line.l0.wip_units",
    ):
        assert k1[name] == pytest.approx(k0[name]), name


def test_forks_of_a_down_machine_answer_what_if_it_stays_down():
    c = _line()
    s = _deterministic().model_copy(
        update={"defaults": _deterministic().defaults.model_copy(update={"failures": False})}
    )
    model = build_model(c, s)
    model.run(9 * H)
    snap = model.snapshot()
    machines = dict(snap.machines)
    machines["b"] = MachineSnapshot(MachineState.DOWN, repair_left_s=2 * H)
    what_if = ComplexState(snap.time_s, machines, snap.buffers)
    normal = build_model(c, s, state=snap)
    stuck = build_model(c, s, state=what_if)
    normal.run(snap.time_s + 4 * H)
    stuck.run(snap.time_s + 4 * H)
    lost = normal.kpis()["line.l0.throughput_uph"] - stuck.kpis()["line.l0.throughput_uph"]
    # b (12 s per unit) is the bottleneck and never starved: 2 h down loses 2 h of its output.
    assert lost * 4 == pytest.approx(2 * H / 12.0, rel=0.02)


def test_factory_stop_in_the_state_keeps_it_down():
    model = build_model(_line(), _deterministic(), state=ComplexState(time_s=7 * H, factory_stops={"f0": 1800}))
    model.run(7 * H + 1800)
    assert model.kpis()["machine.b.disaster_share"] == pytest.approx(1.0)
    model.reset_statistics()
    model.run(8 * H)
    assert model.kpis()["machine.b.disaster_share"] == 0.0


@pytest.mark.parametrize(
    "state, where",
    [
        (ComplexState(machines={"nope": MachineSnapshot()}), "machines['nope']"),
        (ComplexState(buffers={"b": (WorkItem(),) * 4}), "buffers['b']"),
        (ComplexState(buffers={"b": (WorkItem(product="x"),)}), "buffers['b'][0]"),
        (ComplexState(truck_locations={"t": "hub"}), "truck_locations"),
        (ComplexState(factory_stops={"zz": 5}), "factory_stops['zz']"),
    ],
)
def test_state_that_does_not_fit_the_complex_is_refused(state, where):
    with pytest.raises(StateError) as err:
        build_model(_line(), _deterministic(), state=state)
    assert err.value.path == where


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"state": MachineState.BUSY}, "needs the job"),
        ({"state": "sleeping"}, "state"),
        ({"state": MachineState.IDLE, "job": WorkItem()}, "blocked=True"),
        ({"state": MachineState.BUSY, "job": WorkItem(), "work_left_s": -1}, "work_left_s"),
        ({"state": MachineState.BUSY, "job": WorkItem(), "repair_left_s": 5}, "repair_left_s"),
    ],
)
def test_machine_snapshot_fails_fast(kwargs, message):
    with pytest.raises(ValueError, match=message):
        MachineSnapshot(**kwargs)


def test_work_item_and_state_fail_fast():
    with pytest.raises(ValueError, match="quantity"):
        WorkItem(0)
    with pytest.raises(ValueError, match="time_s"):
        ComplexState(time_s=-1)
    with pytest.raises(ValueError, match="env.now"):
        build_model(_line(), state=ComplexState(time_s=5.0), env=simpy.Environment(initial_time=0))


def test_sink_receives_events_stamped_with_the_simulation_clock():
    env = simpy.Environment()
    seen: list[SimEvent] = []

    def sink(e: SimEvent) -> None:
        assert e.time == env.now  # stamped with env.now when it happens, never a wall clock
        seen.append(e)

    model = build_model(load_complex("tiny"), seed=4, sink=sink, env=env)
    model.run(2 * 86400.0)
    kinds = {e.kind for e in seen}
    assert kinds <= EVENT_KINDS
    assert {
        MACHINE_STATE,
        MACHINE_COUNT,
        "order.released",
        "order.completed",
        "truck.move",
        "shipment.delivered",
    } <= kinds
    assert [e.time for e in seen] == sorted(e.time for e in seen)
    # Every machine reports its state at t0, and the last counters match the model's.
    assert {e.source for e in seen if e.kind == MACHINE_STATE and e.time == 0} == set(model.machines)
    last = {e.source: e.data for e in seen if e.kind == MACHINE_COUNT}
    for mid, data in last.items():
        m = model.machines[mid]
        assert (data["produced"], data["good"], data["scrap"]) == (m.produced, m.good, m.scrap)
    state_event = next(e for e in seen if e.kind == MACHINE_STATE and e.data["state"] == "busy")
    assert set(state_event.data) == {"state", "reason", "power_kw", "factory", "line"}


def test_realtime_environment_runs_the_same_model():
    def run(env):
        events: list[SimEvent] = []
        model = build_model(load_complex("tiny"), seed=2, sink=events.append, env=env)
        model.run(600.0)
        return [(e.time, e.kind, e.source) for e in events]

    rt = realtime_environment(factor=1e-4)  # 600 simulated seconds in about 60 ms
    assert isinstance(rt, simpy.rt.RealtimeEnvironment)
    assert run(rt) == run(simpy.Environment())
    with pytest.raises(ValueError, match="factor"):
        realtime_environment(factor=0)
