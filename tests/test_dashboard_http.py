"""`twin dashboard` as a real HTTP server: health, forged callback calls, bad flags."""

from __future__ import annotations

import json
import socket
import subprocess
import sys
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner

from dashboards.cli import dashboard
from tests.dash_json import column
from tests.fixtures.servers import free_port, read_log, stop, wait_port
from twin.codec import Reading
from twin.errors import UrlError
from twin.historian import open_historian
from twin.timespec import now_ms


def _get(url: str) -> tuple[int, bytes]:
    with urllib.request.urlopen(url, timeout=10) as r:
        return r.status, r.read()


def _post(url: str, body: object) -> tuple[int, dict]:
    req = urllib.request.Request(
        url,
        data=json.dumps(body).encode(),
        headers={"Content-Type": "application/json"},
        method="POST",
    )
    try:
        with urllib.request.urlopen(req, timeout=10) as r:
            return r.status, json.loads(r.read() or b"{}")
    except urllib.error.HTTPError as exc:  # keep the status for the assertion message
        return exc.code, {"error": exc.read().decode(errors="replace")[:500]}


class Server:
    def __init__(self, base: str, proc: subprocess.Popen, log: Path):
        self.base, self.proc, self.log = base, proc, log


def _start(historian: str, tmp_path: Path, *extra: str) -> Server:
    port = free_port()
    log = tmp_path / "dashboard.log"
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "twin",
            "dashboard",
            "--historian",
            historian,
            "--config",
            "tiny",
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            *extra,
        ],
        stdout=log.open("wb"),
        stderr=subprocess.STDOUT,
    )
    try:
        wait_port(port, timeout=30, proc=proc)
    except Exception:
        stop(proc)
        raise AssertionError(f"dashboard did not start:\n{read_log(log)}") from None
    return Server(f"http://127.0.0.1:{port}", proc, log)


@pytest.fixture(scope="module")
def history_url(tmp_path_factory: pytest.TempPathFactory) -> str:
    url = "sqlite://" + str(tmp_path_factory.mktemp("history") / "history.db")
    now = now_ms()
    with open_historian(url) as h:
        h.store([Reading("alpha-smt-power", now - i * 1000, 4.0 + i % 3) for i in range(600)])
    return url


