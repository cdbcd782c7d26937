"""InfluxDB URLs and open_historian dispatch (no server needed)."""

from __future__ import annotations

import pytest

from twin.errors import UrlError
from twin.historian import open_historian
from twin.historian.influx_url import parse_influx_url

ENV = {"INFLUXDB_TOKEN": "s3cr3t-token"}


def test_v2_url_with_org_and_token_from_env():
    s = parse_influx_url("influxdb://influx.local:9999/twin?org=plant", env=ENV)
    assert (s.host, s.port, s.database, s.api, s.org, s.token, s.tls) == (
        "influx.local",
        9999,
        "twin",
        "v2",
        "plant",
        "s3cr3t-token",
        False,
    )
    assert s.base_url == "http://influx.local:9999"
    assert "s3cr3t" not in str(s) and "s3cr3t" not in repr(s)


def test_tls_default_port_org_from_env_and_ca():
    s = parse_influx_url("influxdbs://h/b?ca=/etc/ca.pem", env={**ENV, "INFLUXDB_ORG": "o"})
    assert (s.tls, s.port, s.org, s.ca_file, s.base_url) == (
        True,
        8086,
        "o",
        "/etc/ca.pem",
        "https://h:8086",
    )


def test_token_file_option_and_env(tmp_path):
    f = tmp_path / "token"
    f.write_text("from-file\n")
    assert parse_influx_url(f"influxdb://h/b?org=o&token_file={f}", env={}).token == "from-file"
    assert parse_influx_url("influxdb://h/b?org=o", env={"TWIN_INFLUXDB_TOKEN_FILE": str(f)}).token == "from-file"
    with pytest.raises(UrlError, match="cannot read token file"):
        parse_influx_url(f"influxdb://h/b?org=o&token_file={tmp_path}/missing", env={})
    (tmp_path / "empty").write_text("  \n")
    with pytest.raises(UrlError, match="empty"):
        parse_influx_url(f"influxdb://h/b?org=o&token_file={tmp_path}/empty", env={})


def test_v1_url_with_credentials_and_retention():
    s = parse_influx_url("influxdb://bob:p%40ss@h:8086/plant%20db?api=v1&keep_raw=7d&keep_1m=30d", env={})
    assert (s.api, s.username, s.password, s.database) == ("v1", "bob", "p@ss", "plant db")
    assert s.retention.raw_ms == 7 * 86_400_000
    assert "p@ss" not in str(s) and "p@ss" not in repr(s)
    assert parse_influx_url("influxdb://bob@h/db?api=v1", env={"TWIN_INFLUXDB_PASSWORD": "pw"}).password == "pw"


@pytest.mark.parametrize(
    "url, env, message",
    [
        ("influxdb://h/b", ENV, "needs \\?org=ORG"),
        ("influxdb://h/b?org=o", {}, "needs a token"),
        ("influxdb://h/b?org=o&token=abc", ENV, "do not put the token in the URL"),
        ("influxdb://h?org=o", ENV, "name the bucket"),
        ("influxdb:///b?org=o", ENV, "no host"),
        ("influxdb://h/b?org=o&bogus=1", ENV, "unknown option"),
        ("influxdb://h/b?api=v3", ENV, "api must be"),
        ("influxdb://u:p@h/b?org=o", ENV, "token, not user:pass"),
        ("influxdb://h/db?api=v1&org=o", {}, "is for InfluxDB 2.x"),
        ("influxdb://h:99999/b?org=o", ENV, "out of range|port"),
        ("influxdb://h/b?org=o&keep_raw=10m", ENV, "at least 1h"),
        ("influxdb://h/b?org=o&manage=maybe", ENV, "true or false"),
    ],
)
def test_bad_urls_say_what_is_wrong(url, env, message):
    with pytest.raises(UrlError, match=message):
        parse_influx_url(url, env=env)


def test_errors_never_show_the_password():
    with pytest.raises(UrlError) as exc:
        parse_influx_url("influxdb://bob:hunter2@h/db?api=v1&bogus=1", env={})
    assert "hunter2" not in str(exc.value)


def test_open_historian_dispatch(tmp_path, monkeypatch):
    monkeypatch.setenv("INFLUXDB_TOKEN", "t")
    h = open_historian("influxdb://127.0.0.1:1/b?org=o")  # nothing is contacted before the first use
    assert type(h).__name__ == "InfluxHistorian"
    h._t.close()
    s = open_historian(f"sqlite://{tmp_path}/h.db?keep_raw=2d&keep_1m=10d")
    assert s.retention.raw_ms == 2 * 86_400_000
    s.close()
    with pytest.raises(UrlError, match="unknown option"):
        open_historian(f"sqlite://{tmp_path}/h.db?keep=1d")
    with pytest.raises(UrlError, match="supported: sqlite://, influxdb://, influxdbs://"):
        open_historian("postgres://x/y")
