"""Forecasts from a state: run the model ahead of "now" with replications (pure).

The live twin knows what every machine is doing now; :func:`forecast` starts the
SimPy model from that :class:`~simulations.state.ComplexState`, runs it to the end of
the shift (or any horizon) faster than real time, several replications with
independent random streams, and reports the expected output with a 95% confidence
interval. What-if variants (:class:`WhatIf`: "machine M stays down for 2 h", "factory F
is stopped for 1 h") run on the same random streams as the baseline (common random
numbers), so their difference from it has a tight paired CI.

``twin forecast`` (:mod:`simulations.forecast_cli`) builds the state from the live
twin's retained MQTT snapshots (:mod:`simulations.live_state`) and calls
:func:`forecast`; the dashboard calls the same function. Nothing here does I/O or
reads a clock.
"""

from __future__ import annotations

import concurrent.futures as cf
import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

from simulations.model import build_model
from simulations.replications import Progress, against_baseline, json_number, run_tasks
from simulations.settings import ModelSettings
from simulations.state import ComplexState, MachineSnapshot
from simulations.stats import Comparison, Summary, summarize
from twin.model import Complex, MachineState

__all__ = [
    "BASELINE",
    "DEFAULT_HORIZON_S",
    "HEADLINE",
    "WhatIf",
    "parse_what_if",
    "shift_end_s",
    "ForecastTask",
    "ScenarioForecast",
    "ForecastResult",
    "run_forecast_replication",
    "forecast",
]

#: Name of the unchanged continuation every what-if is compared with.
BASELINE = "as-is"
#: Horizon when the site has no shifts (a plant running around the clock).
DEFAULT_HORIZON_S = 8 * 3600.0
#: The forecast's headline: good units leaving the lines of the whole complex.
HEADLINE = "complex.good_units"
#: Longest what-if outage accepted (a week).
MAX_WHAT_IF_S = 7 * 86400.0

_DAY_S = 86400.0
_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(s|m|min|h|d)\s*$")
_UNIT_S = {"s": 1.0, "m": 60.0, "min": 60.0, "h": 3600.0, "d": 86400.0}


def _duration_s(text: str, where: str) -> float:
    m = _DURATION.match(text)
    if not m:
        raise ValueError(f"{where}: bad duration {text!r}; use e.g. 45m, 2h, 1.5h, 1d")
    s = float(m.group(1)) * _UNIT_S[m.group(2)]
    if not 0 < s <= MAX_WHAT_IF_S:
        raise ValueError(f"{where}: duration must be > 0 and at most 7 days, got {text!r}")
    return s


@dataclass(frozen=True)
class WhatIf:
    """A change to the start: machines held down, factories stopped, for seconds from now."""

    name: str
    machines_down: Mapping[str, float] = field(default_factory=dict)
    factories_stopped: Mapping[str, float] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if not self.name or self.name == BASELINE:
            raise ValueError(f"a what-if needs a name other than {BASELINE!r}")
        for what, m in (
            ("machines_down", self.machines_down),
            ("factories_stopped", self.factories_stopped),
        ):
            for k, v in m.items():
                if not (isinstance(v, int | float) and math.isfinite(v) and v > 0):
                    raise ValueError(f"{what}[{k!r}] must be a number of seconds > 0, got {v!r}")
        if not self.machines_down and not self.factories_stopped:
            raise ValueError(f"what-if {self.name!r} changes nothing")
        object.__setattr__(self, "machines_down", dict(self.machines_down))
        object.__setattr__(self, "factories_stopped", dict(self.factories_stopped))

    def check(self, complex_: Complex) -> None:
        """Raise ValueError naming an unknown machine or factory."""
        for mid in self.machines_down:
            if mid not in complex_.machines:
                raise ValueError(f"what-if {self.name!r}: unknown machine {mid!r}")
        for fid in self.factories_stopped:
            if fid not in complex_.factories:
                raise ValueError(f"what-if {self.name!r}: unknown factory {fid!r}")

    def apply(self, state: ComplexState) -> ComplexState:
        """The state with the changes made (the machine keeps the lot it holds)."""
        machines = dict(state.machines)
        for mid, seconds in self.machines_down.items():
            m = machines.get(mid) or MachineSnapshot()
            job, work_left = m.job, None
            if m.state in (MachineState.BUSY, MachineState.DOWN) and not m.blocked:
                work_left = m.work_left_s
            elif m.blocked:
                # A finished lot the machine could not pass on: no work left on it. The
                # machine counts it again when it restarts; the line's output does not.
                work_left = 0.0
            machines[mid] = MachineSnapshot(
                MachineState.DOWN,
                job=job,
                work_left_s=work_left if job is not None else None,
                repair_left_s=float(seconds),
                time_to_failure_s=m.time_to_failure_s,
                product=m.product,
            )
        stops = dict(state.factory_stops)
        for fid, seconds in self.factories_stopped.items():
            stops[fid] = max(stops.get(fid, 0.0), float(seconds))
        return replace(state, machines=machines, factory_stops=stops)


