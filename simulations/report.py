"""A self-contained HTML report of an experiment, with plotly charts.

Sections: headline KPIs per scenario with 95% confidence intervals; the paired
comparison of every scenario with the baseline (relative difference and its CI,
significant ones marked); utilisation per machine; WIP over time; and a table of
every compared KPI. The plotly library is embedded once, so the file opens
offline.
"""

from __future__ import annotations

import html
import math
import os
from pathlib import Path

import plotly.graph_objects as go
from plotly.subplots import make_subplots

from simulations.experiment import ExperimentResult
from simulations.kpis import kpi_unit

__all__ = ["HEADLINE_KPIS", "render_report", "write_report"]

#: KPIs shown as bar charts, in order.
HEADLINE_KPIS = (
    "complex.oee",
    "complex.availability",
    "complex.performance",
    "complex.quality",
    "complex.throughput_uph",
    "complex.wip_units",
    "complex.lead_time_h",
    "complex.energy_per_good_unit_kwh",
    "complex.production_lost_units",
    "logistics.on_time_rate",
    "logistics.truck_utilisation",
    "logistics.dock_wait_min",
)

_COLOURS = ("#4C72B0", "#DD8452", "#55A868", "#C44E52", "#8172B3", "#937860", "#DA8BC3", "#8C8C8C")


def _ok(x: float) -> bool:
    return x is not None and not math.isnan(x) and not math.isinf(x)


def _err(x: float) -> float:
    return x if _ok(x) else 0.0


def _kpi_bars(result: ExperimentResult) -> go.Figure:
    names = [k for k in HEADLINE_KPIS if k in result.baseline.summaries]
    cols = 3
    rows = max(1, math.ceil(len(names) / cols))
    fig = make_subplots(rows=rows, cols=cols, subplot_titles=[f"{k} [{kpi_unit(k)}]" for k in names])
    for i, k in enumerate(names):
        r, c = i // cols + 1, i % cols + 1
        for si, s in enumerate(result.scenarios):
            sm = s.summaries.get(k)
            if sm is None:
                continue
            fig.add_trace(
                go.Bar(
                    x=[s.name],
                    y=[sm.mean if _ok(sm.mean) else None],
                    error_y={"type": "data", "array": [_err(sm.half_width)], "visible": True},
                    marker_color=_COLOURS[si % len(_COLOURS)],
                    name=s.name,
                    legendgroup=s.name,
                    showlegend=i == 0,
                    hovertemplate=f"{html.escape(s.name)}: %{{y:.4g}} ± {_err(sm.half_width):.3g}<extra></extra>",
                ),
                row=r,
                col=c,
            )
    fig.update_layout(
        height=300 * rows,
        title="Headline KPIs (mean and 95% CI over replications)",
        barmode="group",
        margin={"t": 80},
    )
    return fig


def _comparison(result: ExperimentResult) -> go.Figure | None:
    if not result.comparisons:
        return None
    names = [k for k in HEADLINE_KPIS if k in result.baseline.summaries]
    fig = go.Figure()
    for si, (scen, cmp) in enumerate(result.comparisons.items(), 1):
        xs, ys, errs, texts = [], [], [], []
        for k in names:
            c = cmp.get(k)
            if c is None or not _ok(c.relative):
                continue
            base = abs(c.baseline_mean)
            xs.append(100.0 * c.relative)
            errs.append(100.0 * c.half_width / base if base and _ok(c.half_width) else 0.0)
            ys.append(k)
            texts.append("significant" if c.significant else "not significant")
        fig.add_trace(
            go.Bar(
                x=xs,
                y=ys,
                orientation="h",
                name=scen,
                text=texts,
                textposition="none",  # significance in the hover, not over the bars
                error_x={"type": "data", "array": errs, "visible": True},
                marker_color=_COLOURS[si % len(_COLOURS)],
                hovertemplate="%{y}: %{x:.2f}% (%{text})<extra>" + html.escape(scen) + "</extra>",
            )
        )
    fig.update_layout(
        title="Difference from the baseline, % (paired, 95% CI)",
        barmode="group",
        height=120 + 40 * len(names) * max(1, len(result.comparisons)),
        xaxis_title="% of baseline mean",
    )
    return fig


