"""The simulation lab's background jobs: an experiment or a forecast, run in a child process.

``python -m dashboards.sim_jobs JOBDIR`` reads ``JOBDIR/spec.json`` (see
:mod:`dashboards.jobs`), runs it with the same functions as ``twin simulate`` and
``twin forecast`` (:func:`simulations.experiment.run_experiment`,
:func:`simulations.forecast.forecast`), reports progress after every replication and
writes the result JSON (the same document as their ``--json``). SIGTERM or a ``cancel``
file stops it between two events of the model / two replications.
"""

from __future__ import annotations

import logging
import signal
import sys
import time
from collections.abc import Callable
from typing import Any

from dashboards.jobs import JobCancelled, JobReporter

__all__ = ["EXPERIMENT", "FORECAST", "RUNNER_MODULE", "main", "run_experiment_job", "run_forecast_job"]

log = logging.getLogger(__name__)

EXPERIMENT = "experiment"
FORECAST = "forecast"
#: What :meth:`dashboards.jobs.JobStore.start` runs with ``python -m``.
RUNNER_MODULE = "dashboards.sim_jobs"


def run_experiment_job(params: dict[str, Any], reporter: JobReporter) -> dict[str, Any]:
    """Every scenario of the (edited) scenario file, with replications; the ``--json`` document."""
    from simulations.experiment import RunSpec, run_experiment
    from simulations.scenario import parse_scenario_file

    reporter.progress(0, 0, "loading the scenario")
    plan = parse_scenario_file(params["data"], params["source"])
    r = params["run"]
    run = RunSpec(
        days=float(r["days"]), warmup_h=float(r["warmup_h"]), replications=int(r["replications"]),
        seed=int(r["seed"]), crn=plan.run.crn,
    )
    total = run.replications * len(plan.scenarios)
    reporter.progress(0, total, f"0/{total} replications")
    t0 = time.perf_counter()
    result = run_experiment(
        plan.scenarios, run, None, lambda done, n: reporter.progress(done, n, f"{done}/{n} replications")
    )
    result.meta = {
        "scenario": params.get("scenario"),
        "name": plan.name,
        "description": plan.description,
        "config": plan.config,
        "executor": "dashboard job (in-process)",
        "wall_s": round(time.perf_counter() - t0, 3),
        "changed": params.get("changed", {}),
    }
    return result.to_dict()


def run_forecast_job(params: dict[str, Any], reporter: JobReporter) -> dict[str, Any]:
    """A forecast from the live twin's retained snapshots; the ``twin forecast --json`` document."""
    from simulations.forecast import forecast, parse_what_if
    from simulations.forecast_cli import _meta, collect_snapshots
    from simulations.live_state import state_from_snapshots
    from twin.model import Complex
    from twin.mqtt import BrokerUnavailable
    from twin.urls import parse_broker_url

    complex_ = Complex.model_validate(params["complex"])
    url = parse_broker_url(params["broker_url"])
    what_ifs = [parse_what_if(w, complex_) for w in params.get("what_ifs", [])]
    reporter.progress(0, 0, "reading the live state from the broker")
    try:
        snapshots, refused = collect_snapshots(url, complex_, float(params.get("wait_s", 5.0)))
    except BrokerUnavailable as exc:
        raise ForecastUnavailable(f"the live twin's broker is not reachable ({exc})") from None
    if not snapshots:
        raise ForecastUnavailable(
            "no live state: the broker holds no snapshot of this complex (is 'twin live' running on it?)"
        )
    reporter.progress(0, 0, f"estimating the starting state from {len(snapshots)} factory snapshot(s)")
    seed = int(params["seed"])
    estimate = state_from_snapshots(complex_, snapshots, seed=seed)
    horizon = params.get("horizon_h")
    t0 = time.perf_counter()
    result = forecast(
        complex_,
        estimate.state,
        horizon_s=float(horizon) * 3600 if horizon is not None else None,
        replications=int(params["replications"]),
        seed=seed,
        what_ifs=what_ifs,
        progress=lambda done, n: reporter.progress(done, n, f"{done}/{n} replications"),
    )
    result.meta = _meta(
        estimate, complex_, broker=str(url), wall_s=round(time.perf_counter() - t0, 3),
        snapshots=len(snapshots), refused=refused,
    )
    return result.to_dict()


class ForecastUnavailable(Exception):
    """No live twin to forecast from (the message is for the user)."""


_KINDS: dict[str, Callable[[dict[str, Any], JobReporter], dict[str, Any]]] = {
    EXPERIMENT: run_experiment_job,
    FORECAST: run_forecast_job,
}


def _on_sigterm(signum: int, frame: Any) -> None:
    raise JobCancelled()


def run(reporter: JobReporter) -> None:
    """Run the job of ``reporter`` and leave a final status: done, failed or cancelled."""
    from simulations.errors import SimulationError
    from twin.errors import TwinError

    kind = reporter.spec.get("kind")
    body = _KINDS.get(kind) if isinstance(kind, str) else None
    if body is None:
        reporter.fail(f"unknown job kind {kind!r}")
        return
    try:
        t0 = time.perf_counter()
        result = body(reporter.params, reporter)
        reporter.finish(result, f"finished in {time.perf_counter() - t0:.1f} s")
    except JobCancelled:
        log.info("job %s cancelled", reporter.dir.name)
        reporter.cancelled()
    except (ForecastUnavailable, SimulationError, TwinError, ValueError) as exc:
        log.warning("job %s failed: %s", reporter.dir.name, exc)
        reporter.fail(str(exc))
    except Exception as exc:  # the user gets a line, the log gets the traceback
        log.exception("job %s crashed", reporter.dir.name)
        reporter.fail(f"internal error ({type(exc).__name__}); see the server log")


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    if len(argv) != 1:
        log.error("usage: python -m dashboards.sim_jobs JOBDIR")
        return 2
    signal.signal(signal.SIGTERM, _on_sigterm)
    try:
        reporter = JobReporter(argv[0])
    except Exception as exc:
        log.error("%s", exc)
        return 2
    try:
        run(reporter)
    except JobCancelled:  # SIGTERM while writing the final status
        reporter.cancelled()
    return 0


if __name__ == "__main__":
    sys.exit(main())
