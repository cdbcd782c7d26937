"""Signing in to the dashboard from tests: the login form carries a CSRF token to send back."""

from __future__ import annotations

import json
import re

from tests.dash_json import find_props

__all__ = ["csrf_token", "layout_csrf_token", "login_form"]

_TOKEN = re.compile(rb'name="csrf_token" value="([^"]+)"')


def csrf_token(html: bytes) -> str:
    """The CSRF token of a login page's HTML (AssertionError when there is none)."""
    m = _TOKEN.search(html)
    assert m, "no csrf_token in the login page"
    return m.group(1).decode()


def layout_csrf_token(layout: bytes) -> str:
    """The token of the header's sign-out form in a ``/_dash-layout`` response."""
    props = find_props(json.loads(layout), "name", "csrf_token")
    assert props is not None and isinstance(props.get("value"), str), "no sign-out form with a csrf_token"
    return props["value"]


def login_form(client, username: str, password: str, next_path: str = "/"):  # type: ignore[no-untyped-def]
    """GET /login then POST the form with its token, on a Flask test client; the POST's response.

    In open local mode ``/login`` only redirects home: then the form is posted without a token.
    """
    page = client.get("/login")
    token = csrf_token(page.data) if page.status_code == 200 else ""
    return client.post(
        "/login", data={"username": username, "password": password, "next": next_path, "csrf_token": token}
    )
