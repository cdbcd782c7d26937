"""Replications of every scenario, on any ``concurrent.futures.Executor``.

Each (scenario, replication) pair is one task: build the model with the
replication's random streams, run the warm-up, reset the statistics, run the
rest, return the KPIs. With common random numbers (the default) scenario *k*'s
replication *r* uses the same streams as the baseline's replication *r*; without
them each scenario gets its own. Results are assembled by (scenario, replication)
index, never by completion order, so a run is bit-identical whichever executor,
worker count or cluster ran it.
"""

from __future__ import annotations

import concurrent.futures as cf
import contextlib
import logging
import math
import multiprocessing
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

from simulations.errors import ExecutorError
from simulations.kpis import kpi_unit
from simulations.model import build_model
from simulations.replications import Progress, against_baseline, json_number, run_tasks
from simulations.scenario import Scenario
from simulations.stats import Comparison, Summary, summarize

__all__ = [
    "RunSpec",
    "ReplicationTask",
    "ReplicationResult",
    "ScenarioResult",
    "ExperimentResult",
    "run_replication",
    "run_experiment",
    "make_executor",
    "worker_context",
    "MAX_SERIES_POINTS",
]

log = logging.getLogger(__name__)

#: WIP samples kept per replication (the sampling interval grows for long runs).
MAX_SERIES_POINTS = 400


@dataclass(frozen=True)
class RunSpec:
    """How long to run, how long to warm up, how many replications, which seed."""

    days: float
    warmup_h: float = 0.0
    replications: int = 1
    seed: int = 0
    crn: bool = True

    def __post_init__(self) -> None:
        if not (isinstance(self.days, int | float) and math.isfinite(self.days) and self.days > 0):
            raise ValueError(f'"days" must be a number > 0 (got {self.days!r})')
        if not (isinstance(self.warmup_h, int | float) and math.isfinite(self.warmup_h) and self.warmup_h >= 0):
            raise ValueError(f'"warmup_h" must be a number >= 0 (got {self.warmup_h!r})')
        if self.warmup_h >= self.days * 24:
            raise ValueError(f"the warm-up ({self.warmup_h} h) must be shorter than the run ({self.days} days)")
        if isinstance(self.replications, bool) or not isinstance(self.replications, int) or self.replications < 1:
            raise ValueError(f'"replications" must be an integer >= 1 (got {self.replications!r})')
        if isinstance(self.seed, bool) or not isinstance(self.seed, int) or self.seed < 0:
            raise ValueError(f'"seed" must be an integer >= 0 (got {self.seed!r})')

    @property
    def horizon_s(self) -> float:
        return self.days * 86400.0

    @property
    def warmup_s(self) -> float:
        return self.warmup_h * 3600.0


@dataclass(frozen=True)
class ReplicationTask:
    """One replication of one scenario (picklable: goes to worker processes)."""

    scenario_index: int
    scenario: Scenario
    replication: int
    run: RunSpec


@dataclass
class ReplicationResult:
    """KPIs and WIP series of one replication."""

    scenario_index: int
    replication: int
    kpis: dict[str, float]
    series_t_h: list[float]
    series_wip: dict[str, list[int]]
    events: int


def run_replication(task: ReplicationTask) -> ReplicationResult:
    """Run one replication: warm-up, reset, measure. Pure function of ``task``."""
    run = task.run
    sc = task.scenario
    every = max(sc.settings.sample_every_min * 60.0, run.horizon_s / MAX_SERIES_POINTS)
    model = build_model(
        sc.complex,
        sc.settings,
        seed=run.seed,
        replication=task.replication,
        salt=0 if run.crn else task.scenario_index,
        sample_every_s=every,
    )
    if run.warmup_s > 0:
        model.run(run.warmup_s)
        model.reset_statistics()
    model.run(run.horizon_s)
    kpis = model.kpis()
    eid = getattr(model.env, "_eid", None)  # SimPy's event counter: events scheduled so far
    events = next(eid) if eid is not None else -1
    return ReplicationResult(
        task.scenario_index,
        task.replication,
        kpis,
        [t / 3600.0 for t in model.series_t],
        {k: list(v) for k, v in model.series_wip.items()},
        events,
    )


@dataclass
class ScenarioResult:
    """Per-KPI replication values, their summaries, and the mean WIP series."""

    name: str
    description: str
    values: dict[str, list[float]]
    summaries: dict[str, Summary]
    series_t_h: list[float]
    series_wip: dict[str, list[float]]
    events: int = 0


