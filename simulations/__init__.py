"""Process-innovation simulations: a pure SimPy model of the complex and experiments on it.

The model (factories, lines, machines, logistics, disasters) is built from the one
complex config by :func:`build_model`; it does no I/O and reads no clock. It runs
as fast as it can, or paced by the wall clock in a :func:`realtime_environment`;
it hands :class:`SimEvent` objects to an injected sink and can start from a
:class:`ComplexState`. Experiments (:func:`run_experiment`) run replications of
scenario files on any ``concurrent.futures.Executor`` and compare scenarios with
the baseline with confidence intervals. ``twin simulate`` is the command line.
"""

from simulations.errors import ExecutorError, SimulationError, StateError
from simulations.events import EVENT_KINDS, SimEvent, Sink
from simulations.experiment import ExperimentResult, RunSpec, make_executor, run_experiment
from simulations.kpis import KPI_UNITS, OeeElements, collect_kpis, kpi_unit
from simulations.model import ComplexModel, build_model, derived_arrival_means, realtime_environment
from simulations.scenario import Scenario, ScenarioFile, load_scenario_file, shipped_scenarios
from simulations.settings import DisasterSpec, ModelSettings
from simulations.state import ComplexState, MachineSnapshot, WorkItem
from simulations.stats import Comparison, Summary, compare_paired, summarize

__all__ = [
    "EVENT_KINDS",
    "KPI_UNITS",
    "Comparison",
    "ComplexModel",
    "ComplexState",
    "DisasterSpec",
    "ExecutorError",
    "ExperimentResult",
    "MachineSnapshot",
    "ModelSettings",
    "OeeElements",
    "RunSpec",
    "Scenario",
    "ScenarioFile",
    "SimEvent",
    "SimulationError",
    "Sink",
    "StateError",
    "Summary",
    "WorkItem",
    "build_model",
    "collect_kpis",
    "compare_paired",
    "derived_arrival_means",
    "kpi_unit",
    "load_scenario_file",
    "make_executor",
    "realtime_environment",
    "run_experiment",
    "shipped_scenarios",
    "summarize",
]
