"""``twin ingest``: one worker, or a small supervisor of N workers on a shared subscription."""

from __future__ import annotations

import logging
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import click

from twin.cli_options import broker_option, config_option, historian_option, log_level_option, setup_logging
from twin.config import load_complex
from twin.ingest.spool import DEFAULT_SPOOL_BYTES
from twin.urls import parse_broker_url

__all__ = ["ingest"]

log = logging.getLogger(__name__)


def _default_client_id() -> str:
    host = "".join(ch if ch.isalnum() or ch in "-_" else "-" for ch in socket.gethostname())[:40]
    return f"twin-ingest-{host or 'host'}"


@click.command("ingest")
@broker_option
@historian_option
@config_option
@click.option("--workers", type=click.IntRange(1, 64), default=1, show_default=True,
              help="Worker processes sharing the stream through an MQTT 5 shared subscription.")
@click.option("--group", envvar="TWIN_INGEST_GROUP", default="",
              help="Share the stream with every process of this group ($share/GROUP/..., MQTT 5). "
              "Default: a plain subscription for one worker, 'twin-ingest' with --workers > 1. "
              "Mosquitto 2.0.11 does not restore shared subscriptions after a restart: what is "
              "published before the workers re-subscribe is lost (docs/reliability.md). [env: TWIN_INGEST_GROUP]")
@click.option("--client-id", default=None, metavar="ID",
              help="Stable MQTT client id (default twin-ingest-HOSTNAME); worker i appends -i. "
              "The broker keeps this id's session, so a restarted worker gets what it missed.")
@click.option("--spool-dir", default="twin-data/spool", show_default=True, type=click.Path(file_okay=False),
              help="Directory of the on-disk spool used while the historian is away (one subdir per worker).")
@click.option("--spool-max-mb", type=click.FloatRange(0.01, 10_000_000), default=DEFAULT_SPOOL_BYTES / 2**20,
              show_default=True, help="Spool size limit in MiB; when full, the ingest stops acknowledging "
              "and the broker holds the backlog.")
@click.option("--http-port", type=click.IntRange(0, 65535), default=None,
              help="Serve /metrics and /health on this port (worker i uses PORT+i). Off by default.")
@click.option("--http-host", default="127.0.0.1", show_default=True)
@click.option("--batch", type=click.IntRange(1, 100_000), default=2000, show_default=True,
              help="Messages per historian write at most (batches form by themselves under load).")
@click.option("--unhealthy-after", type=click.FloatRange(1, None), default=30.0, show_default=True,
              help="Seconds of historian or broker outage before /health reports 503.")
@click.option("--worker-index", type=int, default=None, hidden=True)
@log_level_option
def ingest(
    broker: str, historian: str, config: str, workers: int, group: str, client_id: str | None,
    spool_dir: str, spool_max_mb: float, http_port: int | None, http_host: str, batch: int,
    unhealthy_after: float, worker_index: int | None, log_level: str,
) -> None:
    """Validate telemetry from the broker and store it in the historian, losing nothing.

    Each message is acknowledged only once its readings are stored in the historian
    or in the on-disk spool; rejected readings go to the dead letters (see
    `twin deadletters`). SIGTERM or Ctrl-C stop after storing what was received.
    """
    setup_logging(log_level)
    url = parse_broker_url(broker)  # validate early, before spawning anything
    complex_ = load_complex(config)
    base_id = client_id or _default_client_id()
    if workers > 1 and worker_index is None:
        _supervise(workers, base_id, group or "twin-ingest")
        return
    from twin.ingest.service import IngestSettings, IngestWorker
    from twin.ingest.writer import WriterSettings

    cid = base_id if worker_index is None else f"{base_id}-{worker_index}"
    settings = IngestSettings(
        broker=url,
        historian_url=historian,
        client_id=cid,
        spool_dir=Path(spool_dir) / cid,
        spool_bytes=int(spool_max_mb * 2**20),
        group=group or None,
        http_host=http_host,
        http_port=None if http_port is None else http_port + (worker_index or 0),
        unhealthy_after_s=unhealthy_after,
        writer=WriterSettings(max_batch_messages=batch),
    )
    worker = IngestWorker(complex_, settings)
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: worker.stop())
    worker.run()


def _supervise(workers: int, base_id: str, group: str) -> None:
    """Run N copies of this command as workers; restart any that dies; stop all on a signal."""
    args = [a for a in sys.argv[1:]]
    # re-run the same command line with --workers 1 and a worker index
    def spawn(i: int) -> subprocess.Popen:
        cmd = [sys.executable, "-m", "twin", *args, "--workers", "1", "--worker-index", str(i),
               "--client-id", base_id, "--group", group]
        return subprocess.Popen(cmd)

    procs = {i: spawn(i) for i in range(workers)}
    stopping = False

    def on_signal(*_: object) -> None:
        nonlocal stopping
        stopping = True

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    log.info("supervising %d ingest workers (pids %s)", workers, [p.pid for p in procs.values()])
    while not stopping:
        time.sleep(0.2)
        for i, p in list(procs.items()):
            if p.poll() is not None and not stopping:
                log.warning("worker %d (pid %d) exited with %s; restarting", i, p.pid, p.returncode)
                procs[i] = spawn(i)
    for p in procs.values():
        if p.poll() is None:
            p.send_signal(signal.SIGTERM)
    for p in procs.values():
        try:
            p.wait(60)
        except subprocess.TimeoutExpired:
            p.kill()
    log.info("all ingest workers stopped")
