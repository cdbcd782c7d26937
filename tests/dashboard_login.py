"""Signing in to the dashboard from tests: the login form carries a CSRF token to send back."""

from __future__ import annotations

import re

__all__ = ["csrf_token", "login_form"]

_TOKEN = re.compile(rb'name="csrf_token" value="([^"]+)"')


def csrf_token(html: bytes) -> str:
    """The CSRF token of a login page's HTML (AssertionError when there is none)."""
    m = _TOKEN.search(html)
    assert m, "no csrf_token in the login page"
    return m.group(1).decode()


def login_form(client, username: str, password: str, next_path: str = "/"):  # type: ignore[no-untyped-def]
    """GET /login then POST the form with its token, on a Flask test client; the POST's response.

    In open local mode ``/login`` only redirects home: then the form is posted without a token.
    """
    page = client.get("/login")
    token = csrf_token(page.data) if page.status_code == 200 else ""
    return client.post(
        "/login", data={"username": username, "password": password, "next": next_path, "csrf_token": token}
    )
