"""The app factory and the router: pages are pluggable, unknown paths get a note."""

from __future__ import annotations

import pytest
from dash import Dash, Input, Output, html

from dashboards.app import create_app
from dashboards.context import DashboardContext
from dashboards.data import HistorianSource
from dashboards.pages import Page, default_pages
from dashboards.shell import route
from twin.config import load_complex

TINY = load_complex("tiny")
URL = "sqlite:///nonexistent/history.db"


def _ids(component: object) -> set[str]:
    """Every component id in a layout tree."""
    found: set[str] = set()
    stack = [component]
    while stack:
        c = stack.pop()
        if isinstance(c, list | tuple):
            stack.extend(c)
            continue
        if getattr(c, "id", None):
            found.add(c.id)
        children = getattr(c, "children", None)
        if children is not None and not isinstance(children, str):
            stack.append(children)
    return found


def _extra_page() -> Page:
    def layout(ctx: DashboardContext, user: object = None) -> html.Div:
        return html.Div([html.Button("go", id="lab-go"), html.Div(id="lab-out")], className="lab")

    def register(app: Dash, ctx: DashboardContext) -> None:
        @app.callback(Output("lab-out", "children"), Input("lab-go", "n_clicks"))
        def _out(n: object) -> str:
            return f"{ctx.complex.site.id}: {n}"

    return Page("/lab", "Lab", layout, register)


def test_router_serves_overview_and_a_not_found_note() -> None:
    app = create_app(TINY, URL)
    pages = default_pages()
    ctx = DashboardContext(TINY, HistorianSource(URL))
    assert "overview-trend" in _ids(route(app, ctx, pages, "/"))
    for unknown in ("/nope", "/../etc/passwd", "/" + "x" * 10_000):
        shown = route(app, ctx, pages, unknown)
        assert "overview-trend" not in _ids(shown) and "Page not found" in str(shown)
    for not_a_path in (None, 42, ["/nope"]):  # forged types fall back to the home page
        assert "overview-trend" in _ids(route(app, ctx, pages, not_a_path))


def test_a_new_page_plugs_in_without_touching_the_others() -> None:
    app = create_app(TINY, URL, pages=(*default_pages(), _extra_page()))
    client = app.server.test_client()
    deps = client.get("/_dash-dependencies").json
    assert any(d["output"] == "lab-out.children" for d in deps)
    assert any("overview-trend.figure" in d["output"] for d in deps)
    body = {
        "output": "lab-out.children",
        "outputs": {"id": "lab-out", "property": "children"},
        "inputs": [{"id": "lab-go", "property": "n_clicks", "value": 3}],
        "changedPropIds": ["lab-go.n_clicks"],
    }
    r = client.post("/_dash-update-component", json=body)
    assert r.status_code == 200
    assert r.json["response"]["lab-out"]["children"] == "tiny-park: 3"
    nav = client.get("/_dash-layout").json
    assert "Lab" in str(nav) and "Overview" in str(nav)


def test_two_apps_in_one_process_do_not_share_callbacks() -> None:
    a = create_app(TINY, URL)
    b = create_app(TINY, URL, pages=(_extra_page(),))
    assert "lab-out.children" not in a.callback_map
    assert not any("overview" in k for k in b.callback_map)


def test_factory_rejects_what_it_cannot_serve() -> None:
    with pytest.raises(TypeError, match="twin.model.Complex"):
        create_app("tiny", URL)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="two pages share a path"):
        create_app(TINY, URL, pages=(_extra_page(), _extra_page()))
    with pytest.raises(ValueError, match='must start with "/"'):
        Page("lab", "Lab", _extra_page().layout, _extra_page().register_callbacks)


def test_validation_layout_names_every_callback_id_and_carries_no_figures() -> None:
    """Dash sends the validation layout in every page's HTML; it needs the ids, not the
    placeholder figures (each with plotly's whole default template)."""
    app = create_app(TINY, URL)
    ids = _ids(app.validation_layout)
    deps = app.server.test_client().get("/_dash-dependencies").json
    inputs = {item["id"] for d in deps for item in (*d["inputs"], *d["state"])}
    outputs = {part.lstrip(".").split(".")[0] for d in deps for part in d["output"].split("..")}
    named = {i for i in inputs | outputs if isinstance(i, str) and i and not i.startswith("{")}  # no patterns
    assert len(named) > 50 and named <= ids
    graphs = [c for c in app.validation_layout._traverse() if type(c).__name__ == "Graph"]
    assert len(graphs) >= 8 and not any(hasattr(g, "figure") for g in graphs)
    html_page = app.server.test_client().get("/").data
    assert b'"figure"' not in html_page and b"overview-trend" in html_page
