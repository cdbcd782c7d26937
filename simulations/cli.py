"""``twin simulate``: run a scenario file's replications and compare with the baseline."""

from __future__ import annotations

import json
import logging
import math
import os
import sys
from pathlib import Path
from typing import Any

import click

from simulations.errors import ExecutorError, SimulationError
from simulations.experiment import ExperimentResult, RunSpec, make_executor, run_experiment
from simulations.kpis import kpi_unit
from simulations.scenario import load_scenario_file, shipped_scenarios
from twin.cli_options import log_level_option, setup_logging
from twin.errors import ConfigError, TwinError

__all__ = ["simulate", "SUMMARY_KPIS"]

log = logging.getLogger(__name__)

#: KPIs printed in the terminal summary.
SUMMARY_KPIS = (
    "complex.oee",
    "complex.availability",
    "complex.performance",
    "complex.quality",
    "complex.throughput_uph",
    "complex.wip_units",
    "complex.lead_time_h",
    "complex.energy_per_good_unit_kwh",
    "complex.production_lost_units",
    "logistics.on_time_rate",
    "logistics.truck_utilisation",
    "logistics.dock_wait_min",
)


def _fail(message: str, code: int) -> None:
    click.echo(f"error: {message}", err=True)
    sys.exit(code)


def _check_output(path: str | None, flag: str) -> None:
    """Refuse before a long run, not after it, if the result cannot be written."""
    if path is None:
        return
    p = Path(path)
    parent = p.parent if str(p.parent) else Path(".")
    if p.is_dir():
        _fail(f"{flag} {path}: is a directory", 2)
    if not parent.is_dir():
        _fail(f"{flag} {path}: directory {parent} does not exist", 2)
    if not os.access(parent, os.W_OK):
        _fail(f"{flag} {path}: directory {parent} is not writable", 2)


def _fmt(x: float) -> str:
    if x is None or math.isnan(x):
        return "n/a"
    return f"{x:.4g}"


def _summary(result: ExperimentResult) -> str:
    lines = []
    width = max(len(k) for k in SUMMARY_KPIS) + 2
    for s in result.scenarios:
        lines.append(f"\n{s.name}: {s.description}")
        for k in SUMMARY_KPIS:
            sm = s.summaries.get(k)
            if sm is None:
                continue
            hw = "" if math.isnan(sm.half_width) else f" ± {_fmt(sm.half_width)}"
            lines.append(f"  {k:<{width}} {_fmt(sm.mean)}{hw} {kpi_unit(k)}")
    for name, cmp in result.comparisons.items():
        lines.append(f"\n{name} vs baseline (paired difference, 95% CI; * = significant)")
        for k in SUMMARY_KPIS:
            c = cmp.get(k)
            if c is None:
                continue
            rel = "" if math.isnan(c.relative) else f" ({100 * c.relative:+.1f}%)"
            star = " *" if c.significant else ""
            lines.append(f"  {k:<{width}} {_fmt(c.diff)} ± {_fmt(c.half_width)}{rel}{star}")
    return "\n".join(lines)


def _write_json(path: str, data: dict[str, Any]) -> None:
    p = Path(path)
    tmp = p.with_name(p.name + ".tmp")
    tmp.write_text(json.dumps(data, indent=1, allow_nan=False), encoding="utf-8")
    os.replace(tmp, p)