@dataclass
class ExperimentResult:
    """Everything a run of a scenario file produced."""

    run: RunSpec
    scenarios: list[ScenarioResult]
    comparisons: dict[str, dict[str, Comparison]] = field(default_factory=dict)
    meta: dict[str, Any] = field(default_factory=dict)

    @property
    def baseline(self) -> ScenarioResult:
        return self.scenarios[0]

    def scenario(self, name: str) -> ScenarioResult:
        for s in self.scenarios:
            if s.name == name:
                return s
        raise KeyError(name)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready: every KPI with mean, CI and unit per scenario, and the comparisons."""

        num = json_number
        def summ(name: str, s: Summary) -> dict[str, Any]:
            return {
                "mean": num(s.mean),
                "ci_low": num(s.low),
                "ci_high": num(s.high),
                "half_width": num(s.half_width),
                "n": s.n,
                "unit": kpi_unit(name),
            }

        return {
            "meta": self.meta,
            "run": {
                "days": self.run.days,
                "warmup_h": self.run.warmup_h,
                "replications": self.run.replications,
                "seed": self.run.seed,
                "crn": self.run.crn,
                "confidence": 0.95,
            },
            "scenarios": {
                s.name: {
                    "description": s.description,
                    "kpis": {k: summ(k, v) for k, v in sorted(s.summaries.items())},
                    "wip_series": {"t_h": s.series_t_h, **{k: v for k, v in s.series_wip.items()}},
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
                        "unit": kpi_unit(k),
                    }
                    for k, c in sorted(cmp.items())
                }
                for name, cmp in self.comparisons.items()
            },
        }




def run_experiment(
    scenarios: Sequence[Scenario],
    run: RunSpec,
    executor: cf.Executor | None = None,
    progress: Progress | None = None,
) -> ExperimentResult:
    """Run ``run.replications`` of every scenario (the first is the baseline).

    ``executor=None`` runs in this process; otherwise tasks are submitted to it
    (a process pool, dask's ``Client.get_executor()``, ...). ``progress(done, total)``
    is called after each finished task.
    """
    if not scenarios:
        raise ValueError("need at least the baseline scenario")
    tasks = [ReplicationTask(si, sc, r, run) for si, sc in enumerate(scenarios) for r in range(run.replications)]
    results = run_tasks(run_replication, tasks, lambda t: (t.scenario_index, t.replication), executor, progress)
    return _assemble(scenarios, run, results)


def _assemble(
    scenarios: Sequence[Scenario], run: RunSpec, results: dict[tuple[int, int], ReplicationResult]
) -> ExperimentResult:
    out: list[ScenarioResult] = []
    for si, sc in enumerate(scenarios):
        reps = [results[(si, r)] for r in range(run.replications)]
        names = sorted({k for rr in reps for k in rr.kpis})
        values = {k: [rr.kpis.get(k, math.nan) for rr in reps] for k in names}
        n = min(len(rr.series_t_h) for rr in reps)
        series = {
            key: [math.fsum(rr.series_wip[key][i] for rr in reps) / len(reps) for i in range(n)]
            for key in reps[0].series_wip
        }
        out.append(
            ScenarioResult(
                sc.name,
                sc.description,
                values,
                {k: summarize(v) for k, v in values.items()},
                reps[0].series_t_h[:n],
                series,
                sum(rr.events for rr in reps),
            )
        )
    return ExperimentResult(run, out, against_baseline([(s.name, s.values) for s in out]))


def worker_context() -> multiprocessing.context.BaseContext:
    """How replication workers start: ``forkserver`` where available (a clean process,
    not a fork of one with threads), with the model's modules preloaded in the server
    so each worker starts without importing them again; else ``spawn``."""
    if "forkserver" not in multiprocessing.get_all_start_methods():
        return multiprocessing.get_context("spawn")
    ctx = multiprocessing.get_context("forkserver")
    ctx.set_forkserver_preload(["simulations.experiment"])  # ignored once the server runs
    return ctx


@contextlib.contextmanager
def make_executor(
    jobs: int = 1, scheduler: str | None = None, connect_timeout_s: float = 10.0
) -> Iterator[cf.Executor | None]:
    """The executor for ``--jobs``/``--scheduler``: ``None`` (this process) for one job,
    a process pool for several, a dask.distributed executor for a scheduler address."""
    if isinstance(jobs, bool) or not isinstance(jobs, int) or jobs < 1:
        raise ValueError(f'"jobs" must be an integer >= 1 (got {jobs!r})')
    if scheduler is not None:
        try:
            from distributed import Client
        except ImportError as exc:
            raise ExecutorError("--scheduler needs dask.distributed: pip install 'sandan-twin[distributed]'") from exc
        try:
            client = Client(scheduler, timeout=connect_timeout_s)
        except (OSError, TimeoutError, ValueError) as exc:
            raise ExecutorError(f"cannot connect to the dask scheduler {scheduler!r}: {exc}") from exc
        try:
            yield client.get_executor()
        finally:
            client.close()
        return
    if jobs == 1:
        yield None
        return
    pool = cf.ProcessPoolExecutor(max_workers=jobs, mp_context=worker_context())
    try:
        yield pool
    finally:
        pool.shutdown(wait=True, cancel_futures=True)