@pytest.fixture(scope="module")
def server(history_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    srv = _start(
        history_url, tmp_path_factory.mktemp("server"), "--broker", "mqtt://127.0.0.1:1"
    )  # unused
    yield srv
    stop(srv.proc)
    log = read_log(srv.log, limit=100_000)
    assert srv.proc.returncode == 0, log  # SIGTERM stops it cleanly
    assert "dashboard stopped" in log
    assert "Traceback" not in log


def _trend_request(base: str, stored: object, range_key: object = "15m") -> dict:
    """A /_dash-update-component body for the trend callback, built from the app's own
    dependency list so the test follows the real wire format."""
    _, raw = _get(base + "/_dash-dependencies")
    dep = next(d for d in json.loads(raw) if "overview-trend.figure" in d["output"])
    values = {"overview-tick": 3, "overview-selection": stored, "overview-range": range_key}
    return {
        "output": dep["output"],
        "outputs": [
            {"id": o.split(".")[0], "property": o.split(".")[1]}
            for o in dep["output"].strip(".").split("...")
        ],
        "inputs": [{**i, "value": values[i["id"]]} for i in dep["inputs"]],
        "state": [],
        "changedPropIds": ["overview-selection.data"],
    }


def test_health_answers_json_with_historian_state(server: Server) -> None:
    status, body = _get(server.base + "/health")
    assert status == 200
    assert json.loads(body) == {
        "status": "ok",
        "historian": "ok",
        "site": "tiny-park",
        "factories": 2,
        "sensors": 17,
    }


def test_page_is_served_with_local_assets_only(server: Server) -> None:
    status, body = _get(server.base + "/")
    html = body.decode()
    assert status == 200 and "Tiny Park" in html
    assert "cdn." not in html and "https://" not in html.split("<body", 1)[-1].split("</footer>")[0]
    status, css = _get(server.base + "/assets/dashboard.css")
    assert status == 200 and b".page-overview" in css


def test_trend_callback_over_http_returns_stored_data(server: Server) -> None:
    status, body = _post(
        server.base + "/_dash-update-component",
        _trend_request(server.base, {"sensor": "alpha-smt-power"}),
    )
    assert status == 200, body
    fig = body["response"]["overview-trend"]["figure"]
    mean = next(t for t in fig["data"] if t["name"] == "mean")
    assert set(column(mean["y"])) == {4.0, 5.0, 6.0}  # numpy columns: plotly's base64 typed arrays
    assert fig["layout"]["yaxis"]["title"]["text"] == "power [kW]"


@pytest.mark.parametrize(
    ("stored", "range_key", "message"),
    [
        ({"sensor": "no-such-sensor"}, "15m", "unknown sensor no-such-sensor"),
        ({"sensor": "'; DROP TABLE readings; --"}, "15m", "unknown sensor"),
        ({"sensor": "a" * 100_000}, "15m", "unknown sensor"),
        ({"sensor": ["alpha-smt-power"]}, "15m", "unknown sensor list"),
        ({"sensor": "alpha-smt-power"}, {"ms": 10**12}, "unknown range dict"),
        (12, "15m", "pick a sensor"),
    ],
)
def test_forged_trend_inputs_get_an_empty_figure_not_a_500(
    server: Server, stored: object, range_key: object, message: str
) -> None:
    status, body = _post(
        server.base + "/_dash-update-component", _trend_request(server.base, stored, range_key)
    )
    assert status == 200, body
    fig = body["response"]["overview-trend"]["figure"]
    assert fig["data"] == []
    assert message in fig["layout"]["annotations"][0]["text"]
    assert len(json.dumps(body)) < 10_000  # a huge forged id is not echoed back


def test_malformed_callback_request_is_a_400_not_a_server_error(server: Server) -> None:
    status, body = _post(
        server.base + "/_dash-update-component", {"output": "nope.figure", "inputs": []}
    )
    assert status == 400
    assert "unknown callback output" in json.dumps(body)  # and no traceback: checked at teardown


def test_dashboard_starts_before_the_historian_exists_and_recovers(tmp_path: Path) -> None:
    url = "sqlite://" + str(tmp_path / "later.db")
    srv = _start(url, tmp_path)
    try:
        _, body = _get(srv.base + "/health")
        assert json.loads(body)["historian"] == "unavailable"
        with open_historian(url) as h:  # ingest creates the store later
            h.store([Reading("alpha-smt-power", now_ms(), 1.0)])
        _, body = _get(srv.base + "/health")
        assert json.loads(body)["status"] == "ok"
    finally:
        stop(srv.proc)
    assert srv.proc.returncode == 0


# ---- flags ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--historian", "postgres://db/x"], "unknown historian scheme 'postgres'"),
        (["--historian", "sqlite://"], "sqlite URL has no path"),
        (["--historian", "sqlite:///tmp/x.db?fast=1"], "unknown option(s) ['fast']"),
        (["--historian", "sqlite:///tmp/x.db", "--port", "0"], "0 is not in the range 1<=x<=65535"),
        (["--historian", "sqlite:///tmp/x.db", "--port", "70000"], "70000 is not in the range"),
        (["--historian", "sqlite:///tmp/x.db", "--port", "http"], "'http' is not a valid integer"),
        (["--historian", "sqlite:///tmp/x.db", "--broker", "tcp://x"], "must start with mqtt://"),
        (
            ["--historian", "sqlite:///tmp/x.db", "--config", "/no/such.yaml"],
            "/no/such.yaml: file not found",
        ),
        ([], "Missing option '--historian'"),
    ],
)
def test_bad_flags_fail_with_a_clear_message(args: list[str], message: str, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.delenv("TWIN_HISTORIAN", raising=False)
    monkeypatch.delenv("TWIN_BROKER", raising=False)
    result = CliRunner().invoke(dashboard, ["--config", "tiny", *args])
    assert result.exit_code == 2, result.output
    assert message in result.output


def test_port_in_use_is_a_clear_error(tmp_path: Path) -> None:
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        result = CliRunner().invoke(
            dashboard,
            [
                "--historian",
                "sqlite://" + str(tmp_path / "h.db"),
                "--config",
                "tiny",
                "--port",
                str(port),
            ],
        )
    assert result.exit_code == 1, result.output
    assert f"cannot listen on 127.0.0.1:{port}" in result.output


def test_help_says_what_the_broker_and_users_are_for() -> None:
    result = CliRunner().invoke(dashboard, ["--help"])
    assert result.exit_code == 0
    assert "alarm console" in result.output and "--port" in result.output
    assert "--users" in result.output and "open local mode" in result.output


# ---- WSGI factory -------------------------------------------------------------------------


def test_wsgi_factory_builds_the_app_from_the_environment(history_url: str, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    from dashboards.wsgi import wsgi_app

    monkeypatch.setenv("TWIN_HISTORIAN", history_url)
    monkeypatch.setenv("TWIN_CONFIG", "tiny")
    client = wsgi_app().test_client()
    response = client.get("/health")
    assert response.status_code == 200 and response.json["site"] == "tiny-park"
    monkeypatch.delenv("TWIN_HISTORIAN")
    with pytest.raises(UrlError, match="TWIN_HISTORIAN is not set"):
        wsgi_app()
