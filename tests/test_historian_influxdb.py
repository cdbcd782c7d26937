"""InfluxDB-specific behaviour against a real InfluxDB 1.6.7 (the contract lives elsewhere)."""

from __future__ import annotations

import urllib.parse
import urllib.request

import orjson
import pytest

from tests.fixtures.servers import free_port
from twin.codec import Reading
from twin.errors import HistorianError, HistorianUnavailable
from twin.historian import open_historian
from twin.historian.rollups import HOUR_MS, MINUTE_MS, RAW
from twin.timespec import now_ms

pytestmark = pytest.mark.influxdb


def recent() -> int:
    now = now_ms()
    return now - now % 3_600_000 - 3 * 3_600_000


def raw_write(server, db: str, rp: str, line: str) -> None:
    query = urllib.parse.urlencode({"db": db, "rp": rp, "precision": "ms"})
    req = urllib.request.Request(f"{server.base}/write?{query}", data=line.encode(), method="POST")
    if server.admin:
        req.add_header(
            "Authorization",
            "Basic " + __import__("base64").b64encode(":".join(server.admin).encode()).decode(),
        )
    with urllib.request.urlopen(req) as resp:
        assert resp.status == 204


def policies(server, db: str) -> dict[str, str]:
    doc = orjson.loads(server.query(f'SHOW RETENTION POLICIES ON "{db}"'))
    return {row[0]: row[1] for row in doc["results"][0]["series"][0]["values"]}


def test_creates_database_and_retention_policies(influxdb_module):
    db = influxdb_module.new_database()
    h = open_historian(influxdb_module.url(db))
    h.store([Reading("s", recent(), 1.0)])
    assert policies(influxdb_module, db) == {
        "autogen": "0s",
        "twin_raw": "840h0m0s",
        "twin_1m": "9600h0m0s",
        "twin_1h": "0s",
    }
    h.close()
    h = open_historian(influxdb_module.url(db, keep_raw="2d", keep_1m="30d", keep_1h="365d"))
    h.store([Reading("s", recent() + 1, 1.0)])
    assert policies(influxdb_module, db)["twin_raw"] == "48h0m0s"
    assert policies(influxdb_module, db)["twin_1h"] == "8760h0m0s"
    h.close()


def test_hostile_database_name(influxdb_module):
    db = influxdb_module.new_database('we"ird db, ')
    h = open_historian(influxdb_module.url(db))
    t = recent()
    h.store([Reading("s", t, 2.0)])
    assert h.query(["s"], t, t + 1) == [Reading("s", t, 2.0)]
    h.close()


def test_user_and_password_from_the_url(influxdb_auth):
    db = influxdb_auth.new_database()
    t = recent()
    with open_historian(influxdb_auth.url(db)) as h:
        h.store([Reading("s", t, 3.0)])
        assert h.latest() == {"s": Reading("s", t, 3.0)}
    bad = f"influxdb://{influxdb_auth.admin[0]}:wrong-pw@127.0.0.1:{influxdb_auth.http_port}/{db}?api=v1"
    h = open_historian(bad)
    with pytest.raises(HistorianUnavailable) as exc:  # the spool keeps data until someone fixes it
        h.store([Reading("s", t + 1, 3.0)])
    assert "401" in str(exc.value) and "wrong-pw" not in str(exc.value)
    h.close()


def test_unreachable_server_is_unavailable_not_a_crash():
    url = f"influxdb://127.0.0.1:{free_port()}/db?api=v1&timeout=2s"
    h = open_historian(url)  # an ingest starting during an outage must come up
    with pytest.raises(HistorianUnavailable):
        h.store([Reading("s", recent(), 1.0)])
    with pytest.raises(HistorianUnavailable):
        h.query_windows(["s"], recent(), recent() + MINUTE_MS, MINUTE_MS)
    h.close()


def test_type_conflict_is_permanent(influxdb_module):
    db = influxdb_module.new_database()
    h = open_historian(influxdb_module.url(db))
    t = recent()
    h.store([Reading("s", t, 1.0)])
    raw_write(influxdb_module, db, "twin_raw", f'reading,sensor=x value="text" {t + 3_600_000 * 24 * 10}')
    with pytest.raises(HistorianError) as exc:
        h.store([Reading("x", t + 3_600_000 * 24 * 10 + 1, 1.0)])  # a shard (day) where value is a string
    assert not isinstance(exc.value, HistorianUnavailable)
    assert "field type conflict" in str(exc.value)
    h.close()


def test_points_the_server_expires_on_write_are_not_an_error(influxdb_module):
    db = influxdb_module.new_database()
    h = open_historian(influxdb_module.url(db, keep_raw="1h", keep_1m="1h", keep_1h="1h"))
    h.store([Reading("s", now_ms(), 1.0)])
    h._t.write(RAW, [f"reading,sensor=s value=1.0 {now_ms() - 5 * 3_600_000}"])  # server drops it: fine
    h.close()


def test_readonly(influxdb_module):
    db = influxdb_module.new_database()
    ro = open_historian(influxdb_module.url(db), readonly=True)
    with pytest.raises(HistorianUnavailable, match="database not found"):
        ro.latest()
    with pytest.raises(HistorianError):
        ro.store([Reading("s", recent(), 1.0)])
    with open_historian(influxdb_module.url(db)) as rw:
        rw.store([Reading("s", recent(), 1.0)])
    assert ro.counts() == {"s": 1}
    ro.close()


def test_a_window_another_writer_raced_is_settled_later(influxdb_module):
    """Rollups computed without another writer's readings are repaired by the settle pass."""
    db = influxdb_module.new_database()
    t = recent()
    h = open_historian(influxdb_module.url(db))
    h.store([Reading("s", t, 1.0)])
    raw_write(influxdb_module, db, "twin_raw", f"reading,sensor=s value=5.0 {t + 1000}")  # the other worker
    assert [w.count for w in h.query_windows(["s"], t, t + MINUTE_MS, MINUTE_MS)] == [1]  # stale for now
    h.settle(force=True)  # due settle_s (default 60 s) after the write
    assert [(w.count, w.max) for w in h.query_windows(["s"], t, t + MINUTE_MS, MINUTE_MS)] == [(2, 5.0)]
    h.store([Reading("s", t + 2000, 0.5)])  # the window is read back, not merged from a stale memory
    assert [(w.count, w.min, w.max) for w in h.query_windows(["s"], t, t + HOUR_MS, HOUR_MS)] == [(3, 0.5, 5.0)]
    h.close()


def test_a_restarted_writer_reads_back_the_windows_it_continues(influxdb_module):
    db = influxdb_module.new_database()
    t = recent()
    first = open_historian(influxdb_module.url(db, settle="off"))
    first.store([Reading("s", t + i * 1000, float(i)) for i in range(30)])
    first.close()
    second = open_historian(influxdb_module.url(db, settle="off"))  # nothing in memory
    second.store([Reading("s", t + i * 1000, float(i)) for i in range(30, 90)])
    assert [(w.count, w.max) for w in second.query_windows(["s"], t, t + HOUR_MS, MINUTE_MS)] == [
        (60, 59.0),
        (30, 89.0),
    ]
    assert [(w.count, w.last) for w in second.query_windows(["s"], t, t + HOUR_MS, HOUR_MS)] == [(90, 89.0)]
    second.close()
