"""Layout of the simulation lab: an experiment panel and a forecast-from-live-state panel."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

from dash import dcc, html

from dashboards.context import DashboardContext
from dashboards.pages.simlab import ids
from dashboards.pages.simlab.form import (
    MAX_DAYS,
    MAX_FORECAST_HORIZON_H,
    MAX_FORECAST_REPLICATIONS,
    MAX_REPLICATIONS,
    MAX_SEED,
)
from dashboards.trend import empty_figure

__all__ = ["POLL_MS", "DEFAULT_SCENARIO", "layout"]

#: How often a running job's progress is read (a JSON file per tab and second).
POLL_MS = 1_000
DEFAULT_SCENARIO = "predictive-maintenance"


def _field(label: str, component: dcc.Input) -> html.Label:
    return html.Label([html.Span(label), component], className="lab-field")


def _number(id_: str, value: float | None, low: float, high: float, step: float | str = 1) -> dcc.Input:
    return dcc.Input(id=id_, type="number", value=value, min=low, max=high, step=step, className="lab-number")


def _progress(bar_id: str, text_id: str) -> html.Div:
    return html.Div(
        className="lab-progress",
        children=[
            html.Progress(id=bar_id, value=0, max=1),
            html.Span(id=text_id, className="status", role="status"),
        ],
    )


def layout(ctx: DashboardContext, catalogue: Mapping[str, Path]) -> html.Div:
    names = list(catalogue)
    first = DEFAULT_SCENARIO if DEFAULT_SCENARIO in catalogue else (names[0] if names else None)
    return html.Div(
        className="page page-simlab",
        children=[
            dcc.Interval(id=ids.TICK, interval=POLL_MS),
            dcc.Store(id=ids.JOB, storage_type="session"),
            dcc.Store(id=ids.SHOWN),
            dcc.Store(id=ids.FC_JOB, storage_type="session"),
            dcc.Store(id=ids.FC_SHOWN),
            html.Section(
                className="card",
                children=[
                    html.H2("Experiment: scenarios against the baseline"),
                    html.Div(
                        className="controls",
                        children=[
                            dcc.Dropdown(
                                id=ids.SCENARIO,
                                options=[{"label": n, "value": n} for n in names],
                                value=first,
                                clearable=False,
                                className="lab-scenario",
                            ),
                        ],
                    ),
                    html.Div(id=ids.DESCRIPTION, className="lab-description"),
                    html.Div(
                        className="lab-form",
                        children=[
                            _field("replications", _number(ids.REPLICATIONS, None, 1, MAX_REPLICATIONS)),
                            _field("horizon (days)", _number(ids.DAYS, None, 0, MAX_DAYS, "any")),
                            _field("warm-up (h)", _number(ids.WARMUP, None, 0, MAX_DAYS * 24, "any")),
                            _field("seed", _number(ids.SEED, None, 0, MAX_SEED)),
                        ],
                    ),
                    html.Div(id=ids.PARAMS, className="lab-params"),
                    html.Div(
                        className="controls",
                        children=[
                            html.Button("Run experiment", id=ids.RUN, n_clicks=0, className="button lab-run"),
                            html.Button(
                                "Cancel", id=ids.CANCEL, n_clicks=0, disabled=True, className="button lab-cancel"
                            ),
                        ],
                    ),
                    html.Div(id=ids.MESSAGE, className="lab-message", role="status"),
                    _progress(ids.PROGRESS, ids.PROGRESS_TEXT),
                    dcc.Graph(
                        id=ids.CHART,
                        figure=empty_figure("run an experiment to compare its scenarios with the baseline"),
                        config={"displaylogo": False},
                    ),
                    html.Div(id=ids.TABLE),
                ],
            ),
            html.Section(
                className="card",
                children=[
                    html.H2("Forecast from the live state"),
                    html.P(
                        "Forks the live twin's present (its retained snapshots on the broker) into the model "
                        "and runs it ahead: expected good units with 95% confidence intervals.",
                        className="muted",
                    ),
                    html.Div(
                        className="lab-form",
                        children=[
                            _field("replications", _number(ids.FC_REPLICATIONS, 10, 1, MAX_FORECAST_REPLICATIONS)),
                            _field(
                                "horizon (h, empty: end of shift)",
                                _number(ids.FC_HORIZON, None, 0, MAX_FORECAST_HORIZON_H, "any"),
                            ),
                            _field("seed", _number(ids.FC_SEED, 0, 0, MAX_SEED)),
                            _field(
                                "what-if (optional)",
                                dcc.Input(
                                    id=ids.FC_WHAT_IF,
                                    type="text",
                                    placeholder="down:MACHINE:2h or stop:FACTORY:1h",
                                    maxLength=200,
                                    className="lab-what-if",
                                ),
                            ),
                        ],
                    ),
                    html.Div(
                        className="controls",
                        children=[
                            html.Button("Run forecast", id=ids.FC_RUN, n_clicks=0, className="button lab-fc-run"),
                            html.Button(
                                "Cancel", id=ids.FC_CANCEL, n_clicks=0, disabled=True, className="button lab-fc-cancel"
                            ),
                        ],
                    ),
                    html.Div(id=ids.FC_MESSAGE, className="lab-message", role="status"),
                    _progress(ids.FC_PROGRESS, ids.FC_PROGRESS_TEXT),
                    dcc.Graph(
                        id=ids.FC_CHART,
                        figure=empty_figure("run a forecast from the live state"),
                        config={"displaylogo": False},
                    ),
                    html.Div(id=ids.FC_TABLE),
                ],
            ),
        ],
    )
