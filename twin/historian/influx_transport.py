"""HTTP to InfluxDB: v1 ``/write`` + ``/query`` (1.x) or influxdb-client writes + ``/query`` (2.x).

The adapter at the edge. It knows where each level lives - retention policies
``twin_raw``/``twin_1m``/``twin_1h`` of one 1.x database, or three 2.x buckets - and
turns every failure into :class:`~twin.errors.HistorianUnavailable` (retry later:
the server is down, slow, overloaded, or refuses our credentials) or
:class:`~twin.errors.HistorianError` (this request will never succeed: the server
cannot parse it or its types conflict with stored data).

Writes are synchronous, one HTTP request per call and never retried here: the
ingest's spool is the durability layer, so an error must reach it, not be buried in
a client-side retry queue that may drop the batch later.
"""

from __future__ import annotations

import logging
import re
from abc import ABC, abstractmethod
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlencode

import orjson
import urllib3

from twin.errors import HistorianError, HistorianUnavailable
from twin.historian.influx_url import InfluxSettings
from twin.historian.influxql import QueryError, Series, parse_response, quote_ident
from twin.historian.retention import Retention
from twin.historian.rollups import HOUR_MS, MINUTE_MS, RAW

__all__ = [
    "InfluxTransport",
    "V1Transport",
    "V2Transport",
    "make_transport",
    "classify_http",
    "go_duration_ms",
    "RETENTION_POLICIES",
]

log = logging.getLogger(__name__)

#: InfluxDB 1.x retention policy per level (all in the database the URL names).
RETENTION_POLICIES = {RAW: "twin_raw", MINUTE_MS: "twin_1m", HOUR_MS: "twin_1h"}
#: Points per HTTP write request.
LINES_PER_WRITE = 10_000

_BEYOND_RETENTION = re.compile(r"^partial write: points beyond retention policy dropped=\d+$")
_GO_DURATION = re.compile(r"^(?:(\d+)h)?(?:(\d+)m(?!s))?(?:(\d+)s)?$")


def _message(body: bytes | str | None) -> str:
    if body is None:
        return ""
    text = body.decode("utf-8", "replace") if isinstance(body, bytes) else str(body)
    try:
        doc = orjson.loads(text)
    except orjson.JSONDecodeError:
        return text.strip()[:500]
    if isinstance(doc, dict):
        return str(doc.get("error") or doc.get("message") or text).strip()[:500]
    return text.strip()[:500]


def classify_http(status: int, body: bytes | str | None, what: str) -> HistorianError | None:
    """The error an HTTP answer means, or None when the request succeeded.

    Points older than a retention policy are dropped by the server on purpose
    (``partial write: points beyond retention policy``): that is success.
    401/403/404 are *unavailable*, not permanent: a wrong token or a missing
    bucket is fixed by an operator, and until then the ingest must keep the data.
    """
    if 200 <= status < 300:
        return None
    msg = _message(body)
    if status in (400, 422) and _BEYOND_RETENTION.match(msg):
        log.debug("%s: %s", what, msg)
        return None
    detail = f"{what}: HTTP {status}: {msg}"
    if status in (401, 403):
        return HistorianUnavailable(f"{detail} (check the token or user/password and its permissions)")
    if status == 404:
        return HistorianUnavailable(f"{detail} (does the database/bucket exist?)")
    if status == 429 or status >= 500:
        return HistorianUnavailable(detail)
    return HistorianError(detail)


def go_duration_ms(text: str) -> int | None:
    """``'840h0m0s'`` -> ms; ``'0s'`` (infinite) -> None."""
    m = _GO_DURATION.match(text.strip())
    if not m or not text.strip():
        raise ValueError(f"unexpected duration {text!r}")
    h, mi, s = (int(x) if x else 0 for x in m.groups())
    ms = ((h * 60 + mi) * 60 + s) * 1000
    return ms or None


def _query_error(exc: QueryError, what: str) -> HistorianError:
    text = str(exc)
    if "not found" in text or "authoriz" in text or "timeout" in text:
        return HistorianUnavailable(f"{what}: {text}")
    return HistorianError(f"{what}: {text}")


