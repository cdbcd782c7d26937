"""``twin forecast``: the end of the shift, forecast from the live twin's retained state.

The MQTT adapter of the forecast: it reads the live twin's retained factory snapshots
(:mod:`twin.snapshot`, ``twin/v1/+/+/state``), builds the starting state
(:func:`simulations.live_state.state_from_snapshots`), runs
:func:`simulations.forecast.forecast` and prints a table; ``--json`` and ``--report``
write the full result.
"""

from __future__ import annotations

import json
import logging
import math
import os
import sys
import threading
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import click
import paho.mqtt.client as mqtt

from simulations.errors import ExecutorError, SimulationError
from simulations.experiment import make_executor
from simulations.forecast import HEADLINE, ForecastResult, WhatIf, parse_what_if
from simulations.forecast import forecast as run_forecast
from simulations.live_state import PRIOR_WARMUP_H, StateEstimate, state_from_snapshots
from simulations.settings import ModelSettings
from twin.cli_options import broker_option, config_option, log_level_option, setup_logging
from twin.config import load_complex
from twin.errors import ConfigError, TwinError, UrlError
from twin.model import Complex
from twin.mqtt import BrokerUnavailable, connect, make_client, unique_client_id, wait_connected
from twin.snapshot import (
    STATE_FILTER,
    FactorySnapshot,
    SnapshotError,
    decode_snapshot,
    parse_state_topic,
)
from twin.timespec import now_ms
from twin.urls import BrokerUrl, parse_broker_url

__all__ = ["forecast", "collect_snapshots", "format_table"]

log = logging.getLogger(__name__)

#: A live twin republishes snapshots every few seconds; older than this, it is probably down.
STALE_SNAPSHOT_S = 300.0
#: Factory rows printed in the table (the JSON has them all).
TABLE_FACTORIES = 40


def collect_snapshots(
    url: BrokerUrl, complex_: Complex, wait_s: float, connect_timeout: float = 10.0
) -> tuple[dict[str, FactorySnapshot], int]:
    """The retained factory snapshots of ``complex_`` (by factory id), and how many were
    refused (malformed, unknown factory, wrong tenant). Returns as soon as every factory
    has one, or after ``wait_s`` seconds."""
    got: dict[str, FactorySnapshot] = {}
    refused = [0]
    lock = threading.Lock()
    complete = threading.Event()
    tenants = complex_.factory_tenant

    def on_connect(client: mqtt.Client, userdata: Any, flags: Any, reason: Any, props: Any) -> None:
        if not getattr(reason, "is_failure", False):
            client.subscribe(STATE_FILTER, qos=1)

    def on_message(client: mqtt.Client, userdata: Any, msg: mqtt.MQTTMessage) -> None:
        try:
            where = parse_state_topic(msg.topic)
            if where is None or where[1] not in tenants:
                return  # the complex summary, or another site's factory
            snap = decode_snapshot(bytes(msg.payload))
            if (
                not isinstance(snap, FactorySnapshot)
                or snap.factory != where[1]
                or (tenants[snap.factory] != where[0])
            ):
                raise SnapshotError(f"topic {msg.topic} does not match its payload")
        except SnapshotError as exc:
            with lock:
                refused[0] += 1
            log.warning("ignoring snapshot on %s: %s", msg.topic, exc)
            return
        except Exception:  # never raise in a paho callback
            log.exception("cannot read the snapshot on %s", msg.topic)
            return
        with lock:
            old = got.get(snap.factory)
            if old is None or snap.ts_ms >= old.ts_ms:
                got[snap.factory] = snap
            if len(got) == len(tenants):
                complete.set()

    client = make_client(url, unique_client_id("twin-forecast"))
    client.on_connect = on_connect
    client.on_message = on_message
    connect(client, url)
    client.loop_start()
    try:
        wait_connected(client, connect_timeout)
        complete.wait(wait_s)
    finally:
        client.disconnect()
        client.loop_stop()
    with lock:
        return dict(got), refused[0]


def _iso_local(ms: int, tz: str) -> str:
    return (
        datetime.fromtimestamp(ms / 1000, UTC)
        .astimezone(ZoneInfo(tz))
        .isoformat(timespec="minutes")
    )


def _fmt(x: float, digits: int = 0) -> str:
    return "n/a" if x is None or not math.isfinite(x) else f"{x:.{digits}f}"


