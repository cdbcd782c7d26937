"""Build the SimPy model of the whole complex from its config and the settings.

:func:`build_model` is the one entry point: the experiment runner, the
benchmark, the sensor fleet (``RealtimeEnvironment``, a sink) and the forecast
(a :class:`~simulations.state.ComplexState`) all use it. The model is pure: it
reads no clock and does no I/O; it stamps events with ``env.now`` and hands them
to ``sink``.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Generator, Mapping
from typing import Any

import simpy
import simpy.rt
from pydantic import ValidationError

from simulations.buffer import Buffer
from simulations.calendar import WorkCalendar
from simulations.disasters import DisasterManager
from simulations.distributions import Distribution, Sampler, exponential, parse_distribution
from simulations.errors import SimulationError, StateError
from simulations.events import Sink
from simulations.factory import FactorySim, ProductMix
from simulations.gate import Gate
from simulations.job import Job
from simulations.kpis import collect_kpis
from simulations.line import LineSim
from simulations.logistics import LogisticsSim, TruckSim
from simulations.machine import MachineSim
from simulations.roads import RoadNetwork, ZoneArea
from simulations.settings import DisasterSpec, ModelSettings, SettingsReferenceError, check_settings
from simulations.state import ComplexState, MachineSnapshot, WorkItem
from simulations.streams import RandomStreams
from twin.model import Complex, Factory
from twin.model import Machine as MachineSpec

__all__ = [
    "ComplexModel",
    "build_model",
    "realtime_environment",
    "derived_arrival_means",
    "DEFAULT_PRODUCT",
]

log = logging.getLogger(__name__)

#: Product id of a factory whose settings list no products.
DEFAULT_PRODUCT = "standard"


def realtime_environment(
    factor: float = 1.0, initial_time: float = 0.0, strict: bool = False
) -> simpy.rt.RealtimeEnvironment:
    """A SimPy environment paced by the wall clock: one simulated second takes
    ``factor`` wall seconds (``factor=1/60``: one simulated minute per second).

    ``strict=False`` lets the model fall behind under load instead of raising.
    """
    if not factor > 0 or not math.isfinite(factor):
        raise ValueError(f'"factor" must be a finite number > 0 (got {factor!r})')
    return simpy.rt.RealtimeEnvironment(initial_time=initial_time, factor=factor, strict=strict)


class ComplexModel:
    """The simulated complex: factories, lines, machines, logistics and disasters.

    Build it with :func:`build_model`. Run with :meth:`run`; read statistics with
    :meth:`kpis` (since the last :meth:`reset_statistics`); fork with :meth:`snapshot`.
    """

    def __init__(
        self,
        env: simpy.Environment,
        complex_: Complex,
        settings: ModelSettings,
        streams: RandomStreams,
        sink: Sink | None,
    ):
        self.env = env
        self.complex = complex_
        self.settings = settings
        self.streams = streams
        self.sink = sink
        self.factories: dict[str, FactorySim] = {}
        self.lines: dict[str, LineSim] = {}
        self.machines: dict[str, MachineSim] = {}
        self.logistics: LogisticsSim | None = None
        self.centre_gate: Gate | None = None
        self.disasters: DisasterManager
        self.stats_start = env.now
        self.series_t: list[float] = []
        self.series_wip: dict[str, list[int]] = {}

    # ---- running ----------------------------------------------------------------------

    def run(self, until: float | None = None) -> None:
        """Run until simulation time ``until`` (absolute seconds)."""
        self.env.run(until=until)

    def run_for(self, seconds: float) -> None:
        """Run ``seconds`` further."""
        if not seconds >= 0:
            raise ValueError(f'"seconds" must be >= 0 (got {seconds!r})')
        self.env.run(until=self.env.now + seconds)

    def reset_statistics(self) -> None:
        """Forget statistics so far (the end of a warm-up); counters for the sink continue."""
        self.stats_start = self.env.now
        for f in self.factories.values():
            f.reset_stats()
        if self.logistics is not None:
            self.logistics.reset_stats()
        if self.centre_gate is not None:
            self.centre_gate.reset_stats()

    def inject_disaster(self, spec: DisasterSpec | Mapping[str, Any]) -> str:
        """Start a disaster now (``kind``, ``zones``/``factories``, ``duration``...);
        returns its id. Call between ``run`` steps, from the thread that runs the model."""
        if not isinstance(spec, DisasterSpec):
            data = dict(spec)
            if not any(k in data for k in ("day", "at_h", "rate_per_year")):
                data["at_h"] = self.env.now / 3600.0  # "now"; the schedule is ignored anyway
            try:
                spec = DisasterSpec.model_validate(data)
            except ValidationError as exc:
                err = exc.errors()[0]
                where = ".".join(str(p) for p in err["loc"]) or "disaster"
                msg = str(err["msg"]).removeprefix("Value error, ")
                raise SimulationError(f"disaster {where}: {msg}") from None
        try:
            check_settings(ModelSettings(disasters=(spec,)), self.complex)
        except SettingsReferenceError as exc:
            raise SimulationError(f"disaster: {exc.reason}") from None
        return self.disasters.inject(spec).id

    def kpis(self) -> dict[str, float]:
        """Every KPI since the last reset (see ``docs/kpis.md``)."""
        return collect_kpis(self)

    # ---- sampling ----------------------------------------------------------------------

    def _sample(self, every_s: float) -> Generator[simpy.Event, Any, None]:
        while True:
            self.series_t.append(self.env.now)
            total = 0
            for fid, f in self.factories.items():
                w = f.wip_now()
                total += w
                self.series_wip[fid].append(w)
            self.series_wip["complex"].append(total)
            yield self.env.timeout(every_s)

    # ---- snapshot ----------------------------------------------------------------------

    def snapshot(self) -> ComplexState:
        """The present state, to start another model from (see :mod:`simulations.state`)."""
        now = self.env.now
        machines: dict[str, MachineSnapshot] = {}
        buffers: dict[str, tuple[WorkItem, ...]] = {}

        def item(job: Job) -> WorkItem:
            return WorkItem(job.qty, job.product, max(now - job.created, 0.0))

        for line in self.lines.values():
            for i, station in enumerate(line.stations):
                # Lots blocked upstream are finished there: they belong to the upstream
                # machine's snapshot, not to this buffer. A parallel station's buffer
                # is listed under its first machine.
                buffers[station[0].id] = tuple(item(j) for j in line.queue_before(i).items)
            for m in line.machines:
                f = m.snapshot_fields()
                job = f.get("job")
                machines[m.id] = MachineSnapshot(
                    state=f["state"],
                    job=item(job) if job is not None else None,
                    blocked=f.get("blocked", False),
                    work_left_s=f.get("work_left"),
                    setup_left_s=f.get("setup_left"),
                    repair_left_s=f.get("repair_left"),
                    time_to_failure_s=f.get("ttf_left") if math.isfinite(f.get("ttf_left", math.inf)) else None,
                    product=f.get("product"),
                )
        outbound = {fid: f.outbound_units for fid, f in self.factories.items() if f.outbound_units}
        trucks = {t.id: t.location for t in self.logistics.trucks} if self.logistics is not None else {}
        stops: dict[str, float] = {}
        for rec in self.disasters.active():
            left = rec.restart_at - now if rec.restart_at is not None else rec.stop_plan
            for fid in rec.factories:
                stops[fid] = max(stops.get(fid, 0.0), left)
        return ComplexState(now, machines, buffers, outbound, trucks, stops)


# ---- building ------------------------------------------------------------------------------


def build_model(
    complex_: Complex,
    settings: ModelSettings | None = None,
    *,
    seed: int = 0,
    replication: int = 0,
    salt: int = 0,
    state: ComplexState | None = None,
    sink: Sink | None = None,
    env: simpy.Environment | None = None,
    sample_every_s: float | None = None,
) -> ComplexModel:
    """Wire the model of ``complex_`` and start its processes (nothing runs yet).

    ``seed``/``replication``/``salt`` select the random streams (same values, same
    run, bit for bit). ``state`` starts from a given state at ``state.time_s``;
    ``env`` may be a :func:`realtime_environment` (its clock must equal
    ``state.time_s`` when both are given). ``sink`` receives every
    :class:`~simulations.events.SimEvent`. ``sample_every_s`` records WIP over time.
    """
    settings = settings or ModelSettings()
    try:
        check_settings(settings, complex_)
    except SettingsReferenceError as exc:
        path = ".".join(str(p) for p in exc.path)
        raise SimulationError(f"settings.{path}: {exc.reason}") from None
    t0 = state.time_s if state is not None else 0.0
    if env is None:
        env = simpy.Environment(initial_time=t0)
    elif state is not None and env.now != state.time_s:
        raise ValueError(f"env.now ({env.now}) must equal state.time_s ({state.time_s})")
    streams = RandomStreams(seed, replication, salt)
    model = ComplexModel(env, complex_, settings, streams, sink)
    shifts = {s.name: (s.start, s.hours) for s in complex_.site.shifts}
    for tenant in complex_.tenants:
        for fac in tenant.factories:
            model.factories[fac.id] = _build_factory(model, fac, tenant.id, shifts)
    _build_logistics(model)
    em = settings.emergency
    model.disasters = DisasterManager(
        env,
        settings.disasters,
        model.factories,
        {f.id: f.zone for f in model.factories.values()},
        [z.id for z in complex_.zones],
        model.centre_gate,
        complex_.logistics.centre.zone if complex_.logistics is not None else None,
        model.logistics,
        em.teams,
        em.response.sampler(streams.rng("emergency.response")),
        em.restart.sampler(streams.rng("emergency.restart")),
        streams,
        sink,
    )
    resume = _apply_state(model, state) if state is not None else {}
    for f in model.factories.values():
        f.start(with_arrivals=True)
    for mid, m in model.machines.items():
        m.start(resume.get(mid))
    if model.logistics is not None:
        model.logistics.start()
    model.disasters.start()
    if sample_every_s is not None:
        if not sample_every_s > 0:
            raise ValueError(f'"sample_every_s" must be > 0 (got {sample_every_s!r})')
        model.series_wip = {"complex": [], **{fid: [] for fid in model.factories}}
        env.process(model._sample(sample_every_s))
    return model


def _calendar(model: ComplexModel, fac: Factory, shifts: Mapping[str, tuple[str, float]]) -> WorkCalendar:
    s = model.settings
    names = s.factory(fac.id).shifts
    chosen = [shifts[n] for n in names] if names is not None else list(shifts.values())
    downtime = [(w.start, w.hours, w.every_days, w.day) for w in s.factory_value(fac.id, "planned_downtime")]
    if not chosen and not downtime:
        return WorkCalendar.always()
    try:
        return WorkCalendar.build(chosen, downtime)
    except ValueError as exc:
        raise SimulationError(f"factory {fac.id!r}: {exc}") from None


def _resolve(d: Distribution, reference: float, what: str) -> Distribution:
    try:
        return d.resolve(reference)
    except ValueError as exc:
        raise SimulationError(f"{what}: {exc}") from None


def _machine_dists(s: ModelSettings, m: MachineSpec) -> dict[str, Distribution | None]:
    out: dict[str, Distribution | None] = {
        "processing": _resolve(
            s.machine_value(m.id, "processing"),
            m.ideal_cycle_time_s,
            f"machine {m.id!r} processing",
        ),
        "ttf": None,
        "ttr": _resolve(
            s.machine_value(m.id, "time_to_repair"),
            m.mttr_h * 3600.0,
            f"machine {m.id!r} time_to_repair",
        ),
        "setup": None,
    }
    if s.machine_value(m.id, "failures"):
        out["ttf"] = _resolve(
            s.machine_value(m.id, "time_to_failure"),
            m.mtbf_h * 3600.0,
            f"machine {m.id!r} time_to_failure",
        )
    setup = s.machine_value(m.id, "setup")
    if setup is not None and not (setup.relative and m.setup_time_s <= 0):
        out["setup"] = _resolve(setup, m.setup_time_s, f"machine {m.id!r} setup")
    return out


def _lot_mean(d: Distribution) -> float:
    return max(1.0, d.mean)


def _lot_default(s: ModelSettings, fac: Factory) -> Distribution:
    lot = s.factory_value(fac.id, "lot_size")
    if lot is None:
        slowest = max(m.ideal_cycle_time_s for ln in fac.lines for m in ln.machines)
        lot = parse_distribution(max(1, round(s.defaults.lot_minutes * 60.0 / slowest)))
    if lot.relative:
        raise SimulationError(f"factory {fac.id!r}: lot_size cannot be relative")
    return lot


def _products(s: ModelSettings, fac: Factory) -> tuple[list[str], list[float], list[Distribution], list[float]]:
    """(ids, weights, lot sizes, work factors) of a factory's products."""
    lot = _lot_default(s, fac)
    products = s.factory(fac.id).products or ()
    if not products:
        return [DEFAULT_PRODUCT], [1.0], [lot], [1.0]
    for p in products:
        if p.lot_size is not None and p.lot_size.relative:
            raise SimulationError(f"factory {fac.id!r} product {p.id!r}: lot_size cannot be relative")
    return (
        [p.id for p in products],
        [p.weight for p in products],
        [p.lot_size or lot for p in products],
        [p.work_factor for p in products],
    )