class InfluxTransport(ABC):
    """Where each level lives and how to reach it."""

    def __init__(self, settings: InfluxSettings):
        self.settings = settings
        timeout = urllib3.Timeout(connect=min(10.0, settings.timeout_s), read=settings.timeout_s)
        kwargs: dict[str, Any] = {"timeout": timeout, "retries": False, "maxsize": 4}
        if settings.tls:
            kwargs["cert_reqs"] = "CERT_REQUIRED"
            if settings.ca_file:
                kwargs["ca_certs"] = settings.ca_file
            else:
                import certifi

                kwargs["ca_certs"] = certifi.where()
        self._http = urllib3.PoolManager(**kwargs)

    # -- HTTP ------------------------------------------------------------------

    @abstractmethod
    def _auth_headers(self) -> dict[str, str]: ...

    def _request(self, method: str, path: str, what: str, **kwargs: Any) -> bytes:
        url = self.settings.base_url + path
        headers = {**self._auth_headers(), **kwargs.pop("headers", {})}
        try:
            resp = self._http.request(method, url, headers=headers, **kwargs)
        except (urllib3.exceptions.HTTPError, OSError) as exc:
            raise HistorianUnavailable(f"{what}: cannot reach {self.settings}: {exc}") from exc
        err = classify_http(resp.status, resp.data, what)
        if err is not None:
            raise err
        return resp.data

    def query(self, level: int, q: str, epoch: str = "ms", what: str = "InfluxDB query") -> list[list[Series]]:
        """Run InfluxQL against the database holding ``level``; series per statement."""
        fields = {
            "q": q,
            "epoch": epoch,
            "chunked": "true",
            "chunk_size": "10000",
            **self._query_target(level),
        }
        body = self._request("POST", "/query", what, fields=fields, encode_multipart=False)
        try:
            return parse_response(body)
        except QueryError as exc:
            raise _query_error(exc, what) from None

    @abstractmethod
    def _query_target(self, level: int) -> dict[str, str]:
        """``db`` (and ``rp``) parameters for a query of ``level``."""

    @abstractmethod
    def source(self, level: int, measurement: str) -> str:
        """The FROM clause naming ``measurement`` of ``level``."""

    @abstractmethod
    def write(self, level: int, lines: list[str], precision: str = "ms") -> None:
        """Store line-protocol points in ``level``'s place; raise on any failure."""

    @abstractmethod
    def delete_before(self, level: int, measurement: str, cutoff_ms: int) -> None:
        """Delete points of ``measurement`` in ``level`` older than ``cutoff_ms``."""

    @abstractmethod
    def ensure_schema(self, retention: Retention) -> None:
        """Create the database/retention policies or buckets when they are missing."""

    def close(self) -> None:
        self._http.clear()


class V1Transport(InfluxTransport):
    """InfluxDB 1.x: one database, a retention policy per level."""

    def _auth_headers(self) -> dict[str, str]:
        s = self.settings
        if s.username:
            return urllib3.make_headers(basic_auth=f"{s.username}:{s.password or ''}")
        return {}

    def _query_target(self, level: int) -> dict[str, str]:
        return {"db": self.settings.database}

    def source(self, level: int, measurement: str) -> str:
        return f"{quote_ident(RETENTION_POLICIES[level])}.{quote_ident(measurement)}"

    def write(self, level: int, lines: list[str], precision: str = "ms") -> None:
        params = {"db": self.settings.database, "rp": RETENTION_POLICIES[level]}
        if precision != "ns":
            params["precision"] = precision
        query = urlencode(params)
        for i in range(0, len(lines), LINES_PER_WRITE):
            body = "\n".join(lines[i : i + LINES_PER_WRITE]).encode("utf-8")
            self._request(
                "POST",
                f"/write?{query}",
                f"write to {RETENTION_POLICIES[level]}",
                body=body,
                headers={"Content-Type": "text/plain; charset=utf-8"},
            )

    def _admin(self, statement: str, what: str) -> list[list[Series]]:
        fields = {"q": statement, "db": self.settings.database}
        body = self._request("POST", "/query", what, fields=fields, encode_multipart=False)
        try:
            return parse_response(body)
        except QueryError as exc:
            raise _query_error(exc, what) from None

    def delete_before(self, level: int, measurement: str, cutoff_ms: int) -> None:
        # DELETE in 1.x spans every retention policy; measurement names are unique per level.
        self._admin(
            f"DELETE FROM {quote_ident(measurement)} WHERE time < {int(cutoff_ms)}ms",
            "retention delete",
        )

    def ensure_schema(self, retention: Retention) -> None:
        db = quote_ident(self.settings.database)
        self._admin(f"CREATE DATABASE {db}", "create database")
        shown = self._admin(f"SHOW RETENTION POLICIES ON {db}", "show retention policies")
        existing: dict[str, int | None] = {}
        for series in shown[0] if shown else []:
            cols = series.columns
            for row in series.values:
                rec = dict(zip(cols, row, strict=False))
                existing[rec["name"]] = go_duration_ms(rec["duration"])
        for level, rp in RETENTION_POLICIES.items():
            keep = retention.keep(level)
            literal = "INF" if keep is None else f"{keep}ms"
            if rp not in existing:
                self._admin(
                    f"CREATE RETENTION POLICY {quote_ident(rp)} ON {db} DURATION {literal} REPLICATION 1",
                    "create retention policy",
                )
                log.info("created retention policy %s on %s (%s)", rp, self.settings.database, literal)
            elif existing[rp] != keep:
                self._admin(
                    f"ALTER RETENTION POLICY {quote_ident(rp)} ON {db} DURATION {literal}",
                    "alter retention policy",
                )
                log.info("changed retention policy %s on %s to %s", rp, self.settings.database, literal)