def _utilisation(result: ExperimentResult) -> go.Figure:
    fig = go.Figure()
    for si, s in enumerate(result.scenarios):
        keys = sorted(k for k in s.summaries if k.startswith("machine.") and k.endswith(".utilisation"))
        fig.add_trace(
            go.Bar(
                x=[k.split(".")[1] for k in keys],
                y=[s.summaries[k].mean for k in keys],
                error_y={
                    "type": "data",
                    "array": [_err(s.summaries[k].half_width) for k in keys],
                    "visible": True,
                },
                name=s.name,
                marker_color=_COLOURS[si % len(_COLOURS)],
            )
        )
    fig.update_layout(
        title="Utilisation per machine ((busy + setup) / planned busy time)",
        barmode="group",
        yaxis={"range": [0, 1.05], "title": "utilisation"},
        height=480,
        xaxis={"tickangle": -60},
    )
    return fig


def _wip(result: ExperimentResult) -> go.Figure:
    fig = go.Figure()
    for si, s in enumerate(result.scenarios):
        series = s.series_wip.get("complex")
        if not series:
            continue
        fig.add_trace(
            go.Scatter(
                x=s.series_t_h,
                y=series,
                mode="lines",
                name=s.name,
                line={"color": _COLOURS[si % len(_COLOURS)]},
            )
        )
    if result.run.warmup_h > 0:
        fig.add_vline(x=result.run.warmup_h, line_dash="dash", annotation_text="end of warm-up")
    fig.update_layout(
        title="Work in progress over time (complex, mean over replications)",
        xaxis_title="simulated hours",
        yaxis_title="units",
        height=420,
    )
    return fig


def _table(result: ExperimentResult) -> str:
    if not result.comparisons:
        return ""
    rows = []
    for scen, cmp in result.comparisons.items():
        for k, c in sorted(cmp.items()):
            if not k.startswith(("complex.", "logistics.", "tenant.", "factory.")):
                continue
            mark = "yes" if c.significant else ""
            rel = f"{100 * c.relative:+.2f}%" if _ok(c.relative) else "n/a"
            diff = f"{c.diff:+.4g} ± {c.half_width:.3g}" if _ok(c.diff) and _ok(c.half_width) else "n/a"
            rows.append(
                f"<tr><td>{html.escape(scen)}</td><td>{html.escape(k)}</td><td>{html.escape(kpi_unit(k))}</td>"
                f"<td>{html.escape(diff)}</td><td>{rel}</td><td>{mark}</td></tr>"
            )
    return (
        "<h2>Paired comparison with the "
        "baseline</h2><table><thead><tr><th>scenario</th><th>KPI</th>"
        "<th>unit</th><th>difference ± 95% "
        "CI</th><th>relative</th><th>significant</th></tr></thead><tbody>" + "".join(rows) + "</tbody></table>"
    )


def render_report(result: ExperimentResult, title: str = "Simulation experiment") -> str:
    """The report as one HTML document."""
    figs = [f for f in (_kpi_bars(result), _comparison(result), _utilisation(result), _wip(result)) if f is not None]
    parts = []
    for i, f in enumerate(figs):
        parts.append(f.to_html(full_html=False, include_plotlyjs="inline" if i == 0 else False))
    run = result.run
    meta = "".join(f"<li>{html.escape(str(k))}: {html.escape(str(v))}</li>" for k, v in result.meta.items())
    scen = "".join(f"<li><b>{html.escape(s.name)}</b>: {html.escape(s.description)}</li>" for s in result.scenarios)
    return (
        "<!DOCTYPE html><html><head><meta charset='utf-8'>"
        f"<title>{html.escape(title)}</title>"
        "<style>body{font-family:sans-serif;margin:2em;max-width:1400px}table{border-collapse:collapse}"
        "td,th{border:1px solid #ccc;padding:2px 6px;font-size:13px}</style></head><body>"
        f"<h1>{html.escape(title)}</h1>"
        f"<p>{run.replications} replications of {run.days:g} days each, warm-up "
        f"{run.warmup_h:g} h excluded, "
        f"seed {run.seed}, {'common' if run.crn else 'independent'} random numbers; "
        "95% confidence intervals.</p>"
        f"<ul>{meta}</ul><h2>Scenarios</h2><ul>{scen}</ul>" + "".join(parts) + _table(result) + "</body></html>"
    )


def write_report(result: ExperimentResult, path: str | os.PathLike[str], title: str = "Simulation experiment") -> None:
    """Write :func:`render_report` to ``path`` (atomically: a partial file never appears)."""
    p = Path(path)
    tmp = p.with_name(p.name + ".tmp")
    tmp.write_text(render_report(result, title), encoding="utf-8")
    os.replace(tmp, p)
