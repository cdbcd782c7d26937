"""Real peers for the plant-connection tests, installed on first use into a cache directory.

- Eclipse Tahu's JavaScript Sparkplug client (npm ``sparkplug-client``), run with Node.js;
- pysparkplug (PyPI), in its own directory because it pins paho-mqtt < 2;
- helpers to run ``twin sparkplug`` / ``twin bridge`` as processes and to read MQTT.

CI installs nothing by hand, so these install what is missing with npm and pip; the
cache (``$TWIN_TEST_CACHE``, default ``~/.cache/sandan-twin-tests``) makes later runs fast.
"""

from __future__ import annotations

import fcntl
import json
import os
import shutil
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest

from tests.fixtures.servers import free_port
from tests.procs import TwinChild, health
from twin.mqtt import connect, make_client, unique_client_id, wait_connected
from twin.urls import parse_broker_url

TAHU_VERSION = "3.2.4"
PYSPARKPLUG_VERSION = "0.6.1"
PEERS = Path(__file__).parent / "peers"


def cache_dir() -> Path:
    d = Path(os.environ.get("TWIN_TEST_CACHE") or Path.home() / ".cache" / "sandan-twin-tests")
    d.mkdir(parents=True, exist_ok=True)
    return d


@contextmanager
def _locked(name: str):
    """One installer at a time (parallel test runs share the cache)."""
    with (cache_dir() / f"{name}.lock").open("w") as f:
        fcntl.flock(f, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(f, fcntl.LOCK_UN)


def tahu_node_modules() -> Path:
    """node_modules holding sparkplug-client (installed with npm when missing)."""
    prefix = cache_dir() / f"tahu-js-{TAHU_VERSION}"
    marker = prefix / "node_modules" / "sparkplug-client" / "package.json"
    with _locked("tahu-js"):
        if not marker.exists():
            npm = shutil.which("npm")
            if npm is None or shutil.which("node") is None:
                pytest.fail(
                    "Node.js and npm are needed for the Eclipse Tahu edge node test: apt-get install -y nodejs npm"
                )
            proc = subprocess.run(
                [
                    npm,
                    "install",
                    "--prefix",
                    str(prefix),
                    "--no-audit",
                    "--no-fund",
                    "--loglevel=error",
                    f"sparkplug-client@{TAHU_VERSION}",
                ],
                capture_output=True,
                text=True,
                timeout=600,
            )
            if proc.returncode != 0 or not marker.exists():
                pytest.fail(f"npm install sparkplug-client@{TAHU_VERSION} failed:\n{proc.stderr[-3000:]}")
    return prefix / "node_modules"


def pysparkplug_path() -> Path:
    """A directory with pysparkplug and its own paho-mqtt 1.x, for PYTHONPATH."""
    target = cache_dir() / f"pysparkplug-{PYSPARKPLUG_VERSION}"
    marker = target / "pysparkplug" / "__init__.py"
    with _locked("pysparkplug"):
        if not marker.exists():
            proc = subprocess.run(
                [
                    sys.executable,
                    "-m",
                    "pip",
                    "install",
                    "--quiet",
                    "--disable-pip-version-check",
                    "--target",
                    str(target),
                    f"pysparkplug=={PYSPARKPLUG_VERSION}",
                ],
                capture_output=True,
                text=True,
                timeout=600,
            )
            if proc.returncode != 0 or not marker.exists():
                pytest.fail(f"pip install pysparkplug=={PYSPARKPLUG_VERSION} failed:\n{proc.stderr[-3000:]}")
    return target


class Peer:
    """A peer process that prints one JSON event per line on stdout."""

    def __init__(self, cmd: list[str], env: dict[str, str] | None = None, log: Path | None = None):
        self.events: list[dict[str, Any]] = []
        self._cond = threading.Condition()
        self._eof = False
        self._stderr = (log or Path(os.devnull)).open("ab")
        self.proc = subprocess.Popen(
            cmd, stdout=subprocess.PIPE, stderr=self._stderr, env={**os.environ, **(env or {})}
        )
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            try:
                event = json.loads(line)
            except ValueError:
                continue
            with self._cond:
                self.events.append(event)
                self._cond.notify_all()
        with self._cond:
            self._eof = True
            self._cond.notify_all()

    def wait_for(self, event: str, count: int = 1, timeout: float = 60) -> list[dict[str, Any]]:
        deadline = time.monotonic() + timeout
        with self._cond:
            while sum(e["event"] == event for e in self.events) < count:
                left = deadline - time.monotonic()
                if left <= 0:
                    raise AssertionError(f"peer sent no {event!r} x{count} in {timeout} s: {self.events[-5:]}")
                if self._eof:
                    raise AssertionError(f"peer exited {self.proc.poll()} before {event!r}: {self.events[-5:]}")
                self._cond.wait(min(left, 0.5))
            return [e for e in self.events if e["event"] == event]

    def since(self, event: str) -> list[dict[str, Any]]:
        """Events after the last ``event``."""
        with self._cond:
            idx = max((i for i, e in enumerate(self.events) if e["event"] == event), default=-1)
            return self.events[idx + 1 :]

    def kill(self) -> None:
        self.proc.kill()
        self.proc.wait(10)
        self._stderr.close()

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)
        self._stderr.close()