@click.command("simulate")
@click.argument("scenario_file", metavar="SCENARIO.yaml")
@click.option(
    "--config",
    default=None,
    metavar="PATH",
    help="Complex config ('demo', 'tiny' or a path); default: the scenario's 'config' key, "
    "else TWIN_CONFIG, else demo.",
)
@click.option(
    "--replications",
    type=click.IntRange(min=1, max=10_000),
    default=None,
    help="Replications per scenario [default: the scenario's run.replications, else 5].",
)
@click.option(
    "--seed",
    type=click.IntRange(min=0),
    default=None,
    help="Random seed [default: run.seed, else 1].",
)
@click.option(
    "--jobs",
    type=click.IntRange(min=1, max=512),
    default=1,
    show_default=True,
    help="Worker processes for replications (1: run in this process).",
)
@click.option(
    "--scheduler",
    default=None,
    metavar="tcp://HOST:PORT",
    help="Run replications on a dask.distributed cluster instead of local processes.",
)
@click.option(
    "--days",
    type=click.FloatRange(min=0, min_open=True, max=3660),
    default=None,
    help="Simulated days per replication, warm-up included [default: run.days, else 28].",
)
@click.option(
    "--warmup",
    "warmup_h",
    type=click.FloatRange(min=0),
    default=None,
    metavar="HOURS",
    help="Warm-up excluded from statistics [default: run.warmup_h, else 24].",
)
@click.option(
    "--independent",
    is_flag=True,
    help="Independent random streams per scenario instead of common random numbers.",
)
@click.option(
    "--json",
    "json_out",
    default=None,
    metavar="OUT",
    help="Write every KPI with mean, CI and unit.",
)
@click.option(
    "--report",
    "report_out",
    default=None,
    metavar="OUT.html",
    help="Write an HTML report with plotly charts.",
)
@click.option(
    "--progress/--no-progress",
    default=True,
    show_default=True,
    help="Show a progress bar on stderr.",
)
@log_level_option
def simulate(
    scenario_file: str,
    config: str | None,
    replications: int | None,
    seed: int | None,
    jobs: int,
    scheduler: str | None,
    days: float | None,
    warmup_h: float | None,
    independent: bool,
    json_out: str | None,
    report_out: str | None,
    progress: bool,
    log_level: str,
) -> None:
    """Run the baseline and every scenario of SCENARIO.yaml with replications, and
    compare each scenario with the baseline (mean, 95% CI, paired difference).

    SCENARIO.yaml may also name a shipped example: {names}.
    """
    setup_logging(log_level)
    _check_output(json_out, "--json")
    _check_output(report_out, "--report")
    if scheduler is not None and jobs != 1:
        _fail("--jobs and --scheduler exclude each other: the cluster decides the workers", 2)
    try:
        plan = load_scenario_file(scenario_file, config, os.environ.get("TWIN_CONFIG") or "demo")
        d = plan.run
        try:
            run = RunSpec(
                days=days if days is not None else d.days,
                warmup_h=warmup_h if warmup_h is not None else d.warmup_h,
                replications=replications if replications is not None else d.replications,
                seed=seed if seed is not None else d.seed,
                crn=d.crn and not independent,
            )
        except ValueError as exc:
            _fail(f"{exc} (--days, --warmup)", 2)
        n_tasks = run.replications * len(plan.scenarios)
        log.info(
            "running %d replications of %d scenario(s) from %s",
            run.replications,
            len(plan.scenarios),
            plan.source,
        )
        from tqdm import tqdm

        with tqdm(total=n_tasks, desc="replications", unit="run", file=sys.stderr, disable=not progress) as bar:

            def tick(done: int, total: int) -> None:
                bar.update(done - bar.n)

            with make_executor(jobs, scheduler) as executor:
                result = run_experiment(plan.scenarios, run, executor, tick)
    except ConfigError as exc:
        _fail(str(exc), 2)
    except (ExecutorError, SimulationError) as exc:
        _fail(str(exc), 1)
    except TwinError as exc:
        _fail(str(exc), 1)
    result.meta = {
        "scenario_file": plan.source,
        "name": plan.name,
        "config": plan.config,
        "executor": scheduler or (f"{jobs} local processes" if jobs > 1 else "in-process"),
    }
    click.echo(
        f"{plan.name}: {run.replications} replications x {len(plan.scenarios)} scenario(s), "
        f"{run.days:g} days, warm-up {run.warmup_h:g} h, seed {run.seed}"
    )
    click.echo(_summary(result))
    if json_out is not None:
        _write_json(json_out, result.to_dict())
        click.echo(f"\nwrote {json_out}")
    if report_out is not None:
        from simulations.report import write_report

        write_report(result, report_out, plan.name)
        click.echo(f"wrote {report_out}")


if simulate.help:
    simulate.help = simulate.help.replace("{names}", ", ".join(shipped_scenarios()) or "(none)")
