"""Start `twin ingest` as a real process for tests, and wait until it is connected."""

from __future__ import annotations

import json
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

from tests.fixtures.servers import free_port


class IngestProc:
    def __init__(self, broker_url: str, historian_url: str, workdir: Path, *extra: str,
                 client_id: str = "it-ingest", config: str = "tiny"):
        self.args = [
            sys.executable, "-m", "twin", "ingest", "--broker", broker_url, "--historian", historian_url,
            "--config", config, "--spool-dir", str(workdir / "spool"), "--client-id", client_id,
            "--log-level", "info", *extra,
        ]
        self.workdir = workdir
        self.log_path = workdir / f"{client_id}.log"
        self.http_port = free_port()
        self.proc: subprocess.Popen | None = None

    def start(self, wait: bool = True) -> IngestProc:
        log = self.log_path.open("ab")
        self.proc = subprocess.Popen([*self.args, "--http-port", str(self.http_port)], stdout=log, stderr=log)
        if wait:
            self.wait_connected()
        return self

    def health(self) -> tuple[int, dict]:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{self.http_port}/health", timeout=2) as r:
                return r.status, json.loads(r.read())
        except urllib.error.HTTPError as e:
            return e.code, json.loads(e.read())

    def metrics(self) -> str:
        with urllib.request.urlopen(f"http://127.0.0.1:{self.http_port}/metrics", timeout=2) as r:
            return r.read().decode()

    def wait_connected(self, timeout: float = 30) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            assert self.proc is not None
            if self.proc.poll() is not None:
                raise RuntimeError(f"ingest exited {self.proc.returncode}:\n{self.log()}")
            try:
                code, body = self.health()
                if body.get("broker_down_s") == 0:
                    time.sleep(0.5)  # the subscription follows the connection
                    return
            except OSError:
                pass
            time.sleep(0.1)
        raise TimeoutError(f"ingest did not connect:\n{self.log()}")

    def kill(self) -> None:
        assert self.proc is not None
        self.proc.kill()
        self.proc.wait(10)

    def stop(self) -> int:
        assert self.proc is not None
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(60)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)
        return self.proc.returncode

    def log(self) -> str:
        try:
            return self.log_path.read_text(errors="replace")[-5000:]
        except OSError:
            return ""
