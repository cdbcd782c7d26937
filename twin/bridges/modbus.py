"""Modbus TCP bridge: poll mapped registers and coils at their periods -> readings -> outbox.

Modbus has no timestamps: a reading carries the time its request was answered. Points
are read in as few requests as the map allows (:func:`~twin.bridges.modbus_codec.plan_reads`);
each block is read on its own period. A device that stops answering is reconnected with
exponential back-off; an exception response (say, an illegal address) costs only that
block, logged once per block until it reads again.
"""

from __future__ import annotations

import inspect
import logging
import threading
import time
from collections.abc import Callable
from typing import Any

from twin.bridges.backoff import Backoff
from twin.bridges.maps import ModbusMap
from twin.bridges.modbus_codec import ReadBlock, plan_reads, point_value, resolve_points
from twin.codec import Reading

__all__ = ["ModbusBridge"]

log = logging.getLogger(__name__)

#: Request timeout towards the device (seconds).
REQUEST_TIMEOUT_S = 3.0


class ModbusBridge:
    """Polls one Modbus TCP device; ``run(stop)`` blocks until ``stop`` is set."""

    def __init__(
        self,
        host: str,
        port: int,
        mapping: ModbusMap,
        emit: Callable[[list[Reading]], None],
        backoff: Backoff | None = None,
        clock_ms: Callable[[], int] = lambda: time.time_ns() // 1_000_000,
    ):
        self.host, self.port = host, port
        self.blocks = plan_reads(resolve_points(mapping), mapping.max_gap)
        self.emit = emit
        self.backoff = backoff or Backoff()
        self.clock_ms = clock_ms
        self.polls = 0  # blocks read successfully
        self.connected = threading.Event()
        self._failing: set[int] = set()  # blocks whose last read failed (log once)

    def run(self, stop: threading.Event) -> None:
        from pymodbus.client import ModbusTcpClient

        # no retries inside pymodbus: the bridge's own back-off decides when to try again
        client = ModbusTcpClient(self.host, port=self.port, timeout=REQUEST_TIMEOUT_S, retries=0)
        unit_kw = _unit_keyword(client)
        log.info("polling %s:%d: %d request(s) per cycle", self.host, self.port, len(self.blocks))
        due = [0.0] * len(self.blocks)
        try:
            while not stop.is_set():
                if not client.connected and not client.connect():
                    self.connected.clear()
                    delay = self.backoff.next()
                    log.warning("Modbus %s:%d does not answer; retrying in %.1f s", self.host, self.port, delay)
                    stop.wait(delay)
                    continue
                if not self.connected.is_set():
                    log.info("connected to Modbus %s:%d", self.host, self.port)
                    self.connected.set()
                    self.backoff.reset()
                now = time.monotonic()
                i = min(range(len(self.blocks)), key=due.__getitem__)
                if due[i] > now:
                    stop.wait(due[i] - now)
                    continue
                block = self.blocks[i]
                due[i] = max(due[i] + block.period_s, now)  # keep the cadence; never a burst of catch-up reads
                if not self._poll(client, unit_kw, i, block):
                    client.close()
        finally:
            client.close()

    def _poll(self, client: Any, unit_kw: str, i: int, block: ReadBlock) -> bool:
        """Read one block; False if the connection must be rebuilt."""
        from pymodbus.exceptions import ConnectionException, ModbusIOException

        read = {
            "holding": client.read_holding_registers,
            "input": client.read_input_registers,
            "coil": client.read_coils,
            "discrete": client.read_discrete_inputs,
        }[block.table]
        try:
            rr = read(block.start, count=block.count, **{unit_kw: block.unit})
        except (ConnectionException, ModbusIOException, OSError) as exc:
            log.warning("Modbus %s:%d: %s", self.host, self.port, str(exc)[:200])
            self.connected.clear()
            return False
        ts = self.clock_ms()
        if rr.isError():
            if i not in self._failing:
                log.error(
                    "Modbus %s:%d refused %s %d..%d (unit %d): %s",
                    self.host,
                    self.port,
                    block.table,
                    block.start,
                    block.start + block.count - 1,
                    block.unit,
                    rr,
                )
                self._failing.add(i)
            return True
        if i in self._failing:
            log.info("Modbus %s %d..%d reads again", block.table, block.start, block.start + block.count - 1)
            self._failing.discard(i)
        data = rr.bits if block.table in ("coil", "discrete") else rr.registers
        out = []
        for p in block.points:
            value = point_value(p, block, data)
            if value is None:
                log.warning("Modbus %s %d (%s): not a finite number; not sent", p.table, p.address, p.sensor)
                continue
            out.append(Reading(p.sensor, ts, value))
        self.polls += 1
        self.emit(out)
        return True


def _unit_keyword(client: Any) -> str:
    """pymodbus renamed ``slave=`` to ``device_id=`` (3.10); take whichever this version has."""
    params = inspect.signature(client.read_holding_registers).parameters
    return "device_id" if "device_id" in params else "slave"