class TwinProc(TwinChild):
    """``twin <args>`` as a process with /health, waiting until it is connected."""

    def __init__(self, args: list[str], workdir: Path, name: str, health: bool = True):
        port = free_port() if health else None
        extra = ["--http-port", str(port)] if health else []
        cmd = [sys.executable, "-m", "twin", *args, *extra]
        super().__init__(cmd, workdir / f"{name}.log", " ".join(args[:2]), port)

    def start(self, wait: bool = True) -> TwinProc:
        self.spawn()
        if wait and self.http_port is not None:
            self.wait_connected()
        return self

    def health(self) -> dict[str, Any]:
        return health(self.http_port)[1]


class Watcher:
    """Collects every message on some topics (retained ones included)."""

    def __init__(self, broker_url: str, *topics: str):
        self.messages: list[tuple[str, bytes, bool]] = []
        self._cond = threading.Condition()
        url = parse_broker_url(broker_url)
        self.client = make_client(url, unique_client_id("test-watch"))
        self.client.on_connect = lambda c, *a: [c.subscribe(t, qos=1) for t in topics]
        self.client.on_message = self._on_message
        connect(self.client, url)
        self.client.loop_start()
        wait_connected(self.client, 10)
        time.sleep(0.3)  # the subscription follows the connection

    def _on_message(self, client: object, userdata: object, msg: Any) -> None:
        with self._cond:
            self.messages.append((msg.topic, bytes(msg.payload), bool(msg.retain)))
            self._cond.notify_all()

    def wait(self, predicate: Callable[[str, bytes], bool], timeout: float = 30) -> tuple[str, bytes]:
        deadline = time.monotonic() + timeout
        with self._cond:
            while True:
                for topic, payload, _ in self.messages:
                    if predicate(topic, payload):
                        return topic, payload
                left = deadline - time.monotonic()
                if left <= 0:
                    last = [m[:2] for m in self.messages[-5:]]
                    raise AssertionError(f"no matching message in {timeout} s; last: {last}")
                self._cond.wait(min(left, 0.5))

    def close(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()


def wait_until(check: Callable[[], Any], timeout: float, what: str) -> Any:
    """Poll ``check`` until it returns something true; fail naming ``what``."""
    deadline = time.monotonic() + timeout
    while True:
        got = check()
        if got:
            return got
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout} s waiting for {what}")
        time.sleep(0.2)


class _LoopThread:
    """An asyncio loop on a daemon thread, for servers driven from a synchronous test."""

    def __init__(self) -> None:
        import asyncio

        self.loop = asyncio.new_event_loop()
        threading.Thread(target=self.loop.run_forever, daemon=True).start()

    def call(self, coro: Any, timeout: float = 30) -> Any:
        import asyncio

        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(timeout)

    def close(self) -> None:
        import asyncio

        async def cancel_all() -> None:
            tasks = [t for t in asyncio.all_tasks() if t is not asyncio.current_task()]
            for t in tasks:
                t.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)

        self.call(cancel_all())
        self.loop.call_soon_threadsafe(self.loop.stop)


