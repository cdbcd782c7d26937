"""Dashboard hardening against a real `twin dashboard` process over HTTP.

Security headers on pages, static files, callbacks and errors; session cookie flags;
the login form's CSRF token; login rate limits per username and per client address;
hostile login input; production mode's refusals of weak setups.
"""

from __future__ import annotations

import base64
import hashlib
import json
import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner

from dashboards.auth.users import User, add_user
from dashboards.cli import dashboard
from dashboards.user_cli import dashboard_user
from tests.dash_json import callback_body
from tests.dashboard_proc import Client, DashboardProc, Response
from twin.codec import Reading
from twin.historian import open_historian
from twin.timespec import now_ms

KEY = "security-test-session-key-7f3a9c1e5b2d8f4a6c0e"
PER_USER, PER_IP = 5, 20  # the defaults of dashboards.ratelimit.LoginLimit


@pytest.fixture(scope="module")
def setup(tmp_path_factory: pytest.TempPathFactory) -> Path:
    tmp = tmp_path_factory.mktemp("dash-security")
    with open_historian("sqlite://" + str(tmp / "history.db")) as h:
        h.store([Reading("kpi.shift.factory.alpha-f1.oee", now_ms() - i * 60_000, 0.61) for i in range(30)])
    add_user(tmp / "users.yaml", User("ops", "operator"), "ops-pass")
    add_user(tmp / "users.yaml", User("alpha", "tenant", "alpha-elec"), "alpha-pass")
    (tmp / "session.key").write_text(KEY)
    return tmp


def _args(tmp: Path, *extra: str) -> list[str]:
    return [
        "--historian", "sqlite://" + str(tmp / "history.db"), "--config", "tiny",
        "--users", str(tmp / "users.yaml"), "--secret-file", str(tmp / "session.key"), *extra,
    ]  # fmt: skip


@pytest.fixture(scope="module")
def server(setup: Path) -> Iterator[str]:
    """One process behind a (pretend) proxy: X-Forwarded-For picks the client address per test."""
    proc = DashboardProc(_args(setup, "--state-dir", str(setup / "state"), "--proxy-hops", "1"), setup).start()
    yield proc.url
    text = proc.stop()
    assert "Traceback" not in text, text[-5000:]
    assert "ops-pass" not in text and "alpha-pass" not in text and KEY not in text


def _ok_headers(r: Response, cacheable: bool) -> None:
    csp = r.headers["Content-Security-Policy"]
    script_src = re.search(r"script-src ([^;]+)", csp).group(1).split()
    assert script_src[0] == "'self'" and "'unsafe-inline'" not in script_src
    assert all(s in ("'self'", "'unsafe-eval'") or s.startswith("'sha256-") for s in script_src)
    assert "frame-ancestors 'none'" in csp and "object-src 'none'" in csp and "default-src 'self'" in csp
    assert r.headers["X-Frame-Options"] == "DENY"
    assert r.headers["X-Content-Type-Options"] == "nosniff"
    assert r.headers["Referrer-Policy"] == "same-origin"
    assert "Strict-Transport-Security" not in r.headers  # plain HTTP here
    assert ("no-store" in r.headers.get("Cache-Control", "")) is not cacheable


def _callback_body(client: Client, tenant: str) -> dict:
    deps = json.loads(client.request("/_dash-dependencies").body)
    dep = next(d for d in deps if "tenant-oee.figure" in d["output"])
    values = {"tenant-select": tenant, "tenant-range": "24h", "tenant-tick": 1}
    return callback_body(dep, values, changed="tenant-select.value")


# ---- headers ------------------------------------------------------------------------


