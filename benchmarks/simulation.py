"""Benchmark: one simulated year of the demo complex, and replications on 1 vs 2 workers.

    python benchmarks/simulation.py --json

Measures, in the same run (medians of ``--runs`` interleaved repetitions):

- a bare SimPy loop (processes yielding timeouts): SimPy's own events/s on this
  machine, the baseline that makes the model's overhead a ratio;
- one replication of the demo complex (all factories, logistics, random disasters
  of the shipped baseline settings) over ``--days`` simulated days on one core:
  wall seconds, simulated days per second, events per second;
- ``--replications`` replications of ``--parallel-days`` days on a process pool
  of one worker and of two workers, ``--pairs`` times back to back: the speedup is
  the median of the pairs' ratios. On a machine shared with other work the wall
  clock cannot show the speedup (both pools get the same share of the CPUs), so the
  benchmark also reports the ratio of the workers' CPU times: the single worker's
  total over the busier of the two workers, the speedup with a free core per worker.

Prints a table, then (with ``--json``) one JSON line with at least the keys
``year_wall_s``, ``sim_days_per_s``, ``events_per_s``, ``simpy_events_per_s``,
``speedup_2_workers``.
"""

from __future__ import annotations

import argparse
import concurrent.futures as cf
import json
import os
import statistics
import sys
import time
from typing import Any

import psutil
import simpy

from simulations.experiment import RunSpec, run_experiment, worker_context
from simulations.model import build_model
from simulations.scenario import load_scenario_file


def _events(env: simpy.Environment) -> int:
    """Events scheduled so far (SimPy numbers every scheduled event)."""
    return next(env._eid)  # type: ignore[attr-defined]


def bare_simpy(n_events: int = 1_000_000, processes: int = 100) -> float:
    """Events per second of processes that only yield timeouts."""
    env = simpy.Environment()

    def proc(env: simpy.Environment, dt: float) -> Any:
        while True:
            yield env.timeout(dt)

    for i in range(processes):
        env.process(proc(env, 1.0 + i / processes))
    until = n_events / processes
    t0 = time.perf_counter()
    env.run(until=until)
    wall = time.perf_counter() - t0
    return _events(env) / wall


def one_replication(scenario: str, config: str | None, days: float, seed: int) -> tuple[float, int]:
    """Wall seconds and events of one replication of ``days`` of the scenario's baseline."""
    plan = load_scenario_file(scenario, config)
    base = plan.baseline
    model = build_model(base.complex, base.settings, seed=seed)
    t0 = time.perf_counter()
    model.run(days * 86400.0)
    wall = time.perf_counter() - t0
    return wall, _events(model.env)


