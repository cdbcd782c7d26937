"""InfluxDB historian URLs, parsed once into settings. Pure apart from reading a token file.

- ``influxdb://host:port/BUCKET?org=ORG`` - InfluxDB 2.x / Cloud (and 3.x through its
  v2-compatible write and v1-compatible query endpoints). The token comes from
  ``INFLUXDB_TOKEN``, or from a file named by ``?token_file=PATH`` or by
  ``TWIN_INFLUXDB_TOKEN_FILE``; ``org`` may come from ``INFLUXDB_ORG``.
- ``influxdbs://...`` - the same over TLS; ``?ca=FILE`` trusts a private CA.
- ``influxdb://[user:pass@]host:port/DATABASE?api=v1`` - InfluxDB 1.x. The password
  may come from ``TWIN_INFLUXDB_PASSWORD`` instead of the URL.

Tokens never appear in a URL (``?token=`` is refused), in ``repr`` or in a log line.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import parse_qs, unquote, urlsplit

from twin.errors import UrlError
from twin.historian.retention import RETENTION_OPTIONS, Retention, parse_retention
from twin.timespec import parse_duration_ms
from twin.urls import redact

__all__ = [
    "InfluxSettings",
    "parse_influx_url",
    "TOKEN_ENV",
    "TOKEN_FILE_ENV",
    "ORG_ENV",
    "PASSWORD_ENV",
]

TOKEN_ENV = "INFLUXDB_TOKEN"
TOKEN_FILE_ENV = "TWIN_INFLUXDB_TOKEN_FILE"
ORG_ENV = "INFLUXDB_ORG"
PASSWORD_ENV = "TWIN_INFLUXDB_PASSWORD"

DEFAULT_PORT = 8086
#: Seconds an HTTP request may take before the historian reports itself unavailable.
DEFAULT_TIMEOUT_S = 30.0

#: Seconds after which windows a writer touched are recomputed from the server's raw
#: readings, repairing rollups when several writers share sensors (``?settle=off``
#: for a single writer, e.g. a bulk load).
DEFAULT_SETTLE_S = 60.0

_OPTIONS = {
    "api",
    "org",
    "token_file",
    "ca",
    "timeout",
    "manage",
    "settle",
    "bucket_1m",
    "bucket_1h",
    *RETENTION_OPTIONS,
}


@dataclass(frozen=True)
class InfluxSettings:
    """Everything needed to talk to one InfluxDB database or bucket."""

    host: str
    port: int
    database: str  # 1.x database, or 2.x raw bucket
    api: str = "v2"  # "v1" or "v2"
    tls: bool = False
    org: str | None = None
    token: str | None = field(default=None, repr=False)
    username: str | None = None
    password: str | None = field(default=None, repr=False)
    ca_file: str | None = None
    timeout_s: float = DEFAULT_TIMEOUT_S
    manage: bool = True  # create database/retention policies or buckets when missing
    bucket_1m: str | None = None  # 2.x rollup buckets (default BUCKET_1m, BUCKET_1h)
    bucket_1h: str | None = None
    retention: Retention = field(default_factory=Retention)
    settle_s: float | None = DEFAULT_SETTLE_S  # None: never re-settle

    @property
    def base_url(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"{'https' if self.tls else 'http'}://{host}:{self.port}"

    def __str__(self) -> str:  # safe for logs: no password, no token
        user = f"{self.username}:***@" if self.username else ""
        scheme = "influxdbs" if self.tls else "influxdb"
        return f"{scheme}://{user}{self.host}:{self.port}/{self.database} (api {self.api})"


def _flag(url: str, name: str, text: str) -> bool:
    lowered = text.strip().lower()
    if lowered in {"1", "true", "yes", "on"}:
        return True
    if lowered in {"0", "false", "no", "off"}:
        return False
    raise UrlError(f"{redact(url)}: {name} must be true or false, got {text!r}")


def _read_token_file(url: str, path: str) -> str:
    try:
        token = Path(path).read_text(encoding="utf-8").strip()
    except OSError as exc:
        raise UrlError(f"{redact(url)}: cannot read token file {path}: {exc.strerror or exc}") from None
    if not token:
        raise UrlError(f"{redact(url)}: token file {path} is empty")
    return token


def parse_influx_url(url: str, env: Mapping[str, str] | None = None) -> InfluxSettings:
    """Settings from an ``influxdb://`` / ``influxdbs://`` URL (see the module docstring)."""
    env = os.environ if env is None else env
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError as exc:
        raise UrlError(f"{redact(url)}: {exc}") from None
    if parts.scheme not in {"influxdb", "influxdbs"}:
        raise UrlError(f"{redact(url)}: InfluxDB URL must start with influxdb:// or influxdbs://")
    if not parts.hostname:
        raise UrlError(f"{redact(url)}: InfluxDB URL has no host")
    database = unquote(parts.path.lstrip("/"))
    if not database:
        raise UrlError(
            f"{redact(url)}: name the bucket (2.x) or database (1.x) as the path, "
            "e.g. influxdb://localhost:8086/twin?org=plant"
        )
    if any(ord(c) < 32 for c in database):
        raise UrlError(f"{redact(url)}: the database name holds a control character")
    opts = parse_qs(parts.query, keep_blank_values=True)
    if "token" in opts:
        raise UrlError(f"{redact(url)}: do not put the token in the URL; set {TOKEN_ENV} or ?token_file=PATH")
    unknown = set(opts) - _OPTIONS
    if unknown:
        raise UrlError(f"{redact(url)}: unknown option(s) {sorted(unknown)}; known: {', '.join(sorted(_OPTIONS))}")

    def opt(name: str) -> str | None:
        return opts[name][-1] if name in opts else None

    api = (opt("api") or "v2").lower()
    if api not in {"v1", "v2"}:
        raise UrlError(f"{redact(url)}: api must be v1 (InfluxDB 1.x) or v2, got {api!r}")
    timeout_s = DEFAULT_TIMEOUT_S
    if opt("timeout"):
        try:
            timeout_s = parse_duration_ms(opt("timeout") or "") / 1000
        except ValueError as exc:
            raise UrlError(f"{redact(url)}: timeout: {exc}") from None
    settle_s: float | None = DEFAULT_SETTLE_S
    if opt("settle"):
        text = opt("settle") or ""
        if text.strip().lower() in {"off", "0", "false", "no"}:
            settle_s = None
        else:
            try:
                settle_s = parse_duration_ms(text) / 1000
            except ValueError as exc:
                raise UrlError(f"{redact(url)}: settle: {exc}, or off") from None
    try:
        retention = parse_retention(opts)
    except ValueError as exc:
        raise UrlError(f"{redact(url)}: {exc}") from None
    username = unquote(parts.username) if parts.username else None
    password = unquote(parts.password) if parts.password else None
    token = None
    org = None
    if api == "v1":
        if password is None and username:
            password = env.get(PASSWORD_ENV)
        for name in ("org", "token_file", "bucket_1m", "bucket_1h"):
            if name in opts:
                raise UrlError(f"{redact(url)}: option {name} is for InfluxDB 2.x; drop it or drop api=v1")
    else:
        if username:
            raise UrlError(
                f"{redact(url)}: InfluxDB 2.x authenticates with a token, not user:pass "
                f"(set {TOKEN_ENV}); for InfluxDB 1.x add ?api=v1"
            )
        org = opt("org") or env.get(ORG_ENV)
        if not org:
            raise UrlError(f"{redact(url)}: InfluxDB 2.x needs ?org=ORG (or {ORG_ENV})")
        token_file = opt("token_file") or env.get(TOKEN_FILE_ENV)
        token = _read_token_file(url, token_file) if token_file else env.get(TOKEN_ENV)
        if not token:
            raise UrlError(
                f"{redact(url)}: InfluxDB 2.x needs a token: set {TOKEN_ENV}, {TOKEN_FILE_ENV} or ?token_file=PATH"
            )
    return InfluxSettings(
        host=parts.hostname,
        port=port or DEFAULT_PORT,
        database=database,
        api=api,
        tls=parts.scheme == "influxdbs",
        org=org,
        token=token,
        username=username,
        password=password,
        ca_file=opt("ca"),
        timeout_s=timeout_s,
        manage=_flag(url, "manage", opt("manage") or "true"),
        bucket_1m=opt("bucket_1m"),
        bucket_1h=opt("bucket_1h"),
        retention=retention,
        settle_s=settle_s,
    )
