"""Replications on a real dask.distributed cluster (a small local one, worker processes)."""

from __future__ import annotations

import json
import socket

import pytest
from click.testing import CliRunner
from distributed import Client, LocalCluster

from simulations.cli import simulate
from simulations.errors import ExecutorError
from simulations.experiment import make_executor

SCENARIO = """
name: dask check
config: tiny
run: {days: 1, warmup_h: 2, replications: 3, seed: 9}
scenarios:
  - name: faster-repairs
    changes:
      - {target: complex.machines.mttr_h, scale: 0.5}
"""


@pytest.fixture(scope="module")
def cluster():
    with LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None) as c:
        yield c


def _without_meta(path):
    data = json.loads(path.read_text())
    data.pop("meta")
    return data


def test_cli_runs_replications_on_a_dask_cluster_with_identical_results(cluster, tmp_path):
    sc = tmp_path / "s.yaml"
    sc.write_text(SCENARIO)
    runner = CliRunner()
    on_dask = runner.invoke(
        simulate,
        [
            str(sc),
            "--scheduler",
            cluster.scheduler_address,
            "--json",
            str(tmp_path / "dask.json"),
            "--no-progress",
        ],
    )
    assert on_dask.exit_code == 0, on_dask.output
    local = runner.invoke(simulate, [str(sc), "--json", str(tmp_path / "local.json"), "--no-progress"])
    assert local.exit_code == 0, local.output
    assert _without_meta(tmp_path / "dask.json") == _without_meta(tmp_path / "local.json")
    meta = json.loads((tmp_path / "dask.json").read_text())["meta"]
    assert meta["executor"] == cluster.scheduler_address
    # The replications really ran as tasks of the cluster, not in this process.
    with Client(cluster.scheduler_address) as client:
        prefixes = client.run_on_scheduler(lambda dask_scheduler: list(dask_scheduler.task_prefixes))
    assert any("run_replication" in p for p in prefixes), prefixes


def test_unreachable_scheduler_is_a_clear_error():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]  # closed again when the block ends: nothing listens
    with (
        pytest.raises(ExecutorError, match="cannot connect to the dask scheduler"),
        make_executor(scheduler=f"tcp://127.0.0.1:{port}", connect_timeout_s=1),
    ):
        pass