def derived_arrival_means(complex_: Complex, settings: ModelSettings) -> dict[str, float]:
    """Mean time between orders (working seconds) of every factory whose arrivals
    are derived from its ``utilisation`` (see :func:`_derived_interarrival`)."""
    out: dict[str, float] = {}
    for fac in complex_.factories.values():
        if settings.factory_value(fac.id, "release") != "arrivals" or settings.factory_value(fac.id, "arrivals"):
            continue
        ids, weights, lots, factors = _products(settings, fac)
        dists = {m.id: _machine_dists(settings, m) for ln in fac.lines for m in ln.machines}
        out[fac.id] = _derived_interarrival(
            fac,
            dists,
            weights,
            lots,
            factors,
            settings.factory_value(fac.id, "utilisation"),
            settings,
        )
    return out


def _build_factory(
    model: ComplexModel, fac: Factory, tenant: str, shifts: Mapping[str, tuple[str, float]]
) -> FactorySim:
    env, s, streams, sink = model.env, model.settings, model.streams, model.sink
    calendar = _calendar(model, fac, shifts)
    gate = Gate(env, fac.id)
    gate.set_planned(not calendar.is_working(env.now))  # before machines read it
    machines = [m for ln in fac.lines for m in ln.machines]
    ids, weights, lots, factors = _products(s, fac)
    mix = ProductMix(
        ids,
        weights,
        [d.sampler(streams.rng(f"{fac.id}.lot.{pid}")) for d, pid in zip(lots, ids, strict=True)],
        factors,
        Sampler(Distribution("uniform", (0.0, 1.0)), streams.rng(f"{fac.id}.product")),
    )
    dists = {m.id: _machine_dists(s, m) for m in machines}
    release = s.factory_value(fac.id, "release")
    interarrival: Sampler | None = None
    if release == "arrivals":
        arr = s.factory_value(fac.id, "arrivals")
        if arr is None:
            mean = _derived_interarrival(fac, dists, weights, lots, factors, s.factory_value(fac.id, "utilisation"), s)
            arr = exponential(mean)
        elif arr.relative:
            raise SimulationError(f"factory {fac.id!r}: arrivals cannot be relative")
        interarrival = arr.sampler(streams.rng(f"{fac.id}.arrivals"))
    typical = sum(w * _lot_mean(d) for w, d in zip(weights, lots, strict=True)) / sum(weights)
    pack = s.factory_value(fac.id, "pack_size") or max(1, round(typical))
    fsim = FactorySim(
        env,
        fac.id,
        tenant,
        fac.zone,
        gate,
        calendar,
        mix,
        interarrival,
        bool(s.factory_value(fac.id, "materials")),
        pack,
        s.factory_value(fac.id, "shipment_size"),
        s.factory_value(fac.id, "max_wait_h") * 3600.0,
        s.factory_value(fac.id, "due_h") * 3600.0,
        sink,
    )
    fsim.typical_lot = max(1, round(typical))
    for ln in fac.lines:
        line = LineSim(
            env,
            ln.id,
            fac.id,
            ln.machines[0].id,
            fsim.on_output,
            saturate=fsim.new_job if release == "saturate" else None,
            sink=sink,
        )
        stations = _stations(s, ln.machines)
        n = len(stations)
        line.buffers = [Buffer(env, stations[i][0].id, ln.id, ln.buffer_capacity, sink) for i in range(1, n)]
        for i, group in enumerate(stations):
            members: list[MachineSim] = []
            for m in group:
                d = dists[m.id]
                scrap_every = s.machine_value(m.id, "scrap_every")
                sim = MachineSim(
                    env,
                    m,
                    factory=fac.id,
                    line=ln.id,
                    inbuf=line.queue_before(i),
                    outbuf=line.buffers[i] if i + 1 < n else line.exit,
                    gate=gate,
                    processing=d["processing"].sampler(streams.rng(f"{m.id}.processing")),  # type: ignore[union-attr]
                    time_to_failure=d["ttf"].sampler(streams.rng(f"{m.id}.ttf")) if d["ttf"] is not None else None,
                    time_to_repair=d["ttr"].sampler(streams.rng(f"{m.id}.ttr")),  # type: ignore[union-attr]
                    setup=d["setup"].sampler(streams.rng(f"{m.id}.setup")) if d["setup"] is not None else None,
                    scrap_rng=streams.rng(f"{m.id}.scrap"),
                    scrap_every=(
                        scrap_every.sampler(streams.rng(f"{m.id}.scrap_every")) if scrap_every is not None else None
                    ),
                    on_scrap=line.on_scrap,
                    sink=sink,
                )
                members.append(sim)
                line.machines.append(sim)
                line.inbuf_of[m.id] = line.queue_before(i)
                model.machines[m.id] = sim
            line.stations.append(members)
        fsim.lines.append(line)
        model.lines[ln.id] = line
    return fsim