def parse_what_if(text: str, complex_: Complex | None = None) -> WhatIf:
    """``down:MACHINE:2h`` or ``stop:FACTORY:1h``; join several with ``+``; the text is the name."""
    if not isinstance(text, str) or not text.strip() or len(text) > 1000:
        raise ValueError("a what-if looks like down:MACHINE:2h or stop:FACTORY:1h (join with +)")
    down: dict[str, float] = {}
    stop: dict[str, float] = {}
    for part in text.strip().split("+"):
        bits = part.strip().split(":")
        if len(bits) != 3 or bits[0] not in ("down", "stop") or not bits[1]:
            raise ValueError(
                f"bad what-if {part.strip()!r}: use down:MACHINE:DURATION or stop:FACTORY:DURATION"
            )
        seconds = _duration_s(bits[2], f"what-if {part.strip()!r}")
        (down if bits[0] == "down" else stop)[bits[1]] = seconds
    w = WhatIf(text.strip(), down, stop)
    if complex_ is not None:
        w.check(complex_)
    return w


def _hhmm_s(text: str) -> float:
    hh, mm = text.split(":")
    return int(hh) * 3600.0 + int(mm) * 60.0


def shift_end_s(complex_: Complex, time_s: float) -> float:
    """When the shift on at ``time_s`` ends (the latest started, if shifts overlap); the end
    of the next shift between shifts; ``time_s + DEFAULT_HORIZON_S`` without shifts."""
    shifts = complex_.site.shifts
    if not shifts:
        return time_s + DEFAULT_HORIZON_S
    day0 = math.floor(time_s / _DAY_S) * _DAY_S
    windows = sorted(
        (
            day0 + d * _DAY_S + _hhmm_s(s.start),
            day0 + d * _DAY_S + _hhmm_s(s.start) + s.hours * 3600,
        )
        for d in (-1, 0, 1)
        for s in shifts
    )
    on = [w for w in windows if w[0] <= time_s < w[1]]
    if on:
        return max(on, key=lambda w: w[0])[1]
    return min((w for w in windows if w[0] > time_s), key=lambda w: w[0])[1]


# ---- replications ---------------------------------------------------------------------------


@dataclass(frozen=True)
class ForecastTask:
    """One replication of one variant (picklable: goes to worker processes)."""

    variant: int
    complex: Complex
    settings: ModelSettings
    state: ComplexState
    horizon_s: float
    seed: int
    replication: int


def _outputs(model: Any) -> dict[str, float]:
    """Good units leaving the lines per line, factory, tenant and the complex; OEE; energy."""
    out: dict[str, float] = {}
    tenants: dict[str, float] = {}
    total = 0.0
    for line in model.lines.values():
        out[f"line.{line.id}.good_units"] = float(line.good_units)
    for f in model.factories.values():
        out[f"factory.{f.id}.good_units"] = float(f.good_units)
        out[f"factory.{f.id}.wip_end_units"] = float(f.wip_now())
        tenants[f.tenant] = tenants.get(f.tenant, 0.0) + f.good_units
        total += f.good_units
    for tid, good in tenants.items():
        out[f"tenant.{tid}.good_units"] = good
    out[HEADLINE] = total
    out["complex.wip_end_units"] = float(sum(f.wip_now() for f in model.factories.values()))
    k = model.kpis()
    for name, v in k.items():
        last = name.rsplit(".", 1)[-1]
        if (name.startswith(("complex.", "factory.")) and last in ("oee", "energy_kwh")) or (
            name.startswith("machine.") and last == "good"
        ):
            out[name] = float(v)
    return out


def run_forecast_replication(task: ForecastTask) -> dict[str, float]:
    """Run one replication from ``task.state`` for ``task.horizon_s``; its outputs by name."""
    model = build_model(
        task.complex,
        task.settings,
        seed=task.seed,
        replication=task.replication,
        state=task.state,
    )
    model.run(task.state.time_s + task.horizon_s)
    return _outputs(model)


@dataclass
class ScenarioForecast:
    """One variant: per-output replication values and their summaries."""

    name: str
    description: str
    values: dict[str, list[float]]
    summaries: dict[str, Summary]


