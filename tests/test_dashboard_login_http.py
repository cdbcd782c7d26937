"""`twin dashboard --users` as a real HTTP server: forged callback calls without and across logins."""

from __future__ import annotations

import http.cookiejar
import json
import os
import subprocess
import sys
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner

from dashboards.auth.users import User, add_user
from dashboards.cli import dashboard
from tests.dash_json import callback_body, numbers
from tests.dashboard_login import csrf_token, login_form
from tests.fixtures.servers import free_port, read_log, stop, wait_port
from twin.codec import Reading
from twin.historian import open_historian
from twin.timespec import now_ms

SECRET = "http-test-secret-0123456789abcdef"


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args, **kwargs):  # type: ignore[no-untyped-def]
        return None  # keep 302s visible to the test


def _opener() -> urllib.request.OpenerDirector:
    return urllib.request.build_opener(urllib.request.HTTPCookieProcessor(http.cookiejar.CookieJar()), _NoRedirect())


def _call(opener, url: str, body: object | None = None, form: dict | None = None) -> tuple[int, bytes]:  # type: ignore[no-untyped-def]
    if form is not None:
        req = urllib.request.Request(url, data=urllib.parse.urlencode(form).encode(), method="POST")
    elif body is not None:
        req = urllib.request.Request(
            url, data=json.dumps(body).encode(), headers={"Content-Type": "application/json"}, method="POST"
        )
    else:
        req = urllib.request.Request(url)
    try:
        with opener.open(req, timeout=10) as r:
            return r.status, r.read()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read()


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    tmp = tmp_path_factory.mktemp("login-http")
    url = "sqlite://" + str(tmp / "history.db")
    now = now_ms()
    with open_historian(url) as h:
        h.store(
            [
                Reading(f"kpi.shift.factory.{f}.oee", now - i * 60_000, v)
                for f, v in (("alpha-f1", 0.61), ("beta-f1", 0.93))
                for i in range(60)
            ]
        )
    users = tmp / "users.yaml"
    add_user(users, User("alpha", "tenant", "alpha-elec"), "alpha-pass")
    add_user(users, User("ops", "operator"), "ops-pass")
    port = free_port()
    log = tmp / "dashboard.log"
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "twin",
            "dashboard",
            "--historian",
            url,
            "--config",
            "tiny",
            "--port",
            str(port),
            "--users",
            str(users),
            "--state-dir",
            str(tmp / "state"),
        ],
        stdout=log.open("wb"),
        stderr=subprocess.STDOUT,
        env={**os.environ, "TWIN_DASHBOARD_SECRET": SECRET},
    )
    try:
        wait_port(port, timeout=30, proc=proc)
    except Exception:
        stop(proc)
        raise AssertionError(f"dashboard did not start:\n{read_log(log)}") from None
    yield f"http://127.0.0.1:{port}"
    stop(proc)
    text = read_log(log, limit=100_000)
    assert "Traceback" not in text, text
    assert "ops-pass" not in text and "alpha-pass" not in text  # passwords never logged


def _logged_in(base: str, user: str) -> urllib.request.OpenerDirector:
    opener = _opener()
    _, page = _call(opener, base + "/login")
    form = {"username": user, "password": f"{user}-pass", "next": "/", "csrf_token": csrf_token(page)}
    status, _ = _call(opener, base + "/login", form=form)
    assert status == 302
    return opener


def _refresh_body(base: str, tenant: object) -> dict:
    _, raw = _call(_logged_in(base, "ops"), base + "/_dash-dependencies")
    dep = next(d for d in json.loads(raw) if "tenant-oee.figure" in d["output"])
    values = {"tenant-select": tenant, "tenant-range": "24h", "tenant-tick": 1}
    return callback_body(dep, values, changed="tenant-select.value")


def test_unauthenticated_callback_returns_no_data(server: str) -> None:
    status, body = _call(_opener(), server + "/_dash-update-component", _refresh_body(server, "alpha-elec"))
    assert status == 401
    assert b"Alpha" not in body and 0.61 not in numbers(body)
    status, _ = _call(_opener(), server + "/tenant")
    assert status == 302  # to the login page


def test_cross_tenant_callback_returns_no_data(server: str) -> None:
    alpha = _logged_in(server, "alpha")
    status, body = _call(alpha, server + "/_dash-update-component", _refresh_body(server, "beta-chem"))
    assert status == 200
    assert b"Beta" not in body and 0.93 not in numbers(body) and b"beta-f1" not in body
    status, own = _call(alpha, server + "/_dash-update-component", _refresh_body(server, "alpha-elec"))
    assert status == 200 and b"Alpha PCB plant" in own and 0.61 in numbers(own)


def test_operator_gets_any_tenant(server: str) -> None:
    status, body = _call(
        _logged_in(server, "ops"), server + "/_dash-update-component", _refresh_body(server, "beta-chem")
    )
    assert status == 200 and b"Beta resin plant" in body and 0.93 in numbers(body)


def test_users_without_a_session_key_fail_fast(tmp_path: Path) -> None:
    users = tmp_path / "users.yaml"
    add_user(users, User("ops", "operator"), "pw")
    env = {"TWIN_DASHBOARD_SECRET": None, "TWIN_DASHBOARD_SECRET_FILE": None}  # None: unset
    r = CliRunner().invoke(
        dashboard,
        ["--historian", "sqlite://" + str(tmp_path / "h.db"), "--config", "tiny", "--users", str(users)],
        env=env,
    )
    assert r.exit_code != 0 and "session key" in r.output


def test_bad_users_file_fails_fast_with_the_reason(tmp_path: Path) -> None:
    users = tmp_path / "users.yaml"
    users.write_text("users: [{username: a, password_hash: secret, role: admin}]")
    r = CliRunner().invoke(
        dashboard,
        [
            "--historian",
            "sqlite://" + str(tmp_path / "h.db"),
            "--config",
            "tiny",
            "--users",
            str(users),
            "--dev-secret",
        ],
    )
    assert r.exit_code != 0 and "users[0].password_hash" in r.output


def test_wsgi_factory_turns_on_login_from_the_environment(tmp_path: Path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    from dashboards.wsgi import wsgi_app

    users = tmp_path / "users.yaml"
    add_user(users, User("ops", "operator"), "ops-pass")
    monkeypatch.setenv("TWIN_HISTORIAN", "sqlite://" + str(tmp_path / "h.db"))
    monkeypatch.setenv("TWIN_CONFIG", "tiny")
    monkeypatch.setenv("TWIN_DASHBOARD_USERS", str(users))
    monkeypatch.delenv("TWIN_DASHBOARD_SECRET", raising=False)
    monkeypatch.delenv("TWIN_DASHBOARD_SECRET_FILE", raising=False)
    monkeypatch.setenv("TWIN_DASHBOARD_STATE_DIR", str(tmp_path / "state"))
    with pytest.raises(ValueError, match="TWIN_DASHBOARD_SECRET"):
        wsgi_app()  # no random key: workers would not share it
    key = tmp_path / "session.key"
    key.write_bytes(b"k" * 32)
    monkeypatch.setenv("TWIN_DASHBOARD_SECRET_FILE", str(key))
    client = wsgi_app().test_client()
    assert client.get("/_dash-layout").status_code == 401
    assert login_form(client, "ops", "ops-pass").status_code == 302
    assert client.get("/_dash-layout").status_code == 200
