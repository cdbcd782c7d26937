"""Login and the tenant portal in a real headless Chromium: who sees which factories."""

from __future__ import annotations

import math
from pathlib import Path

import pytest

from dashboards.app import create_app
from dashboards.auth.session import AuthConfig
from dashboards.auth.users import User, add_user, load_users
from tests.browser import grown_margins, text, wait_until
from twin.codec import Reading
from twin.config import load_complex
from twin.historian import open_historian
from twin.timespec import now_ms

pytestmark = [
    pytest.mark.browser,
    pytest.mark.filterwarnings("ignore:HTTPResponse.getheader:DeprecationWarning"),  # selenium 4.2
]

IMG = Path(__file__).resolve().parents[1] / "docs" / "img"
WAIT_S = 20  # upper bound for a condition to become true, not a timing assertion
SECRET = b"browser-test-secret-0123456789"



def _trace_names(driver, graph_id: str) -> list[str] | None:  # type: ignore[no-untyped-def]
    return driver.execute_script(
        f"const gd = document.querySelector('#{graph_id} .js-plotly-plot');"
        "return gd && gd.data ? gd.data.map(t => t.name || '') : null;"
    )


def _kpis(url: str, now: int, factories: dict[str, float]) -> None:
    """Three days of shift KPIs every 5 min: OEE = A x P x Q, a different level per factory."""
    rows = []
    for fid, level in factories.items():
        for i in range(3 * 288):
            t = now - i * 300_000
            a = min(1.0, level + 0.05 * math.sin(i / 20))
            p, q = 0.9 + 0.05 * math.cos(i / 30), 0.98
            for kpi, v in (
                ("availability", a),
                ("performance", p),
                ("quality", q),
                ("oee", a * p * q),
                ("energy_per_good_unit_kwh", 0.4 + 0.1 * math.sin(i / 15) + level / 10),
            ):
                rows.append(Reading(f"kpi.shift.factory.{fid}.{kpi}", t, round(v, 4)))
    with open_historian(url) as h:
        h.store(rows)


@pytest.fixture
def login_app(tmp_path: Path):  # type: ignore[no-untyped-def]
    tiny = load_complex("tiny")
    now = now_ms()
    url = "sqlite://" + str(tmp_path / "history.db")
    _kpis(url, now, {"alpha-f1": 0.8, "beta-f1": 0.6})
    users_file = tmp_path / "users.yaml"
    add_user(users_file, User("alpha", "tenant", "alpha-elec"), "alpha-pass")
    add_user(users_file, User("ops", "operator"), "ops-pass")
    users = load_users(users_file, [t.id for t in tiny.tenants])
    return create_app(tiny, url, clock=lambda: now, auth=AuthConfig(users, SECRET))


def _login(driver, base: str, path: str, user: str, password: str) -> None:  # type: ignore[no-untyped-def]
    driver.get(base + path)
    wait_until(driver, lambda d: d.find_elements("css selector", "#login-form"), "the login form")
    driver.find_element("css selector", "#login-username").send_keys(user)
    driver.find_element("css selector", "#login-password").send_keys(password)
    driver.find_element("css selector", "#login-submit").click()


def _factories(driver) -> str:  # type: ignore[no-untyped-def]
    return text(driver, "#tenant-factories")  # refreshed every 2 s: found and read in one script


def test_tenant_logs_in_and_sees_only_its_own_factories(dash_thread_server, dash_br, login_app) -> None:  # type: ignore[no-untyped-def]
    dash_thread_server(login_app)
    driver, base = dash_br.driver, dash_thread_server.url.rstrip("/")

    _login(driver, base, "/tenant", "alpha", "wrong")
    wait_until(driver, lambda d: d.find_elements("css selector", "#login-error"), "the login error")
    assert "Wrong username or password" in text(driver, "#login-error")
    assert driver.save_screenshot(str(IMG / "dashboard-login.png"))

    _login(driver, base, "/tenant", "alpha", "alpha-pass")
    wait_until(driver, lambda d: "Alpha PCB plant" in _factories(d), "the tenant's own factory")
    names = wait_until(
        driver, lambda d: (n := _trace_names(d, "tenant-oee")) and any("· oee" in x for x in n) and n, "the OEE"
    )
    assert "Alpha PCB plant · oee" in names and "Alpha PCB plant · availability" in names
    assert not any("Beta" in n for n in names)
    assert "Beta" not in _factories(driver)
    assert "Beta" not in text(driver, "#tenant-select")
    header = text(driver, ".shell-header")
    assert "alpha · tenant · alpha-elec" in header and "Overview" not in header
    energy = wait_until(driver, lambda d: _trace_names(d, "tenant-energy"), "the energy figure")
    assert energy == ["Alpha PCB plant"]

    # The overview is not for tenants: its home shows the portal instead.
    driver.get(base + "/")
    wait_until(driver, lambda d: "Alpha PCB plant" in _factories(d), "the portal as a tenant's home")
    assert not driver.find_elements("css selector", "#overview-sitemap")
    assert dash_br.get_logs() == []

    # Sign out with the header's button (a form POST with the session's token).
    driver.find_element("css selector", "#logout-button").click()
    wait_until(driver, lambda d: d.find_elements("css selector", "#login-form"), "the login page after signing out")
    driver.get(base + "/tenant")
    wait_until(driver, lambda d: d.find_elements("css selector", "#login-form"), "a login, not the portal")


def test_operator_sees_every_tenant_in_the_portal(dash_thread_server, dash_br, login_app) -> None:  # type: ignore[no-untyped-def]
    dash_thread_server(login_app)
    driver, base = dash_br.driver, dash_thread_server.url.rstrip("/")
    _login(driver, base, "/tenant", "ops", "ops-pass")
    wait_until(driver, lambda d: "Alpha PCB plant" in _factories(d), "the first tenant")
    header = text(driver, ".shell-header")
    assert "Overview" in header and "Tenant portal" in header and "ops · operator" in header

    driver.find_element("css selector", "#tenant-select").click()
    options = wait_until(
        driver, lambda d: [o.text for o in d.find_elements("css selector", ".dash-dropdown-option")], "options"
    )
    assert options == ["Alpha Electronics", "Beta Chemicals"]
    next(o for o in driver.find_elements("css selector", ".dash-dropdown-option") if o.text == "Beta Chemicals").click()
    wait_until(driver, lambda d: "Beta resin plant" in _factories(d), "the other tenant's factory")
    wait_until(
        driver,
        lambda d: (n := _trace_names(d, "tenant-oee")) and "Beta resin plant · oee" in n,
        "Beta's OEE",
    )
    driver.find_element("css selector", "#tenant-range input[value='7d']").click()
    wait_until(driver, lambda d: "Beta resin plant · oee" in (_trace_names(d, "tenant-oee") or []), "the 7-day OEE")
    # The figures' margins hold their labels and legends: Plotly draws each graph once.
    for graph in ("#tenant-oee", "#tenant-pareto", "#tenant-energy"):
        wait_until(driver, lambda d, g=graph: grown_margins(d, g) is not None, graph)
        assert grown_margins(driver, graph) == {}, graph
    assert dash_br.get_logs() == []
    assert driver.save_screenshot(str(IMG / "dashboard-tenant.png"))
    assert (IMG / "dashboard-tenant.png").stat().st_size > 10_000
