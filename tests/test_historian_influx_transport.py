"""How HTTP answers become errors, and InfluxDB 2.x failures without a 2.x server."""

from __future__ import annotations

import json
import logging
import urllib.parse

import pytest

from tests.fixtures.servers import free_port
from twin.codec import Reading
from twin.errors import HistorianError, HistorianUnavailable
from twin.historian import open_historian
from twin.historian.influx_transport import classify_http, go_duration_ms


@pytest.mark.parametrize(
    "status, body, expected",
    [
        (204, b"", None),
        (400, b'{"error":"partial write: points beyond retention policy dropped=3"}', None),
        (
            422,
            b'{"code":"unprocessable entity","message":"partial write: points beyond retention policy dropped=1"}',
            None,
        ),
        (
            400,
            b'{"error":"partial write: field type conflict: input field \\"value\\" is type string,'
            b' already exists as type float dropped=1"}',
            HistorianError,
        ),
        (400, b'{"error":"unable to parse \'x\': invalid number"}', HistorianError),
        (413, b"too big", HistorianError),
        (401, b'{"error":"authorization failed"}', HistorianUnavailable),
        (403, b"", HistorianUnavailable),
        (404, b'{"error":"database not found: \\"x\\""}', HistorianUnavailable),
        (429, b"", HistorianUnavailable),
        (500, b"boom", HistorianUnavailable),
        (503, b"", HistorianUnavailable),
    ],
)
def test_classify_http(status, body, expected):
    err = classify_http(status, body, "write")
    if expected is None:
        assert err is None
    else:
        assert type(err) is expected  # exact: Unavailable is a subclass of HistorianError
        assert f"HTTP {status}" in str(err)


def test_go_durations():
    assert go_duration_ms("840h0m0s") == 35 * 86_400_000
    assert go_duration_ms("1h30m0s") == 5_400_000
    assert go_duration_ms("0s") is None
    with pytest.raises(ValueError):
        go_duration_ms("forever")


def test_v2_down_is_unavailable_and_never_shows_the_token(monkeypatch, caplog):
    monkeypatch.setenv("INFLUXDB_TOKEN", "super-secret-token")
    caplog.set_level(logging.DEBUG)
    h = open_historian(f"influxdb://127.0.0.1:{free_port()}/bucket?org=plant&timeout=2s")
    with pytest.raises(HistorianUnavailable) as exc:
        h.store([Reading("s", 1_800_000_000_000, 1.0)])
    with pytest.raises(HistorianUnavailable):
        h.latest()
    h.close()
    assert "super-secret-token" not in str(exc.value)
    assert "super-secret-token" not in caplog.text
    assert "super-secret-token" not in repr(h)


class FakeInflux2:
    """Just enough of the InfluxDB 2 HTTP API to see what the historian sends."""

    def __init__(self) -> None:
        import http.server
        import threading

        self.requests: list[tuple[str, str, dict[str, str], bytes]] = []
        self.buckets: dict[str, dict] = {}
        fake = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def _reply(self, status: int, doc: object | None = None) -> None:
                body = b"" if doc is None else json.dumps(doc).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def _handle(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else b""
                url = urllib.parse.urlsplit(self.path)
                query = dict(urllib.parse.parse_qsl(url.query))
                if self.command == "POST" and url.path == "/query":
                    query.update(urllib.parse.parse_qsl(body.decode()))
                fake.requests.append(
                    (self.command, url.path, {**query, "auth": self.headers.get("Authorization", "")}, body)
                )
                if url.path == "/api/v2/orgs":
                    self._reply(200, {"orgs": [{"id": "0000000000000001", "name": "plant"}]})
                elif url.path == "/api/v2/buckets" and self.command == "GET":
                    found = [b for n, b in fake.buckets.items() if n == query.get("name")]
                    self._reply(200, {"buckets": found})
                elif url.path == "/api/v2/buckets" and self.command == "POST":
                    doc = json.loads(body)
                    doc["id"] = f"{len(fake.buckets) + 1:016x}"
                    fake.buckets[doc["name"]] = doc
                    self._reply(201, doc)
                elif url.path == "/api/v2/write":
                    self._reply(204)
                elif url.path == "/query":
                    self._reply(200, {"results": [{"statement_id": 0}]})
                else:
                    self._reply(404, {"message": "not found"})

            do_GET = do_POST = _handle  # noqa: N815

            def log_message(self, *args: object) -> None:
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        self.port = self.server.server_address[1]


def test_v2_writes_through_influxdb_client_to_three_buckets_and_reads_with_influxql(monkeypatch):
    fake = FakeInflux2()
    monkeypatch.setenv("INFLUXDB_TOKEN", "tok-123")
    try:
        h = open_historian(f"influxdb://127.0.0.1:{fake.port}/plantdata?org=plant&keep_raw=7d&keep_1m=30d")
        h.store([Reading("s 1", 1_800_000_000_000, 2.5)])
        h.query_windows(["s 1"], 1_799_999_000_000, 1_800_000_100_000, 60_000)
        h.close()
    finally:
        fake.server.shutdown()
    assert {n: (b.get("retentionRules") or [{}])[0].get("everySeconds") for n, b in fake.buckets.items()} == {
        "plantdata": 7 * 86_400,
        "plantdata_1m": 30 * 86_400,
        "plantdata_1h": None,
    }
    writes = {q["bucket"]: (q, body.decode()) for m, path, q, body in fake.requests if path == "/api/v2/write"}
    assert set(writes) == {"plantdata", "plantdata_1m", "plantdata_1h"}
    q, line = writes["plantdata"]
    assert (q["precision"], q["org"], q["auth"]) == ("ms", "plant", "Token tok-123")
    assert line == r"reading,sensor=s\ 1 value=2.5 1800000000000"
    assert writes["plantdata_1m"][1].startswith(r"reading_1m,sensor=s\ 1 n=1i,total=2.5,")
    queries = [q for m, path, q, body in fake.requests if path == "/query"]
    assert {q["db"] for q in queries} >= {"plantdata_1m"}  # the virtual DBRP mapping of the rollup bucket
    assert all(q["auth"] == "Token tok-123" and "rp" not in q for q in queries)
