"""Login and roles: users file, session, page and callback checks (Flask test client, real SQLite)."""

from __future__ import annotations

import json
from pathlib import Path

import plotly.io.json
import pytest
from click.testing import CliRunner

from dashboards.app import create_app
from dashboards.auth.session import AuthConfig, safe_next
from dashboards.auth.users import User, UsersFileError, add_user, load_users
from dashboards.user_cli import dashboard_user
from tests.dash_json import callback_body, column, find_props, numbers
from tests.dashboard_login import layout_csrf_token, login_form
from twin.codec import Reading
from twin.config import load_complex
from twin.historian import open_historian
from twin.timespec import now_ms

SECRET = b"0123456789abcdef-test-only-secret"
NOW = now_ms()  # inside the historian's retention; the apps' clock is frozen at it


@pytest.fixture(scope="module")
def users_path(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("users") / "users.yaml"
    add_user(path, User("ops", "operator"), "ops-pass")
    add_user(path, User("alpha", "tenant", "alpha-elec"), "alpha-pass")
    add_user(path, User("beta", "tenant", "beta-chem"), "beta-pass")
    add_user(path, User("eng", "engineer"), "eng-pass")
    return path


@pytest.fixture(scope="module")
def history_url(tmp_path_factory: pytest.TempPathFactory) -> str:
    url = "sqlite://" + str(tmp_path_factory.mktemp("history") / "history.db")
    with open_historian(url) as h:
        h.store(
            [
                Reading(f"kpi.shift.factory.{f}.{k}", NOW - i * 60_000, v)
                for f, v in (("alpha-f1", 0.61), ("beta-f1", 0.93))
                for k in ("oee", "availability", "performance", "quality", "energy_per_good_unit_kwh")
                for i in range(30)
            ]
        )
    return url


@pytest.fixture(scope="module")
def app(users_path: Path, history_url: str):  # type: ignore[no-untyped-def]
    complex_ = load_complex("tiny")
    users = load_users(users_path, [t.id for t in complex_.tenants])
    return create_app(complex_, history_url, clock=lambda: NOW, auth=AuthConfig(users, SECRET))


def _client(app, user: str | None = None, password: str | None = None):  # type: ignore[no-untyped-def]
    client = app.server.test_client()
    if user is not None:
        r = login_form(client, user, password or f"{user}-pass")
        assert r.status_code == 302, r.data
    return client


def _deps(client) -> list[dict]:  # type: ignore[no-untyped-def]
    r = client.get("/_dash-dependencies")
    assert r.status_code == 200
    return json.loads(r.data)


def _body(dep: dict, values: dict[str, object]) -> dict:
    """A /_dash-update-component body built from the app's own dependency list."""
    return callback_body(dep, values, partial=True)


def tree_of(body: bytes) -> object:
    return json.loads(body)["response"]["shell-content"]["children"]


def _tenant_refresh(app, client, tenant: object, range_key: object = "24h"):  # type: ignore[no-untyped-def]
    deps = _deps(_client(app, "ops"))  # the dependency list itself needs a login
    dep = next(d for d in deps if "tenant-oee.figure" in d["output"])
    return client.post(
        "/_dash-update-component",
        json=_body(dep, {"tenant-select": tenant, "tenant-range": range_key, "tenant-tick": 1}),
    )


def _trace_names(response) -> list[str]:  # type: ignore[no-untyped-def]
    fig = json.loads(response.data)["response"]["tenant-oee"]["figure"]
    return [t.get("name", "") for t in fig["data"]]


# ---- users file --------------------------------------------------------------------


def test_users_file_stores_argon2_hashes_and_authenticates(users_path: Path) -> None:
    text = users_path.read_text()
    assert "ops-pass" not in text and "$argon2id$" in text
    users = load_users(users_path)
    assert users.authenticate("ops", "ops-pass") == User("ops", "operator")
    assert users.authenticate("ops", "wrong") is None
    assert users.authenticate("nobody", "ops-pass") is None
    assert users.authenticate(["ops"], "ops-pass") is None
    assert users.get("alpha") == User("alpha", "tenant", "alpha-elec")


def test_add_user_refuses_duplicates_unless_replacing(tmp_path: Path) -> None:
    path = tmp_path / "u.yaml"
    add_user(path, User("a", "admin"), "one")
    with pytest.raises(UsersFileError, match="exists"):
        add_user(path, User("a", "admin"), "two")
    add_user(path, User("a", "engineer"), "two", replace=True)
    users = load_users(path)
    assert users.authenticate("a", "two") == User("a", "engineer")
    assert users.authenticate("a", "one") is None


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ("users: [{username: a, password_hash: plain, role: admin}]", r"users\[0\]\.password_hash"),
        ("users: [{username: a, password_hash: $argon2id$x, role: boss}]", r"users\[0\]: role must be"),
        ("users: [{username: a, password_hash: $argon2id$x, role: tenant}]", "needs a tenant"),
        ("users: [{username: a, password_hash: $argon2id$x, role: admin, tenant: t}]", "only role tenant"),
        ("users: [{username: a, password_hash: $argon2id$x, role: admin, pw: 1}]", "unknown key"),
        ("users: {a: 1}", "list under 'users'"),
        ("users: [", "not valid YAML"),
    ],
)
def test_bad_users_file_names_file_entry_and_reason(tmp_path: Path, text: str, problem: str) -> None:
    path = tmp_path / "bad.yaml"
    path.write_text(text)
    with pytest.raises(UsersFileError, match=problem) as info:
        load_users(path)
    assert str(path) in str(info.value)


