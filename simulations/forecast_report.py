"""A self-contained HTML page of a forecast, with plotly charts (opens offline).

Charts: expected good output per factory to the horizon with 95% CIs, one bar per
variant; the distribution of the complex's output over the replications; and a table
of every what-if's paired difference from the as-is continuation.
"""

from __future__ import annotations

import html
import math
import os
from pathlib import Path

import plotly.graph_objects as go

from simulations.forecast import HEADLINE, ForecastResult

__all__ = ["render_forecast", "write_forecast"]

_COLOURS = ("#4C72B0", "#DD8452", "#55A868", "#C44E52", "#8172B3", "#937860", "#DA8BC3", "#8C8C8C")


def _ok(x: float) -> bool:
    return x is not None and math.isfinite(x)


def _factory_bars(result: ForecastResult) -> go.Figure:
    fig = go.Figure()
    keys = sorted(
        k
        for k in result.baseline.summaries
        if k.startswith("factory.") and k.endswith(".good_units")
    )
    names = [k.split(".")[1] for k in keys]
    for i, s in enumerate(result.scenarios):
        sm = [s.summaries.get(k) for k in keys]
        fig.add_trace(
            go.Bar(
                x=names,
                y=[x.mean if x else 0 for x in sm],
                error_y={
                    "type": "data",
                    "array": [x.half_width if x and _ok(x.half_width) else 0 for x in sm],
                },
                name=s.name,
                marker_color=_COLOURS[i % len(_COLOURS)],
            )
        )
    fig.update_layout(
        title=f"Expected good units per factory in the next {result.horizon_s / 3600:.2g} h "
        "(95% CI)",
        barmode="group",
        yaxis_title="good units",
        xaxis={"tickangle": -45},
        height=480,
    )
    return fig


def _spread(result: ForecastResult) -> go.Figure:
    fig = go.Figure()
    for i, s in enumerate(result.scenarios):
        fig.add_trace(
            go.Box(
                y=s.values.get(HEADLINE, []),
                name=s.name,
                boxpoints="all",
                marker_color=_COLOURS[i % len(_COLOURS)],
            )
        )
    fig.update_layout(
        title="Good units of the complex, one point per replication",
        yaxis_title="good units",
        height=420,
    )
    return fig


def _table(result: ForecastResult) -> str:
    rows = []
    for name, cmp in result.comparisons.items():
        for k, c in sorted(cmp.items()):
            if not k.endswith(".good_units") or k.startswith("line."):
                continue
            if not (_ok(c.diff) and c.diff != 0) and k != HEADLINE:
                continue
            rel = f"{100 * c.relative:+.1f}%" if _ok(c.relative) else "n/a"
            diff = f"{c.diff:+.4g} ± {c.half_width:.3g}" if _ok(c.half_width) else f"{c.diff:+.4g}"
            rows.append(
                f"<tr><td>{html.escape(name)}</td><td>{html.escape(k)}</td><td>{html.escape(diff)}</td>"
                f"<td>{rel}</td><td>{'yes' if c.significant else ''}</td></tr>"
            )
    if not rows:
        return ""
    return (
        "<h2>What-ifs compared with the as-is forecast</h2><table><thead><tr><th>what-if</th>"
        "<th>output</th><th>difference ± 95% CI</th><th>relative</th><th>significant</th>"
        "</tr></thead><tbody>" + "".join(rows) + "</tbody></table>"
    )


def render_forecast(result: ForecastResult, title: str = "Forecast") -> str:
    """The forecast as one HTML document."""
    figs = [_factory_bars(result), _spread(result)]
    parts = [
        f.to_html(full_html=False, include_plotlyjs="inline" if i == 0 else False)
        for i, f in enumerate(figs)
    ]
    meta = "".join(
        f"<li>{html.escape(str(k))}: {html.escape(str(v))}</li>" for k, v in result.meta.items()
    )
    head = result.baseline.summaries.get(HEADLINE)
    headline = ""
    if head is not None and _ok(head.mean):
        hw = f" ± {head.half_width:.0f}" if _ok(head.half_width) else ""
        headline = f"<p><b>Expected good units of the complex: {head.mean:.0f}{hw}</b> (95% CI)</p>"
    scen = "".join(
        f"<li><b>{html.escape(s.name)}</b>: {html.escape(s.description)}</li>"
        for s in result.scenarios
    )
    return (
        "<!DOCTYPE html><html><head><meta charset='utf-8'>"
        f"<title>{html.escape(title)}</title>"
        "<style>body{font-family:sans-serif;margin:2em;max-width:1400px}table{border-collapse:collapse}"
        "td,th{border:1px solid #ccc;padding:2px 6px;font-size:13px}</style></head><body>"
        f"<h1>{html.escape(title)}</h1>"
        f"<p>{result.replications} replications over {result.horizon_s / 3600:.2f} h, seed "
        f"{result.seed}, common random numbers across variants; 95% confidence intervals.</p>"
        f"{headline}<ul>{meta}</ul><h2>Variants</h2><ul>{scen}</ul>"
        + "".join(parts)
        + _table(result)
        + "</body></html>"
    )


def write_forecast(
    result: ForecastResult, path: str | os.PathLike[str], title: str = "Forecast"
) -> None:
    """Write :func:`render_forecast` to ``path`` atomically."""
    p = Path(path)
    tmp = p.with_name(p.name + ".tmp")
    tmp.write_text(render_forecast(result, title), encoding="utf-8")
    os.replace(tmp, p)
