"""Running replications here or on an executor, and comparing variants with the baseline."""

from __future__ import annotations

import concurrent.futures as cf
import contextlib

import pytest

from simulations.errors import ExecutorError, SimulationError
from simulations.replications import against_baseline, json_number, run_tasks


def _square(x: int) -> int:
    if x < 0:
        raise SimulationError(f"replication {x} failed")
    return x * x


@pytest.mark.parametrize("pool", [None, "threads"])
def test_run_tasks_keys_every_result_and_reports_progress(pool: str | None) -> None:
    seen: list[tuple[int, int]] = []
    with contextlib.ExitStack() as stack:
        executor = stack.enter_context(cf.ThreadPoolExecutor(2)) if pool else None
        out = run_tasks(_square, [1, 2, 3, 4], lambda t: f"t{t}", executor, lambda d, n: seen.append((d, n)))
    assert out == {"t1": 1, "t2": 4, "t3": 9, "t4": 16}
    assert seen == [(1, 4), (2, 4), (3, 4), (4, 4)]


def test_a_replications_own_error_passes_through_and_a_failing_executor_is_named() -> None:
    with cf.ThreadPoolExecutor(2) as executor, pytest.raises(SimulationError, match="replication -1 failed"):
        run_tasks(_square, [1, -1], lambda t: t, executor)

    class Broken(cf.Executor):
        def submit(self, fn, /, *args, **kwargs):  # type: ignore[no-untyped-def, override]
            raise OSError("no more processes")

    # (An executor that is no process pool, as dask's: the error must not hide behind a
    # missing ``concurrent.futures.process`` module, which only a process pool imports.)
    with pytest.raises(ExecutorError, match="the executor failed: no more processes"):
        run_tasks(_square, [1], lambda t: t, Broken())


def test_against_baseline_compares_each_shared_output_pair_by_pair() -> None:
    comparisons = against_baseline(
        [
            ("baseline", {"oee": [0.5, 0.6, 0.7], "only-here": [1.0, 2.0, 3.0]}),
            ("faster", {"oee": [0.6, 0.7, 0.8], "new": [1.0, 1.0, 1.0]}),
        ]
    )
    assert set(comparisons) == {"faster"} and set(comparisons["faster"]) == {"oee"}
    assert comparisons["faster"]["oee"].diff == pytest.approx(0.1) and comparisons["faster"]["oee"].n == 3
    assert against_baseline([("baseline", {"oee": [1.0, 2.0]})]) == {} and against_baseline([]) == {}


def test_json_number_drops_what_json_cannot_hold() -> None:
    values = (1.5, float("nan"), float("inf"), -float("inf"), None)
    assert [json_number(x) for x in values] == [1.5, None, None, None, None]
