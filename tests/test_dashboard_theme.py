"""The dashboards' plotly template: plotly's look for the charts drawn, used by every figure."""

from __future__ import annotations

import json

import plotly.graph_objects as go
import plotly.io as pio
import pytest

from dashboards.context import DashboardContext
from dashboards.data import HistorianSource
from dashboards.pages.factory.timeline import Segment, timeline_figure
from dashboards.pages.simlab.figures import forecast_figure, kpi_figure
from dashboards.pages.tenant.downtime import pareto_figure
from dashboards.pages.tenant.kpis import ENERGY_KPI, energy_figure, oee_figure
from dashboards.pareto import ParetoRow
from dashboards.site import SiteIndex
from dashboards.sitemap import site_map_figure
from dashboards.theme import LAYOUT_KEYS, TEMPLATE, TRACE_TYPES
from dashboards.trend import GL_MIN_POINTS, empty_figure, trend_figure
from twin.config import load_complex
from twin.historian import Window
from twin.model import Sensor

TINY = load_complex("tiny")
POWER = Sensor(id="p1", kind="power", unit="kW", period_s=1, range=(0, 20))
T0 = 1_764_208_200_000


def _windows(n: int) -> list[Window]:
    return [Window("p1", T0 + i * 60_000, i + 0.5, i, i + 1.0, i + 0.7, 3) for i in range(n)]


def _kpis() -> dict[tuple[str, str], list[tuple[int, float]]]:
    points = [(T0 + i * 300_000, 0.5 + i / 100) for i in range(12)]
    return {("alpha-f1", k): points for k in ("oee", "availability", "performance", "quality", ENERGY_KPI)}


def _ctx() -> DashboardContext:
    return DashboardContext(TINY, HistorianSource("sqlite:///nonexistent/history.db"), clock=lambda: T0)


_FORECAST = {
    "horizon_h": 3.0,
    "scenarios": {"as-is": {"outputs": {"complex.good_units": {"mean": 100, "half_width": 4}}}},
}
_EXPERIMENT = {"scenarios": {"baseline": {"kpis": {"complex.oee": {"mean": 0.5, "half_width": 0.02, "unit": "1"}}}}}

#: Every figure builder of the dashboards, with inputs that draw something.
BUILDERS = {
    "trend (SVG)": lambda: trend_figure(POWER, _windows(50), T0, T0 + 50 * 60_000, 60_000, title="t"),
    "trend (WebGL)": lambda: trend_figure(
        POWER, _windows(GL_MIN_POINTS + 5), T0, T0 + (GL_MIN_POINTS + 5) * 60_000, 60_000
    ),
    "empty": lambda: empty_figure("no data", "kW"),
    "site map": lambda: site_map_figure(SiteIndex(TINY)),
    "simulation KPIs": lambda: kpi_figure(_EXPERIMENT, ("complex.oee",)),
    "forecast": lambda: forecast_figure(_FORECAST),
    "state timeline": lambda: timeline_figure({"AOI": [Segment("busy", T0, T0 + 60_000)]}, T0, T0 + 60_000),
    "tenant OEE": lambda: oee_figure(_ctx(), {"alpha-f1": "Alpha PCB plant"}, _kpis()),
    "tenant energy": lambda: energy_figure(_ctx(), {"alpha-f1": "Alpha PCB plant"}, _kpis()),
    "downtime Pareto": lambda: pareto_figure([ParetoRow("down (failure or disaster)", 2.0, 0.8, 0.8),
                                              ParetoRow("idle", 0.5, 0.2, 1.0)]),
}


def test_template_has_plotlys_values_for_what_the_pages_draw() -> None:
    plotly_default = pio.templates["plotly"].to_plotly_json()
    assert set(TEMPLATE["layout"]) == set(LAYOUT_KEYS)
    for key, value in TEMPLATE["layout"].items():
        assert value == plotly_default["layout"][key], key
    assert set(TEMPLATE["data"]) == set(TRACE_TYPES)
    for trace_type, value in TEMPLATE["data"].items():
        assert value == plotly_default["data"][trace_type], trace_type
    # what it leaves out: trace types and subplots the dashboards never draw
    assert "geo" not in TEMPLATE["layout"] and "heatmap" not in TEMPLATE["data"]
    assert len(json.dumps(TEMPLATE)) * 4 < len(json.dumps(plotly_default))


@pytest.mark.parametrize("name", list(BUILDERS))
def test_every_figure_carries_the_dashboards_template_and_draws_its_trace_types(name: str) -> None:
    fig = BUILDERS[name]()
    assert isinstance(fig, go.Figure)
    sent = json.loads(fig.to_json())
    assert sent["layout"]["template"] == json.loads(json.dumps(TEMPLATE)), name
    assert sent["data"] or name == "empty", f"{name} draws nothing"
    assert {t.get("type", "scatter") for t in sent["data"]} <= set(TRACE_TYPES)