def _stations(s: ModelSettings, machines: tuple[MachineSpec, ...]) -> list[list[MachineSpec]]:
    """Group a line's machines into stations: a machine with ``parallel_to`` joins the
    station of that machine (in the line's order of first members)."""
    root: dict[str, str] = {}
    by_id = {m.id: m for m in machines}

    def find(mid: str, seen: tuple[str, ...] = ()) -> str:
        other = s.machine(mid).parallel_to
        if other is None:
            return mid
        if other in seen:
            raise SimulationError(f"machine {mid!r}: parallel_to forms a cycle through {list(seen)}")
        if other not in by_id:
            raise SimulationError(f"machine {mid!r}: parallel_to {other!r} is not in the same line")
        return find(other, (*seen, mid))

    groups: dict[str, list[MachineSpec]] = {}
    for m in machines:
        root[m.id] = find(m.id)
        groups.setdefault(root[m.id], []).append(m)
    order = [m.id for m in machines if root[m.id] == m.id]
    if len(order) < len(groups):  # a root that is itself parallel can't happen, but be explicit
        raise SimulationError("inconsistent parallel_to settings")
    return [groups[r] for r in order]


def _derived_interarrival(
    fac: Factory,
    dists: Mapping[str, Mapping[str, Distribution | None]],
    weights: list[float],
    lots: list[Distribution],
    factors: list[float],
    utilisation: float,
    settings: ModelSettings,
) -> float:
    """Mean time between orders that loads the bottleneck of each line to ``utilisation``.

    Per lot, a machine needs its processing time for every unit (stretched by its
    availability) plus a setup whenever the product changes (probability
    1 - sum p_i^2 with products in random order). A station's capacity is the sum
    of its machines'; a line's is its slowest station's; the factory's is the sum
    over its lines.
    """
    total = sum(weights)
    p = [w / total for w in weights]
    units = sum(pi * _lot_mean(d) * f for pi, d, f in zip(p, lots, factors, strict=True))
    change = 1.0 - sum(pi * pi for pi in p)
    capacity = 0.0  # lots per second
    for ln in fac.lines:
        line_cap = math.inf  # lots per second of the slowest station
        for group in _stations(settings, ln.machines):
            station_cap = 0.0
            for m in group:
                d = dists[m.id]
                proc = d["processing"]
                assert proc is not None
                avail = 1.0
                if d["ttf"] is not None and d["ttr"] is not None:
                    avail = d["ttf"].mean / (d["ttf"].mean + d["ttr"].mean)
                setup = d["setup"].mean if d["setup"] is not None else 0.0
                work = units * proc.mean / avail + change * setup
                station_cap += 1.0 / work if work > 0 else math.inf
            line_cap = min(line_cap, station_cap)
        capacity += line_cap
    if math.isinf(capacity):
        raise SimulationError(f"factory {fac.id!r}: zero processing time; set 'arrivals' explicitly")
    return 1.0 / (capacity * utilisation)