def test_tenant_user_bound_to_unknown_tenant_fails_against_config(users_path: Path) -> None:
    with pytest.raises(UsersFileError, match="'alpha-elec' is not in the config"):
        load_users(users_path, ["hanbit"])


def test_login_needs_a_long_enough_secret(users_path: Path) -> None:
    with pytest.raises(ValueError, match="secret key"):
        AuthConfig(load_users(users_path), b"short")


@pytest.mark.parametrize("value", ["//evil.example/", "https://evil.example/", "\\\\evil", None, 3, "x"])
def test_login_redirect_stays_on_this_site(value: object) -> None:
    assert safe_next(value, "/") == "/"
    assert safe_next("/tenant?x=1", "/") == "/tenant?x=1"


# ---- requests without a login ------------------------------------------------------


def test_anonymous_page_request_redirects_to_login(app) -> None:  # type: ignore[no-untyped-def]
    client = _client(app)
    r = client.get("/tenant")
    assert r.status_code == 302 and r.headers["Location"].startswith("/login?next=/tenant")
    login = client.get("/login")
    assert login.status_code == 200 and b'name="password"' in login.data
    assert client.get("/health").status_code == 200  # health checks need no login
    assert client.get("/assets/dashboard.css").status_code == 200  # the login page's style


@pytest.mark.parametrize("path", ["/_dash-layout", "/_dash-dependencies"])
def test_anonymous_dash_internals_answer_401(app, path: str) -> None:  # type: ignore[no-untyped-def]
    r = _client(app).get(path)
    assert r.status_code == 401 and b"alpha" not in r.data


def test_anonymous_forged_callback_gets_no_data(app) -> None:  # type: ignore[no-untyped-def]
    r = _tenant_refresh(app, _client(app), "alpha-elec")
    assert r.status_code == 401
    assert b"Alpha" not in r.data and 0.61 not in numbers(r.data)


def test_forged_session_cookie_is_not_a_login(app) -> None:  # type: ignore[no-untyped-def]
    client = _client(app)
    client.set_cookie("session", "eyJ1c2VyIjoib3BzIn0.forged.signature")
    assert _tenant_refresh(app, client, "alpha-elec").status_code == 401


def test_wrong_password_is_refused_with_a_message(app) -> None:  # type: ignore[no-untyped-def]
    client = _client(app)
    r = login_form(client, "ops", "nope")
    assert r.status_code == 200 and b"Wrong username or password" in r.data
    assert client.get("/_dash-layout").status_code == 401


def test_logout_ends_the_session(app) -> None:  # type: ignore[no-untyped-def]
    client = _client(app, "ops")
    layout = client.get("/_dash-layout")
    assert layout.status_code == 200
    token = layout_csrf_token(layout.data)  # the header's sign-out form carries the session's token
    r = client.post("/logout", data={"csrf_token": token})
    assert r.status_code == 302 and r.headers["Location"].endswith("/login")
    assert client.get("/_dash-layout").status_code == 401


def test_sign_out_token_survives_parallel_requests(app) -> None:  # type: ignore[no-untyped-def]
    """The page fetches its layout and callbacks in parallel, and each reply sends back the
    session cookie its request came with. The token must already be in the cookie the
    login set, or a reply sent with that older cookie would erase it (seen in Chromium)."""
    client = _client(app, "ops")
    after_login = client.get_cookie("session").value
    token = layout_csrf_token(client.get("/_dash-layout").data)
    client.set_cookie("session", after_login)  # a parallel reply, sent with the login's cookie
    r = client.post("/logout", data={"csrf_token": token})
    assert r.status_code == 302 and client.get("/_dash-layout").status_code == 401


