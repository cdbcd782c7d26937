"""``twin sensors``: the simulated sensor fleet, publishing every sensor of a config to MQTT."""

from __future__ import annotations

import logging
import math
import signal
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from types import FrameType
from typing import TYPE_CHECKING

import click

from sensors.fleet import FleetSchedule, SimClock
from sensors.publisher import DEFAULT_MAX_PENDING, TelemetryPublisher
from sensors.record import ReadingRecorder
from sensors.runner import FleetRunner, RunResult
from sensors.signals import SignalSource, SyntheticSource
from twin.cli_options import broker_option, config_option, log_level_option, setup_logging
from twin.codec import Limits
from twin.config import load_complex
from twin.errors import ConfigError, UrlError
from twin.mqtt import BrokerUnavailable
from twin.timespec import now_ms, parse_time_ms
from twin.urls import parse_broker_url

if TYPE_CHECKING:
    from sensors.model_source import ModelSource
    from twin.model import Complex

__all__ = ["sensors"]

log = logging.getLogger(__name__)

#: When --speed > 1 and no --start: how far in the past the simulated clock starts.
DEFAULT_LOOKBACK_MS = 24 * 3_600_000
#: Oldest --start accepted: the ingest rejects readings older than this (twin.codec.Limits).
MAX_LOOKBACK_MS = int(Limits().max_past_s * 1000)


def _iso(ms: int) -> str:
    return (
        datetime.fromtimestamp(ms / 1000, UTC).isoformat(timespec="seconds").replace("+00:00", "Z")
    )


def _positive_finite(
    ctx: click.Context, param: click.Parameter, value: float | None
) -> float | None:
    if value is not None and not (math.isfinite(value) and value > 0):
        raise click.BadParameter(f"must be a positive number, got {value}")
    return value


def _model_source(
    complex_: Complex,
    config: str,
    sim0: int,
    seed: int,
    scenario: str | None,
    variant: str | None,
) -> ModelSource:
    from sensors.model_fleet import build_model_source
    from simulations.errors import SimulationError

    try:
        return build_model_source(complex_, config, sim0, seed, scenario, variant)
    except (ConfigError, SimulationError, ValueError) as exc:
        hint = "--variant" if str(exc).startswith("no scenario") else "--scenario"
        raise click.BadParameter(str(exc), param_hint=hint) from None


