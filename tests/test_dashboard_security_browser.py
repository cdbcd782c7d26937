"""Every dashboard page in a real headless Chromium under the app's Content-Security-Policy.

The page's CSP is the one the app sends (no test switch). A listener for
``securitypolicyviolation`` is installed before any page script runs (Chrome DevTools
protocol), so a blocked script, style, eval, worker or connection is recorded even when
the page swallows the error; the browser console is checked too. A canary inline script
at the end proves the listener sees violations.
"""

from __future__ import annotations

import math
from pathlib import Path

import pytest

from dashboards.app import create_app
from dashboards.auth.session import AuthConfig
from dashboards.auth.users import User, add_user, load_users
from dashboards.pages import default_pages
from tests.browser import wait_until
from twin.codec import Reading
from twin.config import load_complex
from twin.historian import open_historian
from twin.timespec import now_ms

pytestmark = [
    pytest.mark.browser,
    pytest.mark.filterwarnings("ignore:HTTPResponse.getheader:DeprecationWarning"),  # selenium 4.2
]

WAIT_S = 30  # upper bound for a condition to become true, not a timing assertion
SECRET = b"csp-browser-test-secret-0123456789abcdef"
#: Extra query of pages that need one to show their content.
PAGE_QUERY = {"/factory": "?id=alpha-f1"}

_LISTENER = """
window.__cspViolations = [];
document.addEventListener('securitypolicyviolation', e => window.__cspViolations.push(
  e.violatedDirective + ' ' + e.blockedURI + ' ' + (e.sourceFile || '') + ':' + e.lineNumber));
"""



def _violations(driver) -> list[str]:  # type: ignore[no-untyped-def]
    return driver.execute_script("return window.__cspViolations || null;")


def _graphs_drawn(driver) -> bool:  # type: ignore[no-untyped-def]
    """The page's shell is up and every Plotly graph on it holds its data."""
    return driver.execute_script(
        "if (!document.querySelector('.shell-header')) return false;"
        "const gs = [...document.querySelectorAll('.js-plotly-plot')];"
        "return gs.every(g => g.data && g._fullLayout);"
    )


@pytest.fixture
def csp_app(tmp_path: Path):  # type: ignore[no-untyped-def]
    tiny = load_complex("tiny")
    now = now_ms()
    url = "sqlite://" + str(tmp_path / "history.db")
    with open_historian(url) as h:  # an hour at 1 Hz: the trends draw with WebGL (Scattergl)
        h.store([Reading("alpha-smt-power", now - i * 1000, round(6 + 2 * math.sin(i / 60), 3)) for i in range(3600)])
    users_file = tmp_path / "users.yaml"
    add_user(users_file, User("root", "admin"), "root-pass")
    auth = AuthConfig(load_users(users_file), SECRET, state_dir=tmp_path / "state")
    return create_app(tiny, url, clock=lambda: now, auth=auth)


def test_every_page_runs_under_the_csp_without_violations(dash_thread_server, dash_br, csp_app) -> None:  # type: ignore[no-untyped-def]
    dash_thread_server(csp_app)
    driver, base = dash_br.driver, dash_thread_server.url.rstrip("/")
    driver.execute_cdp_cmd("Page.addScriptToEvaluateOnNewDocument", {"source": _LISTENER})

    driver.get(base + "/login")
    wait_until(driver, lambda d: d.find_elements("css selector", "#login-form"), "the login form")
    assert _violations(driver) == []
    driver.find_element("css selector", "#login-username").send_keys("root")
    driver.find_element("css selector", "#login-password").send_keys("root-pass")
    driver.find_element("css selector", "#login-submit").click()
    wait_until(driver, _graphs_drawn, "the overview after login")

    seen = {}
    for page in default_pages():
        driver.get(base + page.path + PAGE_QUERY.get(page.path, ""))
        wait_until(driver, _graphs_drawn, f"page {page.path}")
        seen[page.path] = _violations(driver)
        if page.path == "/factory":  # the power trend: Plotly's WebGL trace runs without 'unsafe-eval'
            gl = wait_until(
                driver,
                lambda d: d.execute_script(
                    "const g = document.querySelector('#factory-trend .js-plotly-plot');"
                    "return g && g.data && g.data.some(t => t.type === 'scattergl') && g.data.length;"
                ),
                "the WebGL power trend",
            )
            assert gl
            seen["/factory (trend)"] = _violations(driver)
    assert all(v == [] for v in seen.values()), seen
    assert len(seen) == len(default_pages()) + 1
    console = [e for e in dash_br.get_logs() if "Content Security Policy" in str(e.get("message", ""))]
    assert console == []

    # The canary: an injected inline script is refused, and the listener above would see it.
    driver.execute_script(
        "const s = document.createElement('script'); s.textContent = 'window.__canary = 1';"
        "document.head.appendChild(s);"
    )
    wait_until(driver, lambda d: any("script-src" in v for v in _violations(d)), "the canary's violation")
    assert driver.execute_script("return window.__canary === undefined;")