@pytest.mark.parametrize("token", [None, "", "forged-" + "x" * 40, ["a", "b"]])
def test_logout_without_the_session_token_keeps_the_session(app, token: object) -> None:  # type: ignore[no-untyped-def]
    """A link or a form on another site cannot sign an operator out of the wall screen."""
    client = _client(app, "ops")
    page = client.get("/logout")  # a GET shows the button, it signs nobody out
    assert page.status_code == 200 and b'id="logout-form"' in page.data and b'method="post"' in page.data
    assert client.get("/_dash-layout").status_code == 200
    data = {} if token is None else {"csrf_token": token}
    refused = client.post("/logout", data=data)
    assert refused.status_code == 400 and b"still signed in" in refused.data
    assert client.get("/_dash-layout").status_code == 200


# ---- roles and tenants -------------------------------------------------------------


def test_tenant_user_gets_its_own_data(app) -> None:  # type: ignore[no-untyped-def]
    r = _tenant_refresh(app, _client(app, "alpha"), "alpha-elec")
    assert r.status_code == 200
    names = _trace_names(r)
    assert "Alpha PCB plant · oee" in names and not any("Beta" in n for n in names)
    fig = json.loads(r.data)["response"]["tenant-oee"]["figure"]
    oee = next(t for t in fig["data"] if t["name"] == "Alpha PCB plant · oee")
    ys = column(oee["y"])
    assert ys and all(abs(y - 0.61) < 1e-9 for y in ys)


@pytest.mark.parametrize("forged", ["beta-chem", ["beta-chem"], {"id": "beta-chem"}, None, "", "../beta-chem"])
def test_tenant_user_forging_another_tenant_gets_nothing(app, forged: object) -> None:  # type: ignore[no-untyped-def]
    r = _tenant_refresh(app, _client(app, "alpha"), forged)
    assert r.status_code in (200, 400)
    assert b"Beta" not in r.data and 0.93 not in numbers(r.data) and b"beta-f1" not in r.data


def test_tenant_export_of_another_tenant_gets_nothing(app) -> None:  # type: ignore[no-untyped-def]
    dep = next(d for d in _deps(_client(app, "ops")) if "tenant-download.data" in d["output"])
    own = _client(app, "alpha").post(
        "/_dash-update-component",
        json=_body(dep, {"tenant-export": 1, "tenant-select": "alpha-elec", "tenant-range": "24h"}),
    )
    assert own.status_code == 200 and b"alpha-f1" in own.data and b"0.61" in own.data
    forged = _client(app, "alpha").post(
        "/_dash-update-component",
        json=_body(dep, {"tenant-export": 1, "tenant-select": "beta-chem", "tenant-range": "24h"}),
    )
    assert b"beta-f1" not in forged.data and b"0.93" not in forged.data


def test_tenant_picker_lists_only_the_session_tenant(app) -> None:  # type: ignore[no-untyped-def]
    """The router lays the portal out for the session's user: the picker comes filled."""
    dep = next(d for d in _deps(_client(app, "ops")) if "shell-content.children" in d["output"])

    def portal(user: str) -> tuple[dict, dict, bytes]:
        r = _client(app, user).post("/_dash-update-component", json=_body(dep, {"shell-url": "/tenant"}))
        assert r.status_code == 200
        tree = json.loads(r.data)["response"]["shell-content"]["children"]
        props, oee = find_props(tree, "id", "tenant-select"), find_props(tree, "id", "tenant-oee")
        assert props is not None and oee is not None
        return props, oee, r.data

    def picker(user: str) -> dict:
        return portal(user)[0]

    alpha, oee, body = portal("alpha")
    assert [o["value"] for o in alpha["options"]] == ["alpha-elec"] and alpha["value"] == "alpha-elec"
    # The first view comes filled with the session tenant's own data, and nothing else.
    names = [t["name"] for t in oee["figure"]["data"]]
    assert "Alpha PCB plant · oee" in names and not any("Beta" in n for n in names)
    assert 0.61 in numbers(body) and 0.93 not in numbers(body) and b"beta-f1" not in body
    # ... the Pareto and the open alarms too: the first load calls no tenant callback.
    pareto_status = find_props(tree_of(body), "id", "tenant-pareto-status")
    assert pareto_status is not None and pareto_status["children"]
    alarms = find_props(tree_of(body), "id", "tenant-alarms")
    assert alarms is not None and alarms.get("children")
    ops = picker("ops")
    assert [o["value"] for o in ops["options"]] == ["alpha-elec", "beta-chem"] and ops["value"] == "alpha-elec"
    # Dash's validation layout (no session) names no tenant at all.
    validation = json.loads(plotly.io.json.to_json_plotly(app.validation_layout))
    unbound = find_props(validation, "id", "tenant-select")
    assert unbound is not None and unbound["options"] == [] and unbound["value"] is None