def test_security_headers_on_pages_static_files_callbacks_and_errors(server: str) -> None:
    anon = Client(server, ip="10.1.0.1")
    login = anon.request("/login")
    _ok_headers(login, cacheable=False)
    _ok_headers(anon.request("/_dash-layout"), cacheable=False)  # a 401
    _ok_headers(anon.request("/health"), cacheable=False)
    _ok_headers(anon.request("/assets/dashboard.css"), cacheable=True)

    ops = Client(server, ip="10.1.0.2")
    assert ops.login("ops", "ops-pass").status == 302
    page = ops.request("/")
    assert page.status == 200
    _ok_headers(page, cacheable=False)
    html = page.body.decode()
    bundle = re.search(r'src="(/_dash-component-suites/[^"]+\.js)"', html).group(1)
    js = ops.request(bundle)
    assert js.status == 200
    _ok_headers(js, cacheable=True)
    cb = ops.request("/_dash-update-component", body=_callback_body(ops, "alpha-elec"))
    assert cb.status == 200 and b"Alpha PCB plant" in cb.body
    _ok_headers(cb, cacheable=False)
    _ok_headers(ops.request("/_dash-update-component", body={"output": "nope"}), cacheable=False)  # a 400

    # The CSP's hash is the one of the inline renderer script the page really carries.
    inline = re.search(r'<script id="_dash-renderer" type="application/javascript">(.*?)</script>', html, re.S)
    digest = base64.b64encode(hashlib.sha256(inline.group(1).encode()).digest()).decode()
    assert f"'sha256-{digest}'" in page.headers["Content-Security-Policy"]


def test_session_cookie_is_httponly_and_samesite(server: str) -> None:
    client = Client(server, ip="10.2.0.1")
    (form_cookie,) = client.request("/login").set_cookies  # the CSRF token's session
    r = client.login("ops", "ops-pass")
    assert r.status == 302
    (login_cookie,) = r.set_cookies
    for cookie in (form_cookie, login_cookie):
        flags = {f.strip().split("=")[0].lower() for f in cookie.split(";")[1:]}
        assert "httponly" in flags and "samesite=lax" in cookie.lower()
        assert "secure" not in flags  # plain HTTP without --https: a Secure cookie would never come back
    assert "expires" in login_cookie.lower()  # ends after the idle timeout, not with the browser only


# ---- CSRF ---------------------------------------------------------------------------


def test_login_without_or_with_a_forged_csrf_token_is_400(server: str) -> None:
    good = {"username": "ops", "password": "ops-pass", "next": "/"}
    client = Client(server, ip="10.3.0.1")
    client.token()  # a session with a token exists, but the form does not send it
    for form in (good, {**good, "csrf_token": ""}, {**good, "csrf_token": "A" * 43}):
        r = client.request("/login", form=form)
        assert r.status == 400 and b"expired or came from another site" in r.body
        assert client.request("/_dash-layout").status == 401
    other = Client(server, ip="10.3.0.2").token()  # a real token, of another browser's session
    r = client.request("/login", form={**good, "csrf_token": other})
    assert r.status == 400
    no_session = Client(server, ip="10.3.0.3")  # a cross-site form post: no session cookie at all
    assert no_session.request("/login", form={**good, "csrf_token": other}).status == 400
    assert client.login("ops", "ops-pass").status == 302  # and the real form still works
    assert client.request("/_dash-layout").status == 200


# ---- rate limits --------------------------------------------------------------------


def test_failures_for_one_username_lock_it_from_every_address(server: str) -> None:
    for i in range(PER_USER):
        r = Client(server, ip=f"10.4.1.{i}").login("alpha", "wrong")
        assert r.status == 200 and b"Wrong username or password" in r.body
    for ip in ("10.4.1.200", "10.4.2.1"):  # the right password, from any address: still refused
        r = Client(server, ip=ip).login("alpha", "alpha-pass")
        assert r.status == 429 and b"Too many failed sign-ins" in r.body
        assert 1 <= int(r.headers["Retry-After"]) <= 300
        assert not r.set_cookies or Client(server, ip=ip).request("/_dash-layout").status == 401
    assert Client(server, ip="10.4.1.0").login("ops", "ops-pass").status == 302  # other users are not locked


def test_failures_from_one_address_lock_it_for_every_username(server: str) -> None:
    for i in range(PER_IP):
        assert Client(server, ip="10.5.0.1").login(f"nobody-{i}", "guess").status == 200
    r = Client(server, ip="10.5.0.1").login("ops", "ops-pass")
    assert r.status == 429 and int(r.headers["Retry-After"]) >= 1
    assert Client(server, ip="10.5.0.2").login("ops", "ops-pass").status == 302  # another address is fine