@contextmanager
def _stop_on_signals(stop: threading.Event) -> Iterator[None]:
    """SIGINT (Ctrl-C) and SIGTERM set ``stop`` so the run ends cleanly and flushes.

    A second signal aborts at once (for a broker that never acknowledges).
    """

    def handler(signum: int, frame: FrameType | None) -> None:
        if stop.is_set():  # asked twice: do not wait for the broker any longer
            raise KeyboardInterrupt
        log.info("received %s; stopping after flushing", signal.Signals(signum).name)
        stop.set()

    if threading.current_thread() is not threading.main_thread():
        yield
        return
    old = {s: signal.signal(s, handler) for s in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield
    finally:
        for s, h in old.items():
            signal.signal(s, h)


class _Progress:
    """A tqdm bar of published messages, only when stderr is a terminal."""

    def __init__(self, enabled: bool):
        self._bar = None
        self._seen = 0
        if enabled:
            from tqdm import tqdm

            self._bar = tqdm(unit="msg", file=sys.stderr, dynamic_ncols=True, desc="sensors")

    def __call__(self, r: RunResult) -> None:
        if self._bar is None:
            return
        self._bar.update(r.messages - self._seen)
        self._seen = r.messages
        self._bar.set_postfix_str(f"sim {_iso(r.sim_now_ms)}, {r.readings} readings", refresh=False)

    def close(self) -> None:
        if self._bar is not None:
            self._bar.close()


@click.command("sensors")
@broker_option
@config_option
@click.option(
    "--speed",
    type=float,
    default=1.0,
    show_default=True,
    metavar="X",
    callback=_positive_finite,
    help="Run the simulated clock X times faster than real time. Readings are never stamped in "
    "the future: with X > 1 the clock starts in the past (--start, default 24 h ago) and, once "
    "it has caught up with the wall clock, continues at real time.",
)
@click.option(
    "--duration",
    type=float,
    default=None,
    metavar="S",
    callback=_positive_finite,
    help="Stop after S wall-clock seconds (after every in-flight message is acknowledged) and "
    "exit 0. Default: run until Ctrl-C or SIGTERM, which also flush.",
)
@click.option(
    "--seed",
    type=int,
    default=0,
    show_default=True,
    help="Random seed: the same seed, config and start give the same readings.",
)
@click.option(
    "--start",
    default=None,
    metavar="T",
    help="Simulated start time: now, -6h, epoch ms or RFC 3339 with offset; not in the future, "
    "at most 30 days back. Default: now, or 24 h ago when --speed > 1.",
)
@click.option(
    "--record",
    type=click.Path(dir_okay=False, writable=True),
    default=None,
    metavar="FILE",
    help="Also write every reading the broker acknowledged to FILE as JSON lines "
    '({"sensor", "ts", "value"}).',
)
@click.option(
    "--max-pending",
    type=click.IntRange(1, 60_000),
    default=DEFAULT_MAX_PENDING,
    show_default=True,
    help="Unacknowledged messages allowed before the fleet waits.",
)
@click.option(
    "--connect-timeout",
    type=float,
    default=30.0,
    show_default=True,
    metavar="S",
    callback=_positive_finite,
    help="Give up if the broker does not accept a connection "
    "within S seconds at start (later outages are retried forever).",
)
@click.option(
    "--source",
    "source_kind",
    type=click.Choice(["synthetic", "model"]),
    default="synthetic",
    show_default=True,
    help="synthetic: stochastic signals; model: the SimPy model of the complex drives machines, "
    "counters, trucks and docks, and disasters can be injected (twin inject). See docs/sensors.md.",
)
@click.option(
    "--scenario",
    default=None,
    metavar="SCENARIO.yaml",
    help="With --source model: modelling settings and disaster schedule from a scenario file "
    "or a shipped name (e.g. flood-zone-b).",
)
@click.option(
    "--variant",
    default=None,
    metavar="NAME",
    help="With --scenario: which scenario of the file to run [default: its baseline].",
)
@click.option(
    "--kpis",
    "kpis_out",
    type=click.Path(dir_okay=False, writable=True),
    default=None,
    metavar="FILE",
    help="With --source model: at exit, write the model's own KPIs over the published run "
    "(docs/kpis.md) as JSON, to compare with the live twin's.",
)
@log_level_option
def sensors(
    broker: str,
    config: str,
    speed: float,
    duration: float | None,
    seed: int,
    start: str | None,
    record: str | None,
    max_pending: int,
    connect_timeout: float,
    source_kind: str,
    scenario: str | None,
    variant: str | None,
    kpis_out: str | None,
    log_level: str,
) -> None:
    """Simulated sensor fleet: publish every sensor of the complex at its sample period.

    \b
    One MQTT message (QoS 1) per device and tick on twin/v1/{owner}/{device}/telemetry,
    with plausible signals: shifts, machine states driving power, vibration and
    temperature, counters, quiet hazard backgrounds, trucks on the roads.
    See docs/sensors.md.
    """
    setup_logging(log_level)
    try:
        url = parse_broker_url(broker)
    except UrlError as exc:
        raise click.BadParameter(str(exc), param_hint="--broker") from None
    try:
        complex_ = load_complex(config)
    except ConfigError as exc:
        raise click.BadParameter(str(exc), param_hint="--config") from None

    wall0 = now_ms()
    if start is None:
        sim0 = wall0 - DEFAULT_LOOKBACK_MS if speed > 1 else wall0
    else:
        try:
            sim0 = parse_time_ms(start, wall0)
        except ValueError as exc:
            raise click.BadParameter(str(exc), param_hint="--start") from None
        if sim0 > wall0:
            raise click.BadParameter(
                "must not be in the future (the ingest rejects future readings)",
                param_hint="--start",
            )
        if sim0 < wall0 - MAX_LOOKBACK_MS:
            raise click.BadParameter(
                "must be at most 30 days back (the ingest rejects older readings)",
                param_hint="--start",
            )
    model_source = None
    if kpis_out is not None and source_kind != "model":
        raise click.BadParameter("needs --source model", param_hint="--kpis")
    if source_kind == "model":
        model_source = _model_source(complex_, config, sim0, seed, scenario, variant)
        source: SignalSource = model_source
    else:
        if scenario is not None or variant is not None:
            raise click.BadParameter("needs --source model", param_hint="--scenario/--variant")
        try:
            source = SyntheticSource(complex_, seed=seed)
        except ValueError as exc:  # e.g. an unknown site.timezone
            raise click.BadParameter(str(exc), param_hint="--config") from None
    schedule = FleetSchedule(complex_, sim0, seed=seed)
    clock = SimClock(sim0, wall0, speed)

    try:
        recorder = ReadingRecorder(record) if record else None
    except OSError as exc:
        raise click.BadParameter(
            f"cannot write {record}: {exc.strerror or exc}", param_hint="--record"
        ) from None
    publisher = TelemetryPublisher(
        url, max_pending=max_pending, on_acked=recorder.write if recorder else None
    )
    progress = _Progress(sys.stderr.isatty())
    log.info(
        "fleet of %s sensors on %s devices -> %s; speed %sx from %s; seed %s",
        len(complex_.sensors),
        len(complex_.devices),
        url,
        speed,
        _iso(sim0),
        seed,
    )
    stop = threading.Event()
    t0 = time.monotonic()
    listener = None
    try:
        try:
            publisher.start(connect_timeout)
            if model_source is not None:
                from sensors.model_fleet import start_injection

                listener = start_injection(model_source, url, complex_, connect_timeout)
        except BrokerUnavailable as exc:
            raise click.ClickException(str(exc)) from None
        runner = FleetRunner(schedule, source, publisher, clock, on_progress=progress)
        with _stop_on_signals(stop):
            result = runner.run(stop, duration)
    finally:
        progress.close()
        if listener is not None:
            listener.close()
        publisher.close()
        if recorder is not None:
            recorder.close()
    st = publisher.stats
    elapsed = max(time.monotonic() - t0, 1e-9)
    log.info(
        "published %s messages (%s readings), %s acknowledged (%s readings) in %.1f s "
        "(%.0f msg/s, %.0f readings/s); simulated %s -> %s; stopped by %s",
        st.offered_messages,
        st.offered_readings,
        st.acked_messages,
        st.acked_readings,
        elapsed,
        st.acked_messages / elapsed,
        st.acked_readings / elapsed,
        _iso(result.sim_start_ms),
        _iso(result.sim_now_ms),
        result.stopped_by,
    )
    if model_source is not None and kpis_out is not None:
        from sensors.model_fleet import write_kpis

        write_kpis(model_source, kpis_out)
    if not result.flushed:
        raise click.ClickException(
            f"{st.pending_messages} message(s) were not acknowledged by the broker before exit"
        )