def test_operator_sees_every_tenant(app) -> None:  # type: ignore[no-untyped-def]
    client = _client(app, "ops")
    assert "Beta resin plant · oee" in _trace_names(_tenant_refresh(app, client, "beta-chem"))
    assert "Alpha PCB plant · oee" in _trace_names(_tenant_refresh(app, client, "alpha-elec"))


def test_tenant_user_cannot_call_overview_callbacks(app) -> None:  # type: ignore[no-untyped-def]
    dep = next(d for d in _deps(_client(app, "ops")) if "overview-trend.figure" in d["output"])
    values = {"overview-tick": 1, "overview-selection": {"sensor": "alpha-smt-power"}, "overview-range": "15m"}
    assert _client(app, "alpha").post("/_dash-update-component", json=_body(dep, values)).status_code == 403
    assert _client(app, "ops").post("/_dash-update-component", json=_body(dep, values)).status_code == 200


def test_engineer_cannot_open_the_tenant_portal_callbacks(app) -> None:  # type: ignore[no-untyped-def]
    assert _tenant_refresh(app, _client(app, "eng"), "alpha-elec").status_code == 403


def test_navigation_lists_only_the_pages_of_the_role(app) -> None:  # type: ignore[no-untyped-def]
    alpha = _client(app, "alpha").get("/_dash-layout").data.decode()
    assert "Tenant portal" in alpha and '"Overview"' not in alpha and "alpha · tenant · alpha-elec" in alpha
    ops = _client(app, "ops").get("/_dash-layout").data.decode()
    assert "Tenant portal" in ops and '"Overview"' in ops


def test_router_shows_a_tenant_its_portal_and_refuses_the_overview(app) -> None:  # type: ignore[no-untyped-def]
    dep = next(d for d in _deps(_client(app, "ops")) if "shell-content.children" in d["output"])
    home = _client(app, "alpha").post("/_dash-update-component", json=_body(dep, {"shell-url": "/"}))
    assert b"tenant-oee" in home.data and b"overview-sitemap" not in home.data
    eng = _client(app, "eng").post("/_dash-update-component", json=_body(dep, {"shell-url": "/tenant"}))
    assert b"Not available for your role" in eng.data and b"tenant-oee" not in eng.data


def _first_layout(app, user: str, referrer: str | None) -> dict:  # type: ignore[no-untyped-def]
    headers = {"Referer": referrer} if referrer is not None else {}
    r = _client(app, user).get("/_dash-layout", headers=headers)
    assert r.status_code == 200
    return json.loads(r.data)


def _shown(layout: dict) -> tuple[object, object]:
    """The page path the layout says it holds, and the ids of the page content it holds."""
    routed, content = find_props(layout, "id", "shell-routed"), find_props(layout, "id", "shell-content")
    assert routed is not None and content is not None
    return routed["data"], content.get("children")


@pytest.mark.parametrize(
    ("user", "referrer", "path", "holds", "lacks"),
    [
        ("ops", "http://localhost/", "/", "overview-sitemap", "tenant-oee"),
        ("ops", "http://localhost/alarms?x=1#y", "/alarms", "alarms-table", "overview-sitemap"),
        ("alpha", "http://localhost/tenant", "/tenant", "tenant-oee", "overview-sitemap"),
        ("alpha", "http://localhost/", "/", "tenant-oee", "overview-sitemap"),  # a tenant's home: the portal
        ("alpha", "http://localhost/alarms", "/alarms", "Not available for your role", "alarms-table"),
        ("eng", "http://localhost/nowhere", "/nowhere", "Page not found", "overview-sitemap"),
    ],
)
def test_first_layout_comes_with_the_page_it_was_loaded_from(app, user, referrer, path, holds, lacks) -> None:  # type: ignore[no-untyped-def]
    """The layout request names its page (Referer): that page comes with it, for the session's
    user and role, as the router would render it; so a first load makes no routing round trip."""
    layout = _first_layout(app, user, referrer)
    routed, content = _shown(layout)
    assert routed == path
    text = json.dumps(content)
    assert holds in text and lacks not in text
    if user == "alpha":
        assert "beta-f1" not in json.dumps(layout)  # the portal is the session tenant's own