# ---- hostile input ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("form", "status", "text"),
    [
        ({"username": "x" * 100_000, "password": "p"}, 200, b"Wrong username or password"),
        ({"username": "운영자 👷", "password": "비밀번호"}, 200, b"Wrong username or password"),
        ({"username": "ops\x00", "password": "ops-pass"}, 200, b"Wrong username or password"),
        ({"username": "ops", "password": "ops-pass\x00"}, 200, b"Wrong username or password"),
        ({"username": "<script>alert(1)</script>", "password": "p" * 200_000}, 200, b"Wrong username or password"),
        ({"username": "ops"}, 400, b"Enter a username and a password"),
        ({"password": "ops-pass"}, 400, b"Enter a username and a password"),
        ({}, 400, b"Enter a username and a password"),
    ],
    ids=["huge-username", "unicode", "nul-username", "nul-password", "markup-huge-password", "no-password",
         "no-username", "nothing"],
)
def test_hostile_login_input_gets_a_clear_answer(server: str, form: dict, status: int, text: bytes) -> None:
    client = Client(server, ip=f"10.6.{abs(hash(json.dumps(form))) % 250}.1")
    r = client.request("/login", form={**form, "csrf_token": client.token(), "next": "/"})
    assert r.status == status and text in r.body
    assert b"<script>alert" not in r.body
    assert client.request("/_dash-layout").status == 401


def test_malformed_login_bodies_never_500(server: str) -> None:
    client = Client(server, ip="10.6.255.1")
    token = client.token()
    assert client.request("/login", raw=b"username=%ff%fe&password=%00&csrf_token=" + token.encode()).status == 200
    assert client.request("/login", raw=b"%%%&&&===").status == 400
    assert client.request("/login", raw=b"username=" + b"a" * (2 * 1024 * 1024)).status == 413
    assert client.request("/login", body={"username": "ops", "password": "ops-pass"}).status == 400  # JSON
    assert client.request("/health").status == 200  # still serving


def test_callbacks_take_only_json_so_a_cross_site_form_cannot_call_them(server: str) -> None:
    ops = Client(server, ip="10.6.254.1")
    assert ops.login("ops", "ops-pass").status == 302
    body = json.dumps(_callback_body(ops, "alpha-elec")).encode()
    r = ops.request("/_dash-update-component", raw=body)  # what an HTML form can send: not application/json
    assert r.status == 400 and b"malformed callback request" in r.body and b"Alpha" not in r.body


# ---- production mode ----------------------------------------------------------------


def _run(tmp: Path, key: bytes | None, *extra: str, env: dict | None = None):  # type: ignore[no-untyped-def]
    args = ["--historian", "sqlite://" + str(tmp / "history.db"), "--config", "tiny", "--state-dir", str(tmp / "st")]
    if key is not None:
        (tmp / "prod.key").write_bytes(key)
        args += ["--secret-file", str(tmp / "prod.key")]
    base_env = {"TWIN_DASHBOARD_SECRET": None, "TWIN_DASHBOARD_SECRET_FILE": None, "TWIN_ENV": None}
    return CliRunner().invoke(dashboard, [*args, *extra], env={**base_env, **(env or {})})


@pytest.mark.parametrize(
    ("key", "extra", "message"),
    [
        (None, ["--users", "U"], "no session key"),
        (None, ["--users", "U", "--dev-secret"], "production mode refuses --dev-secret"),
        (b"0123456789abcdefghijKLMNOP", ["--users", "U"], "it has 26 bytes; production mode needs at least 32"),
        (b"CHANGE_ME-dashboard-session-key-0123456789", ["--users", "U"], "placeholder or a well-known default"),
        (b"changeme", ["--users", "U"], "placeholder or a well-known default"),
        (b"ab" * 32, ["--users", "U"], "repeated pattern"),
        (b"   \n", ["--users", "U"], "the key is empty"),
        (b"7f3a9c1e5b2d8f4a6c0e7f3a9c1e5b2d8f4a", [], "production mode needs logins"),
    ],
    ids=["no-key", "dev-secret", "short", "placeholder", "default", "pattern", "empty", "no-users"],
)
@pytest.mark.parametrize("how", ["flag", "env"])
def test_production_mode_refuses_weak_setups(
    setup: Path, tmp_path: Path, key: bytes | None, extra: list[str], message: str, how: str
) -> None:
    extra = [str(setup / "users.yaml") if a == "U" else a for a in extra]
    if how == "flag":
        r = _run(tmp_path, key, "--production", *extra)
    else:
        r = _run(tmp_path, key, *extra, env={"TWIN_ENV": "production"})
    assert r.exit_code == 2, r.output
    assert message in r.output
    if key and key.strip():
        assert key.decode() not in r.output  # the key is never echoed