def _build_logistics(model: ComplexModel) -> None:
    c, s, env = model.complex, model.settings, model.env
    if c.logistics is None or not s.logistics.enabled:
        return
    if not c.logistics.trucks:
        log.info("the complex has no trucks: logistics is not simulated")
        return
    centre = c.logistics.centre
    places = {f.id: (f.position.x, f.position.y) for f in c.factories.values()}
    places[centre.id] = (centre.position.x, centre.position.y)
    zones = [ZoneArea(z.id, z.area.x, z.area.y, z.area.w, z.area.h) for z in c.zones]
    roads = [[(p.x, p.y) for p in road] for road in c.logistics.roads]
    network = RoadNetwork(roads, places, zones)
    model.centre_gate = Gate(env, centre.id)
    lg = LogisticsSim(
        env,
        centre.id,
        sum(d.capacity for d in centre.docks),
        network,
        model.centre_gate,
        s.logistics.handling_fixed_s,
        s.logistics.handling_per_pack_s,
        model.sink,
    )
    shared = s.logistics.dispatch == "shared"
    for tr in c.logistics.trucks:
        name = "shared" if shared or tr.tenant is None else f"tenant:{tr.tenant}"
        pool = lg.pools.get(name) or lg.add_pool(name)
        lg.add_truck(TruckSim(env, tr.id, tr.capacity, tr.speed_kmh, tr.home, lg, pool))
    for t in c.tenants:
        serving = lg.pools.get(f"tenant:{t.id}") or lg.pools.get("shared")
        if serving is None:
            raise SimulationError(
                f"tenant {t.id!r} has no dedicated truck and there is no shared truck; "
                "add a truck or use logistics.dispatch: shared"
            )
        lg.tenant_pool[t.id] = serving
    for f in model.factories.values():
        f.logistics = lg
    model.logistics = lg


