"""The forecast benchmark of issue 6: the demo complex to the end of a shift (8 h, 10 replications).

:func:`benchmark_forecast_demo` is what ``benchmarks/alarms.py`` reports as
``forecast_wall_s`` and ``benchmarks/forecast.py`` prints; it times what ``twin
forecast`` does after the snapshots have arrived: estimate the starting state from
the live twin's snapshots, then run the replications. The inputs are prepared
outside the timing: the demo complex with the shipped ``demo-baseline`` settings,
run for a day and six hours so the forecast starts at 06:00 of day 2, the start of
the day shift, and ends with it.
"""

from __future__ import annotations

import concurrent.futures as cf
import time
from dataclasses import dataclass

from simulations.forecast import ForecastResult, forecast
from simulations.live_state import StateEstimate, observed_snapshots, state_from_snapshots
from simulations.model import build_model
from simulations.scenario import load_scenario_file
from simulations.settings import ModelSettings
from twin.model import Complex
from twin.snapshot import FactorySnapshot

__all__ = ["DemoInputs", "demo_inputs", "BenchResult", "run_benchmark", "benchmark_forecast_demo"]

#: Where the demo forecast starts: day 2, 06:00 site time (a shift start).
START_S = 86400.0 + 6 * 3600.0
#: A fixed epoch time for the snapshots (2026-11-26T21:00:00Z = 06:00 in Asia/Seoul).
START_MS = 1_795_726_800_000


@dataclass(frozen=True)
class DemoInputs:
    complex: Complex
    settings: ModelSettings
    snapshots: dict[str, FactorySnapshot]


def demo_inputs(seed: int = 2026) -> DemoInputs:
    """The demo complex with demo-baseline settings, and what a live twin sees at 06:00 of day 2."""
    sc = load_scenario_file("demo-baseline").baseline
    model = build_model(sc.complex, sc.settings, seed=seed)
    model.run(START_S)
    return DemoInputs(sc.complex, sc.settings, observed_snapshots(model, START_MS))


@dataclass(frozen=True)
class BenchResult:
    state_s: float
    forecast_s: float
    estimate: StateEstimate
    result: ForecastResult

    @property
    def total_s(self) -> float:
        return self.state_s + self.forecast_s


def run_benchmark(
    inputs: DemoInputs,
    *,
    replications: int = 10,
    horizon_h: float = 8.0,
    seed: int = 0,
    executor: cf.Executor | None = None,
) -> BenchResult:
    """Time the state estimate and the forecast separately (``time.perf_counter``)."""
    t0 = time.perf_counter()
    est = state_from_snapshots(
        inputs.complex, inputs.snapshots, settings=inputs.settings, seed=seed
    )
    t1 = time.perf_counter()
    result = forecast(
        inputs.complex,
        est.state,
        settings=inputs.settings,
        horizon_s=horizon_h * 3600.0,
        replications=replications,
        seed=seed,
        executor=executor,
    )
    t2 = time.perf_counter()
    return BenchResult(t1 - t0, t2 - t1, est, result)


def benchmark_forecast_demo(replications: int = 10, horizon_h: float = 8.0) -> float:
    """Wall seconds to forecast the demo complex from its snapshots to the end of the shift."""
    return run_benchmark(demo_inputs(), replications=replications, horizon_h=horizon_h).total_s