def replications_wall(
    scenario: str, config: str | None, days: float, reps: int, jobs: int
) -> tuple[float, list[float]]:
    """Wall seconds for ``reps`` replications on a pool of ``jobs`` workers (start-up
    included), and the CPU seconds each worker used."""
    plan = load_scenario_file(scenario, config)
    run = RunSpec(days=days, warmup_h=24.0, replications=reps, seed=1)
    t0 = time.perf_counter()
    # A pool even for one worker, so both measurements pay the same start-up and transfer
    # costs; the pool is the one `twin simulate --jobs N` uses.
    with cf.ProcessPoolExecutor(max_workers=jobs, mp_context=worker_context()) as pool:
        run_experiment(plan.scenarios[:1], run, pool)
        cpu = []
        for pid in list(pool._processes):  # type: ignore[attr-defined]  # benchmark only
            t = psutil.Process(pid).cpu_times()
            cpu.append(t.user + t.system)
    return time.perf_counter() - t0, cpu


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--json", action="store_true", help="end with one JSON line of results")
    ap.add_argument("--runs", type=int, default=3, help="repetitions of each measurement (median)")
    ap.add_argument("--days", type=float, default=365.0, help="simulated days of the single replication")
    ap.add_argument("--scenario", default="demo-baseline", help="scenario file or shipped name")
    ap.add_argument("--config", default=None, help="complex config (default: the scenario's)")
    ap.add_argument("--replications", type=int, default=8, help="replications for the speedup")
    ap.add_argument("--pairs", type=int, default=9, help="1-worker/2-worker pairs (median ratio)")
    ap.add_argument("--parallel-days", type=float, default=20.0, help="days per replication for the speedup")
    ap.add_argument("--seed", type=int, default=1)
    args = ap.parse_args(argv)
    if min(args.runs, args.pairs, args.replications) < 1 or args.days <= 0 or args.parallel_days <= 1:
        ap.error("--runs, --pairs, --replications >= 1; --days > 0; --parallel-days > 1")

    # Bare SimPy and the model alternate, so a change in the machine's load hits both.
    simpy_runs: list[float] = []
    year_runs: list[tuple[float, int]] = []
    for _ in range(args.runs):
        simpy_runs.append(bare_simpy())
        year_runs.append(one_replication(args.scenario, args.config, args.days, args.seed))
    simpy_eps = statistics.median(simpy_runs)
    year_wall = statistics.median(w for w, _ in year_runs)
    events = year_runs[0][1]  # the same seed every run: the same events
    # Speedup: many short pairs, each pair measured back to back (order alternating, so
    # a drift in background load does not favour one side); the median pair ratio.
    ones: list[float] = []
    twos: list[float] = []
    cpu_estimates: list[float] = []
    for i in range(args.pairs):
        order = (1, 2) if i % 2 == 0 else (2, 1)
        got = {
            jobs: replications_wall(args.scenario, args.config, args.parallel_days, args.replications, jobs)
            for jobs in order
        }
        ones.append(got[1][0])
        twos.append(got[2][0])
        # What 2 workers would give with a core each: the single worker's CPU time over
        # the busier worker's CPU time. Insensitive to other processes' load.
        cpu_estimates.append(sum(got[1][1]) / max(got[2][1]))
    one, two = statistics.median(ones), statistics.median(twos)
    speedup = statistics.median(a / b for a, b in zip(ones, twos, strict=True))

    result = {
        "year_wall_s": round(year_wall * 365.0 / args.days, 3),
        "sim_days_per_s": round(args.days / year_wall, 2),
        "events_per_s": round(events / year_wall),
        "simpy_events_per_s": round(simpy_eps),
        "speedup_2_workers": round(speedup, 3),
        "speedup_runs": [round(a / b, 3) for a, b in zip(ones, twos, strict=True)],
        "speedup_2_workers_cpu_estimate": round(statistics.median(cpu_estimates), 3),
        "model_overhead_ratio": round(simpy_eps / (events / year_wall), 2),
        "events_per_year": round(events * 365.0 / args.days),
        "days": args.days,
        "runs": args.runs,
        "pairs": args.pairs,
        "replications": args.replications,
        "parallel_days": args.parallel_days,
        "replications_1_worker_s": round(one, 2),
        "replications_2_workers_s": round(two, 2),
        "cpu_count": os.cpu_count(),
        "loadavg_1m": round(os.getloadavg()[0], 2),
        "python": sys.version.split()[0],
        "simpy": simpy.__version__,
    }
    rows = [
        ("one simulated year of the demo complex, wall s (target < 60)", result["year_wall_s"]),
        ("simulated days per wall second", result["sim_days_per_s"]),
        ("model events per second", result["events_per_s"]),
        ("bare SimPy events per second (same machine, same run)", result["simpy_events_per_s"]),
        ("bare SimPy / model events per second", result["model_overhead_ratio"]),
        (
            f"{args.replications} x {args.parallel_days:g} days on 1 worker, wall s",
            result["replications_1_worker_s"],
        ),
        (
            f"{args.replications} x {args.parallel_days:g} days on 2 workers, wall s",
            result["replications_2_workers_s"],
        ),
        ("speedup with 2 workers, wall clock (target >= 1.7)", result["speedup_2_workers"]),
        ("speedup with 2 workers, CPU-time estimate", result["speedup_2_workers_cpu_estimate"]),
        ("1-minute load average at the end", result["loadavg_1m"]),
    ]
    width = max(len(r[0]) for r in rows)
    print(f"simulation benchmark: medians of {args.runs} runs, speedup of {args.pairs} pairs")
    for label, value in rows:
        print(f"  {label:<{width}}  {value}")
    if args.json:
        print(json.dumps(result))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
