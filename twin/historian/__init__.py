"""Historians: where time series live. Open one by URL with :func:`open_historian`."""

from __future__ import annotations

from urllib.parse import parse_qs

from twin.errors import UrlError
from twin.historian.base import MAX_DEAD_LETTER_PAYLOAD, DeadLetter, Historian, Window
from twin.historian.retention import RETENTION_OPTIONS, Retention, parse_retention
from twin.urls import redact

__all__ = [
    "Historian",
    "Window",
    "DeadLetter",
    "MAX_DEAD_LETTER_PAYLOAD",
    "Retention",
    "open_historian",
    "historian_path",
]


def historian_path(url: str) -> tuple[str, dict[str, list[str]]]:
    """Split ``sqlite://PATH[?opts]`` into the path and its options."""
    rest = url[len("sqlite://") :]
    path, _, query = rest.partition("?")
    if not path:
        raise UrlError(f"{url}: sqlite URL has no path; use sqlite:///abs/path.db or sqlite://rel/path.db")
    return path, parse_qs(query)


def _retention(url: str, opts: dict[str, list[str]]) -> Retention:
    try:
        return parse_retention(opts)
    except ValueError as exc:
        raise UrlError(f"{redact(url)}: {exc}") from None


def open_historian(url: str, readonly: bool = False) -> Historian:
    """Open the historian a URL names.

    - ``sqlite:///abs/path/history.db`` or ``sqlite://relative/history.db``
      (option ``?sync=normal`` trades power-cut durability for speed)
    - ``influxdb://host:port/BUCKET?org=ORG`` - InfluxDB 2.x / Cloud; the token comes
      from ``INFLUXDB_TOKEN``, or from a file named by ``?token_file=PATH`` or
      ``TWIN_INFLUXDB_TOKEN_FILE``; ``org`` may also come from ``INFLUXDB_ORG``
    - ``influxdbs://...`` - the same over TLS (``?ca=FILE`` for a private CA)
    - ``influxdb://[user:pass@]host:port/DATABASE?api=v1`` - InfluxDB 1.x (v1 ``/write``
      and ``/query``); the password may come from ``TWIN_INFLUXDB_PASSWORD``

    Every URL takes the retention options ``keep_raw`` (default 35d), ``keep_1m``
    (400d) and ``keep_1h`` (inf): how long raw readings and the 1-minute and 1-hour
    rollups are kept. See docs/historian.md.
    """
    if not isinstance(url, str) or not url:
        raise UrlError("historian URL is empty")
    if url.startswith("sqlite://"):
        from twin.historian.sqlite import SqliteHistorian

        path, opts = historian_path(url)
        unknown = set(opts) - {"sync", *RETENTION_OPTIONS}
        if unknown:
            raise UrlError(f"{url}: unknown option(s) {sorted(unknown)}; known: sync, {', '.join(RETENTION_OPTIONS)}")
        sync = opts.get("sync", ["full"])[-1]
        return SqliteHistorian(path, synchronous=sync, readonly=readonly, retention=_retention(url, opts))
    if url.startswith(("influxdb://", "influxdbs://")):
        from twin.historian.influx_url import parse_influx_url
        from twin.historian.influxdb import InfluxHistorian

        return InfluxHistorian(parse_influx_url(url), readonly=readonly)
    scheme = url.split(":", 1)[0]
    raise UrlError(
        f"{redact(url)}: unknown historian scheme {scheme!r}; supported: sqlite://, influxdb://, influxdbs://"
    )
