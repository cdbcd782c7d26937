"""Small ``twin`` subcommands: check-config, history, deadletters."""

from __future__ import annotations

import csv
import json
import sys
from datetime import UTC, datetime

import click

from twin.cli_options import historian_option
from twin.config import load_complex
from twin.historian import open_historian
from twin.timespec import now_ms, parse_duration_ms, parse_time_ms

__all__ = ["check_config", "history", "deadletters"]


def _iso(ms: int) -> str:
    return datetime.fromtimestamp(ms / 1000, UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


@click.command("check-config")
@click.argument("path", metavar="PATH")
def check_config(path: str) -> None:
    """Validate a complex config: exit 0 with a summary, or exit 2 with file, key path and reason."""
    complex_ = load_complex(path)
    click.echo(f"ok: {complex_.summary()}")


def _time(value: str, now: int, flag: str) -> int:
    try:
        return parse_time_ms(value, now)
    except ValueError as exc:
        raise click.BadParameter(str(exc), param_hint=flag) from None


@click.command("history")
@historian_option
@click.option("--sensor", "sensors", multiple=True, metavar="ID", help="Sensor id; repeat for several (default: all).")
@click.option("--since", default="-1h", show_default=True, help="now, -15m, epoch ms or RFC 3339 with offset.")
@click.option("--until", default="now", show_default=True, help="Same forms as --since (exclusive).")
@click.option("--every", default=None, metavar="DURATION", help="Aggregate per window (e.g. 1m, 1h); raw if omitted.")
@click.option("--format", "fmt", type=click.Choice(["csv", "json"]), default="csv", show_default=True)
def history(historian: str, sensors: tuple[str, ...], since: str, until: str, every: str | None, fmt: str) -> None:
    """Export stored readings, raw or aggregated per window, as CSV or JSON lines on stdout."""
    now = now_ms()
    since_ms, until_ms = _time(since, now, "--since"), _time(until, now, "--until")
    if since_ms >= until_ms:
        raise click.BadParameter("--since must be before --until", param_hint="--since")
    every_ms = None
    if every is not None:
        try:
            every_ms = parse_duration_ms(every)
        except ValueError as exc:
            raise click.BadParameter(str(exc), param_hint="--every") from None
    with open_historian(historian, readonly=True) as h:
        ids = list(sensors) or sorted(h.counts())
        out = sys.stdout
        if every_ms is None:
            rows = [
                {"sensor": r.sensor_id, "time": _iso(r.ts_ms), "ts_ms": r.ts_ms, "value": r.value}
                for r in h.query(ids, since_ms, until_ms)
            ]
        else:
            rows = [
                {
                    "sensor": w.sensor_id, "window_start": _iso(w.start_ms), "ts_ms": w.start_ms,
                    "mean": w.mean, "min": w.min, "max": w.max, "last": w.last, "count": w.count,
                }
                for w in h.query_windows(ids, since_ms, until_ms, every_ms)
            ]
    if fmt == "json":
        for row in rows:
            out.write(json.dumps(row) + "\n")
        return
    fields = (
        ["sensor", "time", "ts_ms", "value"]
        if every_ms is None
        else ["sensor", "window_start", "ts_ms", "mean", "min", "max", "last", "count"]
    )
    writer = csv.DictWriter(out, fieldnames=fields, lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)


@click.command("deadletters")
@historian_option
@click.option("--since", default=None, help="Only newer than this (now, -1h, epoch ms, RFC 3339).")
@click.option("--reason", default=None, help="Only this rejection reason (e.g. out_of_range).")
@click.option("--limit", default=50, show_default=True, type=click.IntRange(1, 100_000))
@click.option("--format", "fmt", type=click.Choice(["table", "json"]), default="table", show_default=True)
def deadletters(historian: str, since: str | None, reason: str | None, limit: int, fmt: str) -> None:
    """List rejected messages (newest first) with topic, reason and the start of the payload."""
    since_ms = _time(since, now_ms(), "--since") if since else None
    with open_historian(historian, readonly=True) as h:
        letters = h.dead_letters(since_ms=since_ms, reason=reason, limit=limit)
        totals = h.dead_letter_counts()
    if fmt == "json":
        for d in letters:
            click.echo(json.dumps({
                "received": _iso(d.received_ms), "topic": d.topic, "reason": d.reason,
                "detail": d.detail, "sensor": d.sensor_id,
                "payload": d.payload[:200].decode("utf-8", "replace"),
            }))
        return
    click.echo("totals by reason: " + (", ".join(f"{k}={v}" for k, v in sorted(totals.items())) or "none"))
    for d in letters:
        preview = d.payload[:60].decode("utf-8", "replace").replace("\n", "\\n")
        click.echo(f"{_iso(d.received_ms)}  {d.reason:<18} {d.topic}  {d.detail}  | {preview}")