def _apply_state(model: ComplexModel, state: ComplexState) -> dict[str, dict[str, Any]]:
    """Load lots, machine states, goods and trucks; return each machine's resume fields."""
    env = model.env
    for mid in list(state.machines) + list(state.buffers):
        if mid not in model.machines:
            raise StateError(
                f"machines[{mid!r}]" if mid in state.machines else f"buffers[{mid!r}]",
                f"unknown machine {mid!r}",
            )
    ids = iter(range(1_000_000_000, 2_000_000_000))  # distinct from orders created later

    def job_of(item: WorkItem, fac: FactorySim, where: str) -> Job:
        product = item.product or fac.mix.ids[0]
        if product not in fac.mix.ids:
            raise StateError(
                where,
                f"unknown product {product!r} for factory {fac.id!r}; known: {list(fac.mix.ids)}",
            )
        factor = fac.mix._factors[fac.mix.ids.index(product)]
        job = Job(next(ids), product, item.quantity, factor, env.now - item.age_s)
        return job

    resume: dict[str, dict[str, Any]] = {}
    for line in model.lines.values():
        fac = model.factories[line.factory]
        for m in line.machines:
            q = line.inbuf_of[m.id]
            items = state.buffers.get(m.id, ())
            if len(q.items) + len(items) > q.capacity:
                raise StateError(
                    f"buffers[{m.id!r}]",
                    f"{len(q.items) + len(items)} lots exceed the buffer capacity {int(q.capacity)}",
                )
            for k, it in enumerate(items):
                job = job_of(it, fac, f"buffers[{m.id!r}][{k}]")
                job.entered = job.created
                line._wip(job.qty)
                q.items.append(job)
                q._level(job.qty)
        for m in line.machines:
            snap = state.machines.get(m.id)
            if snap is None:
                continue
            r = snap.resume_fields()
            if snap.job is not None:
                job = job_of(snap.job, fac, f"machines[{m.id!r}].job")
                line._wip(job.qty)
                r["job"] = job
                if snap.blocked:
                    r["blocked"] = True
            if "repair_left" in r and r["repair_left"] is None:
                r["repair_left"] = m._ttr.draw()
            resume[m.id] = r
    for fid, units in state.outbound_units.items():
        if fid not in model.factories:
            raise StateError(f"outbound_units[{fid!r}]", f"unknown factory {fid!r}")
        model.factories[fid].outbound_units = float(units)
    if state.truck_locations:
        if model.logistics is None:
            raise StateError("truck_locations", "logistics is not simulated in this model")
        trucks = {t.id: t for t in model.logistics.trucks}
        for tid, loc in state.truck_locations.items():
            if tid not in trucks:
                raise StateError(f"truck_locations[{tid!r}]", f"unknown truck {tid!r}")
            if loc not in model.logistics.network.places:
                raise StateError(f"truck_locations[{tid!r}]", f"unknown place {loc!r}")
            trucks[tid].location = loc
    for fid, left in state.factory_stops.items():
        if fid not in model.factories:
            raise StateError(f"factory_stops[{fid!r}]", f"unknown factory {fid!r}")
        gate = model.factories[fid].gate
        gate.stop()
        env.process(_restart_after(env, gate, left))
    return resume


def _restart_after(env: simpy.Environment, gate: Gate, seconds: float) -> Generator[simpy.Event, Any, None]:
    yield env.timeout(seconds)
    gate.restart()
