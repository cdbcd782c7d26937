"""The dashboards' partial plotly.js bundle (dashboards/plotly-bundle/README.md).

It must be the plotly.js version plotly.py validates figures against, hold every trace
type the dashboards build, and be what the pages actually load (not Dash's full bundle).
"""

from __future__ import annotations

import re
from pathlib import Path

import plotly.graph_objects as go
import pytest
from plotly.basedatatypes import BaseTraceType
from plotly.offline import get_plotlyjs_version

from dashboards.app import create_app
from dashboards.plotly_bundle import BUNDLE, DASH_PLOTLY_JS
from twin.config import load_complex
from twin.timespec import now_ms

ROOT = Path(__file__).resolve().parents[1]
RECIPE = ROOT / "dashboards" / "plotly-bundle"


def bundle_traces() -> set[str]:
    """Trace types registered by the bundle's entry point (scatter is part of plotly's core)."""
    index = (RECIPE / "index.js").read_text()
    return {"scatter", *re.findall(r"require\('plotly\.js/lib/(\w+)'\)", index)} - {"core"}


def is_trace(name: str) -> bool:
    cls = getattr(go, name, None)
    return isinstance(cls, type) and issubclass(cls, BaseTraceType)


def dashboard_traces() -> set[str]:
    """Trace types the dashboards' Python code builds: ``go.Bar(...)``, ``go.Scattergl``, and
    traces written as dicts (``dict(type="bar", ...)``, ``{"type": "bar"}``)."""
    used = set()
    for path in (ROOT / "dashboards").rglob("*.py"):
        text = path.read_text()
        names = re.findall(r"\bgo\.([A-Z]\w*)\b", text)
        names += [t.capitalize() for t in re.findall(r'\btype"?\s*[=:]\s*"(\w+)"', text)]
        used.update(name.lower() for name in names if is_trace(name))
    return used


def test_bundle_is_the_plotly_js_of_the_installed_plotly() -> None:
    head = BUNDLE.read_text(errors="replace")[:400]
    assert f"plotly.js v{get_plotlyjs_version()} " in head, head
    assert f'"plotly.js": "{get_plotlyjs_version()}"' in (RECIPE / "package.json").read_text()
    assert (BUNDLE.parent / "plotly-twin.LICENSE.txt").read_text().startswith("MIT License")


def test_every_trace_type_the_dashboards_build_is_in_the_bundle() -> None:
    used = dashboard_traces()
    assert {"scatter", "bar", "scattergl"} <= used  # the scan finds what is there
    assert used <= bundle_traces(), f"add {sorted(used - bundle_traces())} to dashboards/plotly-bundle/index.js"


def test_the_scan_tells_traces_from_other_plotly_classes() -> None:
    assert is_trace("Pie") and "pie" not in bundle_traces()  # a go.Pie( would fail the test above
    assert not is_trace("Figure") and not is_trace("Layout")


def test_dash_plotly_url_answers_with_the_bundle(tmp_path: Path) -> None:
    app = create_app(load_complex("tiny"), "sqlite://" + str(tmp_path / "h.db"), clock=now_ms)
    client = app.server.test_client()
    r = client.get("/" + DASH_PLOTLY_JS)
    assert r.status_code == 200 and r.data == BUNDLE.read_bytes()
    assert r.mimetype == "text/javascript" and r.headers["Cache-Control"] == "no-cache"
    again = client.get("/" + DASH_PLOTLY_JS, headers={"If-None-Match": r.headers["ETag"]})
    assert again.status_code == 304 and again.data == b""
    fingerprinted = client.get("/_dash-component-suites/plotly/package_data/plotly.v4_1_1m1700000000.min.js")
    assert fingerprinted.status_code == 200 and fingerprinted.data == BUNDLE.read_bytes()
    # Only that file: Dash still serves every other bundle itself.
    other = client.get("/_dash-component-suites/plotly/package_data/plotly.min.js.map")
    assert other.data != BUNDLE.read_bytes()


def test_the_bundle_url_follows_the_path_prefix(tmp_path: Path) -> None:
    app = create_app(
        load_complex("tiny"), "sqlite://" + str(tmp_path / "h.db"), clock=now_ms, url_base_pathname="/twin/"
    )
    client = app.server.test_client()
    assert client.get("/twin/" + DASH_PLOTLY_JS).data == BUNDLE.read_bytes()
    assert client.get("/" + DASH_PLOTLY_JS).data != BUNDLE.read_bytes()


@pytest.mark.browser
@pytest.mark.filterwarnings("ignore:HTTPResponse.getheader:DeprecationWarning")  # selenium 4.2
def test_pages_load_the_partial_bundle_and_not_the_full_one(dash_duo, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    app = create_app(load_complex("tiny"), "sqlite://" + str(tmp_path / "h.db"), clock=now_ms)
    dash_duo.start_server(app)
    dash_duo.wait_for_element("#overview-sitemap g.textpoint")
    got = dash_duo.driver.execute_script(
        "return {version: window.Plotly && window.Plotly.version,"
        " traces: Object.keys(window.Plotly.PlotSchema.get().traces).sort(),"
        " scripts: performance.getEntriesByType('resource').map(e => e.name).filter(n => /plotly/.test(n))};"
    )
    assert got["version"] == get_plotlyjs_version()
    assert got["traces"] == sorted(bundle_traces())
    # dcc.Graph fetched plotly.js once, from Dash's URL, which answered with the partial bundle
    assert [s for s in got["scripts"] if DASH_PLOTLY_JS in s] == [dash_duo.server_url + "/" + DASH_PLOTLY_JS]
    assert dash_duo.get_logs() == []
