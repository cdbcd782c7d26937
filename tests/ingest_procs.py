"""Start `twin ingest` as a real process for tests, and wait until it is connected."""

from __future__ import annotations

import sys
import urllib.request
from pathlib import Path

from tests.fixtures.servers import free_port
from tests.procs import TwinChild, health


class IngestProc(TwinChild):
    stop_timeout_s = 60.0

    def __init__(self, broker_url: str, historian_url: str, workdir: Path, *extra: str,
                 client_id: str = "it-ingest", config: str = "tiny"):
        self.workdir = workdir
        port = free_port()
        super().__init__(
            [
                sys.executable, "-m", "twin", "ingest", "--broker", broker_url, "--historian", historian_url,
                "--config", config, "--spool-dir", str(workdir / "spool"), "--client-id", client_id,
                "--log-level", "info", *extra, "--http-port", str(port),
            ],
            workdir / f"{client_id}.log",
            "ingest",
            port,
        )

    def start(self, wait: bool = True) -> IngestProc:
        self.spawn()
        if wait:
            self.wait_connected()
        return self

    def health(self) -> tuple[int, dict]:
        return health(self.http_port)

    def metrics(self) -> str:
        with urllib.request.urlopen(f"http://127.0.0.1:{self.http_port}/metrics", timeout=2) as r:
            return r.read().decode()