@dataclass
class ForecastResult:
    """Every variant's forecast, and each what-if compared with the baseline."""

    start_s: float
    horizon_s: float
    replications: int
    seed: int
    scenarios: list[ScenarioForecast]
    comparisons: dict[str, dict[str, Comparison]] = field(default_factory=dict)
    meta: dict[str, Any] = field(default_factory=dict)

    @property
    def baseline(self) -> ScenarioForecast:
        return self.scenarios[0]

    def scenario(self, name: str) -> ScenarioForecast:
        for s in self.scenarios:
            if s.name == name:
                return s
        raise KeyError(name)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready: every output with mean and 95% CI per variant, and the paired differences."""

        num = json_number
        return {
            "meta": self.meta,
            "start_s": self.start_s,
            "horizon_h": self.horizon_s / 3600.0,
            "replications": self.replications,
            "seed": self.seed,
            "confidence": 0.95,
            "headline": HEADLINE,
            "scenarios": {
                s.name: {
                    "description": s.description,
                    "outputs": {
                        k: {
                            "mean": num(v.mean),
                            "ci_low": num(v.low),
                            "ci_high": num(v.high),
                            "half_width": num(v.half_width),
                            "n": v.n,
                        }
                        for k, v in sorted(s.summaries.items())
                    },
                }
                for s in self.scenarios
            },
            "comparisons": {
                name: {
                    k: {
                        "diff": num(c.diff),
                        "ci_low": num(c.low),
                        "ci_high": num(c.high),
                        "relative": num(c.relative),
                        "significant": c.significant,
                        "n": c.n,
                    }
                    for k, c in sorted(cmp.items())
                }
                for name, cmp in self.comparisons.items()
            },
        }




def forecast(
    complex_: Complex,
    state: ComplexState,
    *,
    settings: ModelSettings | None = None,
    horizon_s: float | None = None,
    replications: int = 10,
    seed: int = 0,
    what_ifs: Sequence[WhatIf] = (),
    executor: cf.Executor | None = None,
    progress: Progress | None = None,
) -> ForecastResult:
    """Run the model from ``state`` for ``horizon_s`` (default: to the end of the shift on at
    ``state.time_s``), ``replications`` times, as is and under each what-if.

    Replication *r* of every variant uses the same random streams (seed, r), so what-ifs
    are compared with the baseline pair by pair. ``executor=None`` runs here; otherwise
    replications go to it (a process pool, a dask executor). ``progress(done, total)`` is
    called after each replication.
    """
    settings = settings or ModelSettings()
    if isinstance(replications, bool) or not isinstance(replications, int) or replications < 1:
        raise ValueError(f'"replications" must be an integer >= 1 (got {replications!r})')
    if isinstance(seed, bool) or not isinstance(seed, int) or seed < 0:
        raise ValueError(f'"seed" must be an integer >= 0 (got {seed!r})')
    if horizon_s is None:
        horizon_s = shift_end_s(complex_, state.time_s) - state.time_s
    if not (isinstance(horizon_s, int | float) and math.isfinite(horizon_s) and horizon_s > 0):
        raise ValueError(f'"horizon_s" must be a number > 0 (got {horizon_s!r})')
    names = [BASELINE]
    for w in what_ifs:
        w.check(complex_)
        if w.name in names:
            raise ValueError(f"what-if {w.name!r} is given twice")
        names.append(w.name)
    states = [state, *(w.apply(state) for w in what_ifs)]
    tasks = [
        ForecastTask(v, complex_, settings, st, float(horizon_s), seed, r)
        for v, st in enumerate(states)
        for r in range(replications)
    ]
    results = run_tasks(run_forecast_replication, tasks, lambda t: (t.variant, t.replication), executor, progress)
    scenarios = []
    for v, name in enumerate(names):
        reps = [results[(v, r)] for r in range(replications)]
        keys = sorted({k for rr in reps for k in rr})
        values = {k: [rr.get(k, math.nan) for rr in reps] for k in keys}
        desc = "the present state, continued" if v == 0 else _describe(what_ifs[v - 1])
        scenarios.append(
            ScenarioForecast(name, desc, values, {k: summarize(x) for k, x in values.items()})
        )
    comparisons = against_baseline([(s.name, s.values) for s in scenarios])
    return ForecastResult(state.time_s, float(horizon_s), replications, seed, scenarios, comparisons)


def _describe(w: WhatIf) -> str:
    parts = [f"machine {m} down for {s / 3600:g} h" for m, s in w.machines_down.items()]
    parts += [f"factory {f} stopped for {s / 3600:g} h" for f, s in w.factories_stopped.items()]
    return "; ".join(parts)