class OpcUaServer:
    """An asyncua server with one variable per name, values written with source timestamps."""

    NAMESPACE = "urn:twin:test:plant"

    def __init__(self, port: int, variables: dict[str, tuple[str, Any]]):
        self.port = port
        self.variables = variables  # name -> (VariantType name, initial value)
        self.endpoint = f"opc.tcp://127.0.0.1:{port}/twin/"
        self._rt = _LoopThread()
        self.server: Any = None
        self.nodes: dict[str, Any] = {}

    def start(self, initial: dict[str, tuple[Any, int]] | None = None) -> OpcUaServer:
        """Start; ``initial`` gives (value, source ts ms) per variable to hold before anyone subscribes."""
        self._rt.call(self._start(initial or {}))
        return self

    async def _start(self, initial: dict[str, tuple[Any, int]]) -> None:
        from asyncua import Server, ua

        server = Server()
        await server.init()
        server.set_endpoint(self.endpoint)
        idx = await server.register_namespace(self.NAMESPACE)
        for name, (vtype, value) in self.variables.items():
            var = await server.nodes.objects.add_variable(
                ua.NodeId(name, idx), name, ua.Variant(value, getattr(ua.VariantType, vtype))
            )
            self.nodes[name] = var
        await server.start()
        self.server = server
        for name, (value, ts) in initial.items():
            await self._write(name, value, ts)

    async def _write(self, name: str, value: Any, ts_ms: int) -> None:
        from datetime import UTC, datetime

        from asyncua import ua

        dt = datetime.fromtimestamp(ts_ms / 1000, UTC)
        vtype = getattr(ua.VariantType, self.variables[name][0])
        dv = ua.DataValue(ua.Variant(value, vtype), SourceTimestamp=dt, ServerTimestamp=dt)
        await self.server.write_attribute_value(self.nodes[name].nodeid, dv)

    def write(self, name: str, value: Any, ts_ms: int) -> None:
        self._rt.call(self._write(name, value, ts_ms))

    def monitored_items(self) -> int:
        """Monitored items of every subscription on the server (a client is subscribed when > 0)."""
        subs = self.server.iserver.subscription_service.subscriptions.values()
        return sum(len(s.monitored_item_srv._monitored_items) for s in subs)

    def stop(self) -> None:
        if self.server is not None:
            self._rt.call(self.server.stop())
            self.server = None

    def close(self) -> None:
        self.stop()
        self._rt.close()


class ModbusServer:
    """A pymodbus TCP server, unit 1, with separate coil, discrete, holding and input tables."""

    FUNCTION = {"coil": 1, "discrete": 2, "holding": 3, "input": 4}

    def __init__(self, port: int, size: int = 64):
        self.port = port
        self.size = size
        self._rt = _LoopThread()
        self.server: Any = None
        self._task: Any = None

    def start(self) -> ModbusServer:
        self._rt.call(self._start())
        return self

    async def _start(self) -> None:
        import asyncio

        from pymodbus.server import ModbusTcpServer
        from pymodbus.simulator import DataType, SimData, SimDevice

        bits = [SimData(0, count=self.size, values=False, datatype=DataType.BITS)]
        regs = [SimData(0, count=self.size, values=0, datatype=DataType.REGISTERS)]
        device = SimDevice(id=1, simdata=(bits, list(bits), regs, list(regs)))
        self.server = ModbusTcpServer(device, address=("127.0.0.1", self.port))
        self._task = asyncio.get_running_loop().create_task(self.server.serve_forever())
        for _ in range(100):
            if self.server.is_active():
                return
            await asyncio.sleep(0.05)

    def set(self, table: str, address: int, values: list[int] | list[bool]) -> None:
        self._rt.call(self.server.async_setValues(1, self.FUNCTION[table], address, values))

    def stop(self) -> None:
        if self.server is not None:
            self._rt.call(self.server.shutdown())
            self.server = None

    def close(self) -> None:
        self.stop()
        self._rt.close()
