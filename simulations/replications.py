"""Running replications here or on an executor, and comparing variants with the baseline.

Shared by experiments (:mod:`simulations.experiment`) and forecasts
(:mod:`simulations.forecast`): both run every (variant, replication) task, report progress,
and compare each variant's per-replication values with the baseline's pair by pair
(replication *r* of every variant uses the same random streams).
"""

from __future__ import annotations

import concurrent.futures as cf
import math
from collections.abc import Callable, Hashable, Mapping, Sequence
from concurrent.futures.process import BrokenProcessPool  # not loaded by ``import concurrent.futures``
from typing import TypeVar

from simulations.errors import ExecutorError, SimulationError
from simulations.stats import Comparison, compare_paired

__all__ = ["Progress", "against_baseline", "json_number", "run_tasks"]

T = TypeVar("T")
R = TypeVar("R")
K = TypeVar("K", bound=Hashable)

#: ``progress(done, total)``, called after each finished task.
Progress = Callable[[int, int], None]


def run_tasks(
    run: Callable[[T], R],
    tasks: Sequence[T],
    key: Callable[[T], K],
    executor: cf.Executor | None = None,
    progress: Progress | None = None,
) -> dict[K, R]:
    """``{key(task): run(task)}`` for every task, here (``executor=None``) or on ``executor``
    (a process pool, dask's ``Client.get_executor()``, ...). A replication's own error
    (:class:`SimulationError`) passes through; a dead worker or a failing executor is an
    :class:`ExecutorError`."""
    results: dict[K, R] = {}
    total = len(tasks)
    if executor is None:
        for done, task in enumerate(tasks, 1):
            results[key(task)] = run(task)
            if progress:
                progress(done, total)
        return results
    try:
        futures = {executor.submit(run, task): task for task in tasks}
        for done, fut in enumerate(cf.as_completed(futures), 1):
            results[key(futures[fut])] = fut.result()
            if progress:
                progress(done, total)
    except SimulationError:
        raise
    except BrokenProcessPool as exc:
        raise ExecutorError(f"a worker process died: {exc}") from exc
    except (OSError, TimeoutError) as exc:
        raise ExecutorError(f"the executor failed: {exc}") from exc
    return results


def against_baseline(
    variants: Sequence[tuple[str, Mapping[str, Sequence[float]]]],
) -> dict[str, dict[str, Comparison]]:
    """``{variant: {output: comparison}}``: every variant after the first (the baseline),
    each output the baseline has too, compared with it replication by replication."""
    if not variants:
        return {}
    (_, base), *others = variants
    return {name: {k: compare_paired(base[k], v) for k, v in values.items() if k in base} for name, values in others}


def json_number(x: float | None) -> float | None:
    """``x`` for JSON: None for a missing, NaN or infinite value (JSON has no such numbers)."""
    return None if x is None or math.isnan(x) or math.isinf(x) else x
