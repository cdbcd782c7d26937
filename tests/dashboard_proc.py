"""A real `twin dashboard` process for HTTP tests, and a small cookie-keeping HTTP client."""

from __future__ import annotations

import http.cookiejar
import json
import os
import subprocess
import sys
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

from tests.dashboard_login import csrf_token
from tests.fixtures.servers import free_port, read_log, stop, wait_port

__all__ = ["Client", "DashboardProc", "Response"]


@dataclass
class DashboardProc:
    """``twin dashboard ARGS`` on a free port, output in ``log``; stop() checks for tracebacks."""

    args: list[str]
    tmp: Path
    env: dict[str, str] = field(default_factory=dict)
    port: int = 0
    proc: subprocess.Popen | None = None

    @property
    def log(self) -> Path:
        return self.tmp / "dashboard.log"

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> DashboardProc:
        self.port = free_port()
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "twin", "dashboard", "--port", str(self.port), *self.args],
            stdout=self.log.open("wb"),
            stderr=subprocess.STDOUT,
            env={**os.environ, **self.env},
        )
        try:
            wait_port(self.port, timeout=60, proc=self.proc)
        except Exception:
            stop(self.proc)
            raise AssertionError(f"dashboard did not start:\n{read_log(self.log)}") from None
        return self

    def stop(self) -> str:
        if self.proc is not None:
            stop(self.proc)
        return read_log(self.log, limit=1_000_000)


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args, **kwargs):  # type: ignore[no-untyped-def]
        return None  # keep 302s visible to the test


@dataclass
class Response:
    status: int
    headers: dict[str, str]
    set_cookies: list[str]
    body: bytes


class Client:
    """A browser-like HTTP client: keeps cookies; ``ip`` goes out as X-Forwarded-For."""

    def __init__(self, base: str, ip: str | None = None):
        self.base = base
        self.ip = ip
        self.jar = http.cookiejar.CookieJar()
        self._opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(self.jar), _NoRedirect())

    def request(
        self, path: str, *, form: dict | None = None, body: object = None, raw: bytes | None = None
    ) -> Response:
        headers = {"X-Forwarded-For": self.ip} if self.ip else {}
        data = None
        if form is not None:
            data = urllib.parse.urlencode(form).encode()
        elif body is not None:
            data, headers["Content-Type"] = json.dumps(body).encode(), "application/json"
        elif raw is not None:
            data, headers["Content-Type"] = raw, "application/x-www-form-urlencoded"
        req = urllib.request.Request(self.base + path, data=data, headers=headers, method="POST" if data else "GET")
        try:
            with self._opener.open(req, timeout=30) as r:
                return Response(r.status, dict(r.headers.items()), r.headers.get_all("Set-Cookie") or [], r.read())
        except urllib.error.HTTPError as exc:
            return Response(
                exc.code, dict(exc.headers.items()), exc.headers.get_all("Set-Cookie") or [], exc.read()
            )

    def token(self) -> str:
        return csrf_token(self.request("/login").body)

    def logout(self) -> Response:
        """Sign out as the header's button does: POST /logout with the session's token."""
        token = csrf_token(self.request("/logout").body)
        return self.request("/logout", form={"csrf_token": token})

    def login(self, username: str, password: str, next_path: str = "/") -> Response:
        form = {"username": username, "password": password, "next": next_path, "csrf_token": self.token()}
        return self.request("/login", form=form)
