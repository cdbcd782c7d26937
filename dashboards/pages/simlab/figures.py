"""Figures and tables of the simulation lab, from the result JSON of a job (pure).

The input is the document ``twin simulate --json`` / ``twin forecast --json`` writes
(:meth:`ExperimentResult.to_dict`, :meth:`ForecastResult.to_dict`), read back from the
job directory: plain dicts, ``None`` for undefined values. Nothing here trusts it to be
complete; missing numbers are left out of a chart and shown as "n/a" in a table.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

import plotly.graph_objects as go
from dash import html
from plotly.subplots import make_subplots

from dashboards.theme import TEMPLATE
from dashboards.trend import empty_figure

__all__ = [
    "CHART_KPIS",
    "TABLE_KPIS",
    "comparison_rows",
    "comparison_table",
    "forecast_figure",
    "forecast_rows",
    "forecast_table",
    "kpi_figure",
    "progress_text",
]

#: KPIs drawn as bars with 95% CIs (one small chart each: their units differ).
CHART_KPIS = (
    "complex.oee",
    "complex.throughput_uph",
    "complex.wip_units",
    "complex.lead_time_h",
    "complex.energy_per_good_unit_kwh",
    "logistics.on_time_rate",
)
#: KPIs in the difference table: the same headline list as `twin simulate` prints.
TABLE_KPIS: tuple[str, ...] = (
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
#: Colour-blind safe (Okabe-Ito); the baseline is always the first, grey.
_COLOURS = ("#7f7f7f", "#0072B2", "#E69F00", "#009E73", "#CC79A7", "#56B4E9", "#D55E00", "#F0E442")
_MAX_FORECAST_FACTORIES = 30


def _num(x: object) -> float | None:
    if isinstance(x, bool) or not isinstance(x, int | float) or not math.isfinite(x):
        return None
    return float(x)


def _fmt(x: object, digits: int = 4) -> str:
    v = _num(x)
    return "n/a" if v is None else f"{v:.{digits}g}"


def _scenarios(result: Mapping[str, Any], key: str) -> list[tuple[str, Mapping[str, Any]]]:
    scen = result.get("scenarios")
    if not isinstance(scen, Mapping):
        return []
    return [(str(n), s.get(key) or {}) for n, s in scen.items() if isinstance(s, Mapping)]


def kpi_figure(result: Mapping[str, Any], kpis: Sequence[str] = CHART_KPIS) -> go.Figure:
    """One small bar chart per KPI: a bar per scenario with its 95% CI as an error bar."""
    scenarios = _scenarios(result, "kpis")
    if not scenarios:
        return empty_figure("no result to show")
    cols = 3
    rows = max(1, math.ceil(len(kpis) / cols))
    units = {k: next((s.get(k, {}).get("unit") for _, s in scenarios if s.get(k)), None) for k in kpis}
    titles = [f"{k} [{units[k]}]" if units[k] and units[k] != "1" else k for k in kpis]
    fig = make_subplots(
        rows=rows,
        cols=cols,
        subplot_titles=titles,
        horizontal_spacing=0.08,
        vertical_spacing=0.2,
        figure=go.Figure(layout={"template": TEMPLATE}),
    )
    for si, (name, values) in enumerate(scenarios):
        colour = _COLOURS[si % len(_COLOURS)]
        for ki, kpi in enumerate(kpis):
            k = values.get(kpi) or {}
            mean, hw = _num(k.get("mean")), _num(k.get("half_width"))
            fig.add_trace(
                go.Bar(
                    x=[name],
                    y=[mean],
                    name=name,
                    legendgroup=name,
                    showlegend=ki == 0,
                    marker_color=colour,
                    error_y=dict(type="data", array=[hw if hw is not None else 0], visible=hw is not None),
                    hovertemplate=f"{name}<br>{kpi}: %{{y:.4g}} ± {_fmt(hw, 3)} (95% CI)<extra></extra>",
                ),
                row=ki // cols + 1,
                col=ki % cols + 1,
            )
    fig.update_layout(
        height=260 * rows + 90,
        margin=dict(l=50, r=16, t=80, b=30),
        plot_bgcolor="#ffffff",
        paper_bgcolor="#ffffff",
        legend=dict(orientation="h", x=0, y=1.0, yanchor="top", yref="container"),
        bargap=0.3,
    )
    fig.update_xaxes(showticklabels=False)
    fig.update_yaxes(gridcolor="#e4e7eb", rangemode="tozero")
    return fig


def comparison_rows(result: Mapping[str, Any], kpis: Sequence[str] = TABLE_KPIS) -> list[dict[str, Any]]:
    """Per scenario and KPI: baseline and scenario means, the paired difference with its
    95% CI, relative change and whether it is significant."""
    scen = dict(_scenarios(result, "kpis"))
    base_name = next(iter(scen), None)
    comps = result.get("comparisons")
    if base_name is None or not isinstance(comps, Mapping):
        return []
    rows = []
    for name, cmp in comps.items():
        if not isinstance(cmp, Mapping):
            continue
        for kpi in kpis:
            c = cmp.get(kpi)
            if not isinstance(c, Mapping):
                continue
            lo, hi = _num(c.get("ci_low")), _num(c.get("ci_high"))
            rows.append(
                {
                    "scenario": str(name),
                    "kpi": kpi,
                    "unit": c.get("unit") or "",
                    "baseline": _num((scen[base_name].get(kpi) or {}).get("mean")),
                    "value": _num(((scen.get(str(name)) or {}).get(kpi) or {}).get("mean")),
                    "diff": _num(c.get("diff")),
                    "half_width": (hi - lo) / 2 if lo is not None and hi is not None else None,
                    "relative": _num(c.get("relative")),
                    "significant": bool(c.get("significant")),
                }
            )
    return rows


def _table(head: Sequence[str], rows: list[list[Any]], class_name: str) -> html.Table:
    return html.Table(
        className=f"lab-table {class_name}",
        children=[html.Thead(html.Tr([html.Th(h) for h in head])), html.Tbody([html.Tr(r) for r in rows])],
    )


def comparison_table(rows: list[dict[str, Any]]) -> html.Table | html.P:
    """The difference table: significance is written out ("yes"), not only coloured."""
    if not rows:
        return html.P("No scenario to compare: the file has only the baseline.", className="status")
    body = []
    for r in rows:
        rel = "n/a" if r["relative"] is None else f"{100 * r['relative']:+.1f}%"
        diff = "n/a" if r["diff"] is None else f"{r['diff']:+.4g} ± {_fmt(r['half_width'], 3)}"
        body.append(
            [
                html.Td(r["scenario"]),
                html.Td(r["kpi"]),
                html.Td("" if r["unit"] == "1" else r["unit"]),
                html.Td(_fmt(r["baseline"])),
                html.Td(_fmt(r["value"])),
                html.Td(diff),
                html.Td(rel),
                html.Td("yes" if r["significant"] else "no", className="sig" if r["significant"] else "not-sig"),
            ]
        )
    head = ["scenario", "KPI", "unit", "baseline", "scenario", "difference (95% CI)", "relative", "significant"]
    return _table(head, [[*cells] for cells in body], "comparison-table")


def _forecast_keys(result: Mapping[str, Any]) -> list[str]:
    outputs = dict(_scenarios(result, "outputs"))
    first = next(iter(outputs.values()), {})
    factories = sorted(k for k in first if k.startswith("factory.") and k.endswith(".good_units"))
    return ["complex.good_units", *factories[:_MAX_FORECAST_FACTORIES]]


def forecast_figure(result: Mapping[str, Any]) -> go.Figure:
    """Expected good units to the horizon, complex and per factory, per variant, with 95% CIs."""
    variants = _scenarios(result, "outputs")
    if not variants:
        return empty_figure("no forecast to show")
    keys = _forecast_keys(result)
    labels = [k.removesuffix(".good_units").removeprefix("factory.") for k in keys]
    fig = go.Figure(layout={"template": TEMPLATE})
    for vi, (name, outputs) in enumerate(variants):
        means = [_num((outputs.get(k) or {}).get("mean")) for k in keys]
        hws = [_num((outputs.get(k) or {}).get("half_width")) or 0 for k in keys]
        fig.add_trace(
            go.Bar(
                x=labels, y=means, name=name, marker_color=_COLOURS[vi % len(_COLOURS)],
                error_y=dict(type="data", array=hws, visible=True),
                hovertemplate=f"{name}<br>%{{x}}: %{{y:.0f}} good units<extra></extra>",
            )
        )
    horizon = _num(result.get("horizon_h"))
    fig.update_layout(
        height=360,
        margin=dict(l=60, r=16, t=30, b=80),
        plot_bgcolor="#ffffff",
        paper_bgcolor="#ffffff",
        barmode="group",
        yaxis=dict(title=dict(text="good units (95% CI)"), gridcolor="#e4e7eb", rangemode="tozero"),
        title=dict(text=f"expected good units in the next {_fmt(horizon, 3)} h", font=dict(size=13)),
        legend=dict(orientation="h", y=1.12),
    )
    return fig


def forecast_rows(result: Mapping[str, Any]) -> list[dict[str, Any]]:
    """Per output: the as-is mean and CI half-width, and each what-if's paired difference."""
    variants = _scenarios(result, "outputs")
    if not variants:
        return []
    base = variants[0][1]
    comps = result.get("comparisons") if isinstance(result.get("comparisons"), Mapping) else {}
    rows = []
    for k in _forecast_keys(result):
        o = base.get(k) or {}
        row: dict[str, Any] = {"output": k, "mean": _num(o.get("mean")), "half_width": _num(o.get("half_width"))}
        row["what_ifs"] = {}
        for name, cmp in comps.items():
            c = (cmp or {}).get(k) or {}
            lo, hi = _num(c.get("ci_low")), _num(c.get("ci_high"))
            row["what_ifs"][str(name)] = {
                "diff": _num(c.get("diff")),
                "half_width": (hi - lo) / 2 if lo is not None and hi is not None else None,
                "significant": bool(c.get("significant")),
            }
        rows.append(row)
    return rows