class V2Transport(InfluxTransport):
    """InfluxDB 2.x / Cloud: a bucket per level; writes through influxdb-client."""

    def __init__(self, settings: InfluxSettings):
        super().__init__(settings)
        from influxdb_client import InfluxDBClient
        from influxdb_client.client.write_api import SYNCHRONOUS

        self._client = InfluxDBClient(
            url=settings.base_url,
            token=settings.token or "",
            org=settings.org or "",
            timeout=int(settings.timeout_s * 1000),
            verify_ssl=True,
            ssl_ca_cert=settings.ca_file,
            enable_gzip=False,
        )
        self._write_api = self._client.write_api(write_options=SYNCHRONOUS)
        base = settings.database
        self.buckets = {
            RAW: base,
            MINUTE_MS: settings.bucket_1m or f"{base}_1m",
            HOUR_MS: settings.bucket_1h or f"{base}_1h",
        }

    def _auth_headers(self) -> dict[str, str]:
        return {"Authorization": f"Token {self.settings.token}"}

    def _query_target(self, level: int) -> dict[str, str]:
        # Every bucket has a virtual DBRP mapping: database = bucket name, rp = autogen.
        return {"db": self.buckets[level]}

    def source(self, level: int, measurement: str) -> str:
        return quote_ident(measurement)

    def _call(self, what: str, fn: Any, *args: Any, **kwargs: Any) -> Any:
        from influxdb_client.rest import ApiException

        try:
            return fn(*args, **kwargs)
        except ApiException as exc:
            err = classify_http(int(exc.status or 0), exc.body, what)
            if err is None:
                return None
            raise err from None
        except (urllib3.exceptions.HTTPError, OSError) as exc:
            raise HistorianUnavailable(f"{what}: cannot reach {self.settings}: {exc}") from exc

    def write(self, level: int, lines: list[str], precision: str = "ms") -> None:
        from influxdb_client import WritePrecision

        wp = {"ms": WritePrecision.MS, "ns": WritePrecision.NS}[precision]
        bucket = self.buckets[level]
        for i in range(0, len(lines), LINES_PER_WRITE):
            self._call(
                f"write to bucket {bucket}",
                self._write_api.write,
                bucket=bucket,
                org=self.settings.org,
                record=lines[i : i + LINES_PER_WRITE],
                write_precision=wp,
            )

    def delete_before(self, level: int, measurement: str, cutoff_ms: int) -> None:
        start = datetime(1677, 9, 22, tzinfo=UTC)
        stop = datetime.fromtimestamp(cutoff_ms / 1000, UTC)
        bucket = self.buckets[level]
        self._call(
            f"delete from bucket {bucket}",
            self._client.delete_api().delete,
            start,
            stop,
            f'_measurement="{measurement}"',
            bucket=bucket,
            org=self.settings.org,
        )

    def ensure_schema(self, retention: Retention) -> None:
        from influxdb_client import BucketRetentionRules

        api = self._client.buckets_api()
        for level, name in self.buckets.items():
            found = self._call(f"find bucket {name}", api.find_bucket_by_name, name)
            keep = retention.keep(level)
            if found is not None:
                rules = getattr(found, "retention_rules", None) or []
                seconds = rules[0].every_seconds if rules else 0
                if (seconds or 0) * 1000 != (keep or 0):
                    log.warning(
                        "bucket %s keeps data for %s s but the historian is configured for %s; "
                        "reads follow the configuration, storage follows the bucket",
                        name,
                        seconds or "ever",
                        f"{keep // 1000} s" if keep else "ever",
                    )
                continue
            rules = [BucketRetentionRules(type="expire", every_seconds=keep // 1000)] if keep else []
            self._call(
                f"create bucket {name}",
                api.create_bucket,
                bucket_name=name,
                retention_rules=rules,
                org=self.settings.org,
            )
            log.info("created bucket %s (%s)", name, f"{keep // 1000} s" if keep else "kept forever")

    def close(self) -> None:
        try:
            self._write_api.close()
            self._client.close()
        finally:
            super().close()


def make_transport(settings: InfluxSettings) -> InfluxTransport:
    return V1Transport(settings) if settings.api == "v1" else V2Transport(settings)