@pytest.mark.parametrize(
    "referrer", [None, "", "http://elsewhere.example/tenant", "not a url ::", "http://[::1/", "http://localhost"]
)
def test_first_layout_without_a_usable_referrer_leaves_routing_to_the_router(app, referrer) -> None:  # type: ignore[no-untyped-def]
    routed, content = _shown(_first_layout(app, "ops", referrer))
    if referrer == "http://localhost":  # same origin, no path: the start page
        assert routed == "/" and "overview-sitemap" in json.dumps(content)
    else:
        assert routed is None and content is None


def test_router_sends_nothing_for_the_page_already_shown(app) -> None:  # type: ignore[no-untyped-def]
    dep = next(d for d in _deps(_client(app, "ops")) if "shell-content.children" in d["output"])
    client = _client(app, "ops")
    same = client.post(
        "/_dash-update-component", json=_body(dep, {"shell-url": "/alarms", "shell-routed": "/alarms"})
    )
    assert same.status_code == 200 and json.loads(same.data)["response"] == {}  # Dash's "nothing to update"
    other = client.post("/_dash-update-component", json=_body(dep, {"shell-url": "/alarms/", "shell-routed": "/"}))
    # A path outside the app (and so never "already shown") is a page not found, not an error.
    for forged in ("alarms", "", "../x"):
        r = client.post("/_dash-update-component", json=_body(dep, {"shell-url": forged, "shell-routed": None}))
        assert r.status_code == 200 and b"Page not found" in r.data
    response = json.loads(other.data)["response"]
    assert response["shell-routed"]["data"] == "/alarms" and "alarms-table" in json.dumps(response)
    # A forged "already shown" only withholds a page; it never shows one the role may not open.
    alpha = _client(app, "alpha").post(
        "/_dash-update-component", json=_body(dep, {"shell-url": "/", "shell-routed": ["/"]})
    )
    assert b"tenant-oee" in alpha.data and b"overview-sitemap" not in alpha.data


def test_open_local_mode_needs_no_login_and_says_so(history_url: str) -> None:
    app = create_app(load_complex("tiny"), history_url, clock=lambda: NOW)
    client = app.server.test_client()
    layout = client.get("/_dash-layout")
    assert layout.status_code == 200 and b"Open local mode" in layout.data
    assert "Beta resin plant · oee" in _trace_names(_tenant_refresh(app, client, "beta-chem"))


# ---- twin dashboard-user -----------------------------------------------------------


def test_dashboard_user_add_and_list(tmp_path: Path) -> None:
    path = tmp_path / "users.yaml"
    runner = CliRunner()
    r = runner.invoke(
        dashboard_user,
        [
            "add",
            "kim",
            "--users",
            str(path),
            "--role",
            "tenant",
            "--tenant",
            "alpha-elec",
            "--config",
            "tiny",
            "--password-stdin",
        ],
        input="s3cret\n",
    )
    assert r.exit_code == 0, r.output
    assert load_users(path).authenticate("kim", "s3cret") == User("kim", "tenant", "alpha-elec")
    listed = runner.invoke(dashboard_user, ["list", "--users", str(path)])
    assert listed.exit_code == 0 and "kim\ttenant\talpha-elec" in listed.output
    bad = runner.invoke(
        dashboard_user,
        [
            "add",
            "x",
            "--users",
            str(path),
            "--role",
            "tenant",
            "--tenant",
            "nope",
            "--config",
            "tiny",
            "--password-stdin",
        ],
        input="pw\n",
    )
    assert bad.exit_code != 0 and "not a tenant" in bad.output


@pytest.mark.parametrize("user", ["alpha", "eng"])
def test_alarm_console_callbacks_are_for_operators_only(app, user: str) -> None:  # type: ignore[no-untyped-def]
    dep = next(d for d in _deps(_client(app, "ops")) if "alarms-status.children" in d["output"])
    body = _body(dep, {})
    body["inputs"] = [
        {"id": {"type": "alarms-action", "action": "ack", "alarm": "alm-1"}, "property": "n_clicks", "value": 1}
    ]
    body["inputs"] = [body["inputs"]]  # a pattern-matching input is a list of matches
    assert _client(app, user).post("/_dash-update-component", json=body).status_code == 403
    assert _client(app).post("/_dash-update-component", json=body).status_code == 401