def test_short_key_refused_outside_production_too(setup: Path, tmp_path: Path) -> None:
    r = _run(tmp_path, b"short-key", "--users", str(setup / "users.yaml"))
    assert r.exit_code == 2 and "at least 16 bytes, it has 9" in r.output and "short-key" not in r.output


def test_production_refusal_from_the_real_command(setup: Path, tmp_path: Path) -> None:
    (tmp_path / "k").write_text("CHANGE_ME-dashboard-secret-from-env-example")
    p = subprocess.run(
        [sys.executable, "-m", "twin", "dashboard", "--historian", "sqlite://" + str(tmp_path / "h.db"),
         "--config", "tiny", "--users", str(setup / "users.yaml"), "--secret-file", str(tmp_path / "k"),
         "--state-dir", str(tmp_path / "st")],
        capture_output=True, text=True, timeout=120, env={**__import__("os").environ, "TWIN_ENV": "production"},
    )  # fmt: skip
    assert p.returncode == 2
    assert "production mode refuses this session key" in p.stderr and "CHANGE_ME-dashboard" not in p.stderr


def test_wsgi_factory_refuses_weak_keys_in_production(setup: Path, tmp_path: Path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    from dashboards.wsgi import wsgi_app

    (tmp_path / "k").write_text("x" * 40)
    for name, value in {
        "TWIN_HISTORIAN": "sqlite://" + str(tmp_path / "h.db"),
        "TWIN_CONFIG": "tiny",
        "TWIN_DASHBOARD_USERS": str(setup / "users.yaml"),
        "TWIN_DASHBOARD_SECRET_FILE": str(tmp_path / "k"),
        "TWIN_DASHBOARD_STATE_DIR": str(tmp_path / "st"),
        "TWIN_ENV": "production",
    }.items():
        monkeypatch.setenv(name, value)
    with pytest.raises(ValueError, match="production mode refuses this session key: it is a repeated pattern"):
        wsgi_app()
    monkeypatch.delenv("TWIN_DASHBOARD_USERS")
    with pytest.raises(ValueError, match="production mode needs logins"):
        wsgi_app()


def test_production_server_sends_secure_cookies_and_hsts(setup: Path, tmp_path: Path) -> None:
    key = tmp_path / "strong.key"
    r = CliRunner().invoke(dashboard_user, ["secret", str(key)])
    assert r.exit_code == 0 and key.read_text().strip() not in r.output
    assert key.stat().st_mode & 0o777 == 0o600 and len(key.read_text().strip()) >= 32
    again = CliRunner().invoke(dashboard_user, ["secret", str(key)])
    assert again.exit_code == 1 and "exists" in again.output

    proc = DashboardProc(
        ["--historian", "sqlite://" + str(setup / "history.db"), "--config", "tiny",
         "--users", str(setup / "users.yaml"), "--secret-file", str(key), "--production",
         "--state-dir", str(tmp_path / "state")],
        tmp_path,
    ).start()  # fmt: skip
    try:
        r = Client(proc.url).request("/login")
        assert r.status == 200
        (cookie,) = r.set_cookies
        assert "; Secure" in cookie and "HttpOnly" in cookie and "SameSite=Lax" in cookie
        assert r.headers["Strict-Transport-Security"].startswith("max-age=")
    finally:
        text = proc.stop()
    assert "Traceback" not in text and key.read_text().strip() not in text