def forecast_table(rows: list[dict[str, Any]]) -> html.Table | html.P:
    if not rows:
        return html.P("No forecast outputs.", className="status")
    names = list(rows[0]["what_ifs"])
    body = []
    for r in rows:
        cells = [html.Td(r["output"]), html.Td(f"{_fmt(r['mean'], 5)} ± {_fmt(r['half_width'], 3)}")]
        for n in names:
            w = r["what_ifs"][n]
            star = " (significant)" if w["significant"] else ""
            text = "n/a" if w["diff"] is None else f"{w['diff']:+.4g} ± {_fmt(w['half_width'], 3)}{star}"
            cells.append(html.Td(text))
        body.append(cells)
    head = ["output", "as-is: good units (95% CI)", *[f"{n}: difference" for n in names]]
    return _table(head, body, "forecast-table")


def progress_text(status: Mapping[str, Any]) -> tuple[int, int, str]:
    """(done, total, label) for a progress bar, from a job status (any content)."""
    done = status.get("done")
    total = status.get("total")
    done = done if isinstance(done, int) and not isinstance(done, bool) and done >= 0 else 0
    total = total if isinstance(total, int) and not isinstance(total, bool) and total >= 0 else 0
    state = str(status.get("state", "?"))
    message = str(status.get("message", ""))[:300]
    pct = f" ({100 * done // total}%)" if total else ""
    return done, total, f"{state}: {message}{pct}"