def format_table(result: ForecastResult, complex_: Complex) -> str:
    """Expected good units per factory and in total; what-ifs as paired differences."""
    names = [s.name for s in result.scenarios]
    rows: list[list[str]] = [["good units (95% CI)", *names]]
    keys = [HEADLINE] + [f"factory.{f}.good_units" for f in complex_.factories][:TABLE_FACTORIES]
    for k in keys:
        label = "complex" if k == HEADLINE else k.split(".")[1]
        cells = [label]
        for i, s in enumerate(result.scenarios):
            if i == 0:
                sm = s.summaries.get(k)
                if sm is None:
                    cells.append("")
                    continue
                hw = f" ± {_fmt(sm.half_width)}" if math.isfinite(sm.half_width) else ""
                cells.append(f"{_fmt(sm.mean)}{hw}")
            else:
                c = result.comparisons[s.name].get(k)
                if c is None:
                    cells.append("")
                    continue
                hw = f" ± {_fmt(c.half_width, 1)}" if math.isfinite(c.half_width) else ""
                star = " *" if c.significant else ""
                cells.append(f"{c.diff:+.1f}{hw}{star}")
        rows.append(cells)
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    lines = [
        "  ".join(
            c.ljust(w) if j == 0 else c.rjust(w)
            for j, (c, w) in enumerate(zip(r, widths, strict=True))
        )
        for r in rows
    ]
    lines.insert(1, "  ".join("-" * w for w in widths))
    if len(names) > 1:
        lines.append("what-if columns: difference from as-is (paired, 95% CI; * = significant)")
    return "\n".join(lines)


def _check_output(path: str | None, flag: str) -> None:
    if path is None:
        return
    p = Path(path)
    parent = p.parent if str(p.parent) else Path(".")
    if p.is_dir() or not parent.is_dir() or not os.access(parent, os.W_OK):
        raise click.BadParameter(f"{path}: cannot write there", param_hint=flag)


def _settings(
    scenario: str | None, variant: str | None, config: str
) -> tuple[Complex, ModelSettings]:
    if scenario is None:
        if variant is not None:
            raise click.BadParameter("needs --scenario", param_hint="--variant")
        try:
            return load_complex(config), ModelSettings()
        except ConfigError as exc:
            raise click.BadParameter(str(exc), param_hint="--config") from None
    from simulations.scenario import load_scenario_file

    try:
        plan = load_scenario_file(scenario, config)
    except ConfigError as exc:
        raise click.BadParameter(str(exc), param_hint="--scenario") from None
    chosen = plan.baseline
    if variant is not None:
        names = [s.name for s in plan.scenarios]
        if variant not in names:
            raise click.BadParameter(
                f"no scenario {variant!r}; known: {', '.join(names)}", param_hint="--variant"
            )
        chosen = plan.scenarios[names.index(variant)]
    return chosen.complex, chosen.settings


