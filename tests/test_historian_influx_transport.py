"""How HTTP answers become errors, and InfluxDB 2.x failures without a 2.x server."""

from __future__ import annotations

import logging

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
