"""`python -m twin ...` as a real child process for tests: its log file, stop and kill, and a
wait until its ``/health`` says the broker is connected.

Shared by the helpers that start `twin ingest` (tests/ingest_procs.py), `twin live`
(tests/live_procs.py) and the plant connectors (tests/plant_peers.py).
"""

from __future__ import annotations

import json
import subprocess
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any


def health(port: int | None) -> tuple[int, dict[str, Any]]:
    """Status and JSON body of ``GET /health`` on ``port`` (an error status has a body too)."""
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/health", timeout=2) as r:
            return r.status, json.loads(r.read())
    except urllib.error.HTTPError as e:
        return e.code, json.loads(e.read())


class TwinChild:
    """A child process writing to ``log_path``; subclasses build ``cmd`` and may have a
    health port (``http_port``)."""

    #: How long ``stop`` waits after SIGTERM before it kills.
    stop_timeout_s = 30.0

    def __init__(self, cmd: list[str], log_path: Path, name: str, http_port: int | None = None):
        self.cmd = cmd
        self.log_path = log_path
        self.name = name
        self.http_port = http_port
        self.proc: subprocess.Popen | None = None

    def spawn(self) -> None:
        log = self.log_path.open("ab")
        self.proc = subprocess.Popen(self.cmd, stdout=log, stderr=log)

    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def wait_connected(self, timeout: float = 30) -> None:
        """Until ``/health`` reports the broker connected (``broker_down_s == 0``), then half a
        second more for the subscription that follows the connection."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            assert self.proc is not None
            if self.proc.poll() is not None:
                raise RuntimeError(f"{self.name} exited {self.proc.returncode}:\n{self.log()}")
            try:
                if health(self.http_port)[1].get("broker_down_s") == 0:
                    time.sleep(0.5)
                    return
            except OSError:
                pass
            time.sleep(0.1)
        raise TimeoutError(f"{self.name} did not connect:\n{self.log()}")

    def kill(self) -> None:
        assert self.proc is not None
        self.proc.kill()
        self.proc.wait(10)

    def stop(self) -> int:
        assert self.proc is not None
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(self.stop_timeout_s)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)
        return self.proc.returncode

    def log(self) -> str:
        """The end of the process's log (for failure messages)."""
        try:
            return self.log_path.read_text(errors="replace")[-6000:]
        except OSError:
            return ""