@click.command("forecast")
@broker_option
@config_option
@click.option(
    "--scenario",
    default=None,
    metavar="SCENARIO.yaml",
    help="Modelling settings from a scenario file or a shipped name (e.g. demo-baseline) "
    "[default: the model's default settings].",
)
@click.option(
    "--variant", default=None, metavar="NAME", help="With --scenario: which of its scenarios."
)
@click.option(
    "--horizon",
    type=click.FloatRange(min=0, min_open=True, max=24 * 14),
    default=None,
    metavar="HOURS",
    help="Hours ahead [default: to the end of the current shift].",
)
@click.option("--replications", type=click.IntRange(1, 10_000), default=10, show_default=True)
@click.option("--seed", type=click.IntRange(min=0), default=0, show_default=True)
@click.option(
    "--what-if",
    "what_ifs",
    multiple=True,
    metavar="SPEC",
    help="down:MACHINE:2h (machine stays down) or stop:FACTORY:1h; join with + for one variant; "
    "repeat for several variants.",
)
@click.option(
    "--wait",
    type=click.FloatRange(min=0, min_open=True, max=600),
    default=5.0,
    show_default=True,
    metavar="S",
    help="Seconds to wait for every factory's retained snapshot.",
)
@click.option(
    "--jobs", type=click.IntRange(1, 512), default=1, show_default=True, help="Worker processes."
)
@click.option(
    "--json", "json_out", default=None, metavar="OUT", help="Write the full result as JSON."
)
@click.option(
    "--report",
    "report_out",
    default=None,
    metavar="OUT.html",
    help="Write an HTML page with plotly charts.",
)
@click.option(
    "--progress/--no-progress", default=True, show_default=True, help="Progress bar on stderr."
)
@log_level_option
def forecast(
    broker: str,
    config: str,
    scenario: str | None,
    variant: str | None,
    horizon: float | None,
    replications: int,
    seed: int,
    what_ifs: tuple[str, ...],
    wait: float,
    jobs: int,
    json_out: str | None,
    report_out: str | None,
    progress: bool,
    log_level: str,
) -> None:
    """Forecast the complex's output to the end of the shift from the live twin's state.

    \b
    Reads the retained snapshots of 'twin live' (twin/v1/+/+/state), estimates what
    sensors cannot see (buffers, WIP) with the model, runs the SimPy model ahead with
    replications and prints expected good units with 95% CIs.
    Example:
      twin forecast --broker mqtt://localhost:1883 --what-if down:hanbit-f1-smt:2h --report f.html
    See docs/forecast.md.
    """
    setup_logging(log_level)
    try:
        url = parse_broker_url(broker)
    except UrlError as exc:
        raise click.BadParameter(str(exc), param_hint="--broker") from None
    _check_output(json_out, "--json")
    _check_output(report_out, "--report")
    complex_, settings = _settings(scenario, variant, config)
    variants: list[WhatIf] = []
    for text in what_ifs:
        try:
            variants.append(parse_what_if(text, complex_))
        except ValueError as exc:
            raise click.BadParameter(str(exc), param_hint="--what-if") from None
    if len({w.name for w in variants}) < len(variants):
        raise click.BadParameter("the same what-if is given twice", param_hint="--what-if")

    try:
        snapshots, refused = collect_snapshots(url, complex_, wait)
    except BrokerUnavailable as exc:
        raise click.ClickException(f"{url}: {exc}") from None
    if not snapshots:
        raise click.ClickException(
            f"no state snapshot of this complex on {STATE_FILTER} within {wait:g} s "
            "(is 'twin live' running on this broker, with the same --config?)"
        )
    if refused:
        log.warning("%s snapshot(s) ignored as malformed or not of this complex", refused)
    newest = max(s.ts_ms for s in snapshots.values())
    age_s = (now_ms() - newest) / 1000
    if age_s > STALE_SNAPSHOT_S:
        log.warning("the newest snapshot is %.0f s old: the live twin may be down", age_s)
    try:
        estimate = state_from_snapshots(complex_, snapshots, settings=settings, seed=seed)
    except SimulationError as exc:
        raise click.ClickException(f"cannot build the starting state: {exc}") from None
    from tqdm import tqdm

    total = replications * (1 + len(variants))
    t0 = time.perf_counter()
    try:
        with tqdm(
            total=total, desc="replications", unit="run", file=sys.stderr, disable=not progress
        ) as bar:
            with make_executor(jobs) as executor:
                result = run_forecast(
                    complex_,
                    estimate.state,
                    settings=settings,
                    horizon_s=horizon * 3600 if horizon is not None else None,
                    replications=replications,
                    seed=seed,
                    what_ifs=variants,
                    executor=executor,
                    progress=lambda done, n: bar.update(done - bar.n),
                )
    except (ExecutorError, SimulationError) as exc:
        raise click.ClickException(str(exc)) from None
    except TwinError as exc:
        raise click.ClickException(str(exc)) from None
    wall = time.perf_counter() - t0
    result.meta = _meta(estimate, complex_, broker=str(url), wall_s=wall, snapshots=len(snapshots))
    tz = complex_.site.timezone
    end = _iso_local(newest + round(result.horizon_s * 1000), tz)
    click.echo(
        f"Forecast for {complex_.site.name} from {_iso_local(newest, tz)} "
        f"to {end} ({result.horizon_s / 3600:.2f} h), "
        f"{replications} replications, seed {seed}, {wall:.1f} s"
    )
    click.echo(f"start state: {estimate.summary()}")
    click.echo("")
    click.echo(format_table(result, complex_))
    if json_out is not None:
        p = Path(json_out)
        tmp = p.with_name(p.name + ".tmp")
        tmp.write_text(json.dumps(result.to_dict(), indent=1, allow_nan=False), encoding="utf-8")
        os.replace(tmp, p)
        click.echo(f"\nwrote {json_out}")
    if report_out is not None:
        from simulations.forecast_report import write_forecast

        write_forecast(result, report_out, f"Forecast for {complex_.site.name}")
        click.echo(f"wrote {report_out}")


def _meta(est: StateEstimate, complex_: Complex, **extra: Any) -> dict[str, Any]:
    tz = complex_.site.timezone
    return {
        "site": complex_.site.id,
        "start": _iso_local(est.snapshot_ms, tz),
        "start_ms": est.snapshot_ms,
        "state": est.summary(),
        "machines_observed": sorted(est.observed),
        "machines_estimated": sorted(est.estimated),
        "factories_stopped": dict(est.stopped),
        "factories_without_snapshot": est.missing_factories,
        "lots_created": est.lots_created,
        "lots_dropped": est.lots_dropped,
        "wip_units_start": est.state.wip_units,
        "prior_warmup_h": PRIOR_WARMUP_H,
        **extra,
    }
