"""Callbacks of the simulation lab.

A run or forecast button starts a job (:class:`dashboards.jobs.JobStore`: a child
process and a directory of JSON files), the browser keeps only the job id (session
storage), and a 1 s interval reads the job's progress and, once done, its result. Who
asks comes from the server-side session: a job id of another user, a forged scenario
name or parameter key yields a message and nothing else.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from dash import ALL, Dash, Input, Output, State, dcc, html, no_update
from dash import ctx as dash_ctx

from dashboards.auth.session import current_user
from dashboards.context import DashboardContext
from dashboards.jobs import ACTIVE_STATES, JobError, JobStore
from dashboards.pages.simlab import ids
from dashboards.pages.simlab.catalogue import read_scenario
from dashboards.pages.simlab.figures import (
    comparison_rows,
    comparison_table,
    forecast_figure,
    forecast_rows,
    forecast_table,
    kpi_figure,
    progress_text,
)
from dashboards.pages.simlab.form import FormError, scenario_parameters, validate_experiment, validate_forecast
from dashboards.sim_jobs import EXPERIMENT, FORECAST, RUNNER_MODULE
from dashboards.trend import empty_figure
from twin.errors import ConfigError

__all__ = ["describe", "start_experiment", "start_forecast", "cancel_job", "poll", "register"]

log = logging.getLogger(__name__)

_MAX_SHOWN = 60  # characters of a client value echoed in a message


def _echo(value: object) -> str:
    text = repr(value)
    return text if len(text) <= _MAX_SHOWN else text[: _MAX_SHOWN - 3] + "..."


def _problems(exc: FormError) -> html.Ul:
    return html.Ul([html.Li(p) for p in exc.problems], className="lab-problems")


def describe(catalogue: Mapping[str, Path], name: object) -> tuple[Any, ...]:
    """Description, parameter inputs and run defaults of the scenario ``name`` (any client value)."""
    path = catalogue.get(name) if isinstance(name, str) else None
    if path is None:
        return html.P(f"unknown scenario {_echo(name)}", className="lab-error"), [], None, None, None, None
    try:
        data = read_scenario(path)
    except ConfigError as exc:
        return html.P(f"cannot read the scenario: {exc}", className="lab-error"), [], None, None, None, None
    run = data.get("run") if isinstance(data.get("run"), dict) else {}
    scenarios = [s for s in data.get("scenarios") or [] if isinstance(s, dict)]
    text = [
        html.Strong(str(data.get("name", name))),
        html.Span(f" · complex: {data.get('config', 'demo')}", className="muted"),
        html.P(str(data.get("description", ""))),
        html.Ul(
            [html.Li("baseline: the complex as configured")]
            + [html.Li(f"{s.get('name')}: {s.get('description', '')}") for s in scenarios]
        ),
    ]
    params = [
        html.Label(
            [
                html.Span(p.label),
                html.Div(
                    _param_input({"type": ids.PARAM, "key": p.key}, p.value, p.integer),
                ),
            ],
            className="lab-field lab-param",
        )
        for p in scenario_parameters(data)
    ]
    if params:
        params.insert(0, html.H3("Scenario parameters"))
    return (
        text,
        params,
        run.get("replications", 5),
        run.get("days", 28),
        run.get("warmup_h", 24),
        run.get("seed", 1),
    )


def _param_input(id_: dict[str, str], value: float, integer: bool) -> dcc.Input:
    shown = int(value) if integer or float(value).is_integer() else value
    return dcc.Input(id=id_, type="number", value=shown, step=1 if integer else "any", className="lab-number")


def start_experiment(
    store: JobStore,
    catalogue: Mapping[str, Path],
    user: str | None,
    scenario: object,
    run_values: Mapping[str, object],
    param_ids: object,
    param_values: object,
) -> tuple[Any, Any]:
    """Check the form and start the experiment job: (job store data, message)."""
    if user is None:
        return no_update, "not signed in"
    path = catalogue.get(scenario) if isinstance(scenario, str) else None
    if path is None:
        return no_update, f"unknown scenario {_echo(scenario)}: nothing started"
    if not isinstance(param_ids, list) or not isinstance(param_values, list) or len(param_ids) != len(param_values):
        return no_update, "malformed parameters: nothing started"
    values: dict[object, object] = {}
    for pid, v in zip(param_ids, param_values, strict=True):
        key = pid.get("key") if isinstance(pid, dict) else None
        values[key if isinstance(key, str) else _echo(pid)] = v
    try:
        data = read_scenario(path)
        req = validate_experiment(str(scenario), path, data, run_values, values)
    except ConfigError as exc:
        return no_update, f"cannot read the scenario: {exc}"
    except FormError as exc:
        return no_update, html.Div([html.P("Nothing started:"), _problems(exc)], className="lab-error")
    try:
        job_id = store.start(user, EXPERIMENT, req.params, RUNNER_MODULE)
    except JobError as exc:
        return no_update, html.P(f"Nothing started: {exc}", className="lab-error")
    return {"id": job_id}, f"started: {req.replications} replications x {req.scenarios} scenarios"


def start_forecast(
    store: JobStore,
    ctx: DashboardContext,
    user: str | None,
    replications: object,
    horizon_h: object,
    seed: object,
    what_if: object,
) -> tuple[Any, Any]:
    """Check the form and start a forecast job from the live state: (job store data, message)."""
    if user is None:
        return no_update, "not signed in"
    if not ctx.broker_url:
        return no_update, html.P(
            "No live twin: this dashboard has no broker (start it with --broker / TWIN_BROKER), "
            "so there is no live state to forecast from.",
            className="lab-error",
        )
    try:
        params = validate_forecast(replications, horizon_h, seed, what_if, ctx.complex)
    except FormError as exc:
        return no_update, html.Div([html.P("Nothing started:"), _problems(exc)], className="lab-error")
    params.update(broker_url=ctx.broker_url, complex=ctx.complex.model_dump(mode="json"), wait_s=5.0)
    try:
        job_id = store.start(user, FORECAST, params, RUNNER_MODULE)
    except JobError as exc:
        return no_update, html.P(f"Nothing started: {exc}", className="lab-error")
    return {"id": job_id}, "forecast started"


def cancel_job(store: JobStore, user: str | None, job: object) -> str:
    if user is None:
        return "not signed in"
    job_id = job.get("id") if isinstance(job, dict) else None
    if store.cancel(job_id, user):
        return "cancelling..."
    return "no running job to cancel"


def _job_id(job: object) -> object:
    return job.get("id") if isinstance(job, dict) else None


def poll(store: JobStore, user: str | None, job: object, shown: object, kind: str) -> tuple[Any, ...]:
    """(progress value, progress max, progress text, figure, table, shown, cancel disabled)."""
    nothing = (no_update,) * 7
    if user is None or job is None:
        return nothing
    status = store.status(_job_id(job), user)
    if status is None or status.get("kind") != kind:
        return (0, 1, "no such job of yours", no_update, no_update, None, True)
    done, total, text = progress_text(status)
    state = status.get("state")
    key = f"{status['id']}:{state}:{done}/{total}:{text}"
    if key == shown:
        return nothing
    running = state in ACTIVE_STATES
    bar_max = max(total, 1)
    if state == "done":
        result = store.result(status["id"], user)
        if not isinstance(result, dict):
            return (0, 1, "done, but the result cannot be read", no_update, no_update, key, True)
        if kind == EXPERIMENT:
            figure, table = kpi_figure(result), comparison_table(comparison_rows(result))
        else:
            figure, table = forecast_figure(result), _forecast_summary(result)
        return (bar_max, bar_max, text, figure, table, key, True)
    if state in ("failed", "cancelled"):
        msg = "no result" if state == "cancelled" else f"failed: {str(status.get('message', ''))[:300]}"
        return (done, bar_max, text, empty_figure(msg), html.P(msg, className="lab-error"), key, True)
    return (done, bar_max, text, no_update, no_update, key, not running)


def _forecast_summary(result: dict[str, Any]) -> html.Div:
    meta = result.get("meta") if isinstance(result.get("meta"), dict) else {}
    return html.Div(
        [
            html.P(
                f"from {meta.get('start', '?')} for {result.get('horizon_h', 0):.2f} h, "
                f"{result.get('replications')} replications · start state: {meta.get('state', '?')}",
                className="status",
            ),
            forecast_table(forecast_rows(result)),
        ]
    )


def _user() -> str | None:
    user = current_user()
    return user.username if user is not None else None


def register(
    app: Dash, ctx: DashboardContext, store: JobStore, catalogue: Callable[[], Mapping[str, Path]]
) -> None:
    """Wire the lab; ``catalogue()`` lists the scenario files (read per call: a new file needs no restart)."""

    @app.callback(
        Output(ids.DESCRIPTION, "children"),
        Output(ids.PARAMS, "children"),
        Output(ids.REPLICATIONS, "value"),
        Output(ids.DAYS, "value"),
        Output(ids.WARMUP, "value"),
        Output(ids.SEED, "value"),
        Input(ids.SCENARIO, "value"),
    )
    def _describe(name: object) -> tuple[Any, ...]:
        return describe(catalogue(), name)

    @app.callback(
        Output(ids.JOB, "data"),
        Output(ids.MESSAGE, "children"),
        Input(ids.RUN, "n_clicks"),
        Input(ids.CANCEL, "n_clicks"),
        State(ids.SCENARIO, "value"),
        State(ids.REPLICATIONS, "value"),
        State(ids.DAYS, "value"),
        State(ids.WARMUP, "value"),
        State(ids.SEED, "value"),
        State({"type": ids.PARAM, "key": ALL}, "id"),
        State({"type": ids.PARAM, "key": ALL}, "value"),
        State(ids.JOB, "data"),
        prevent_initial_call=True,
    )
    def _act(
        _run: object, _cancel: object, scenario: object, reps: object, days: object, warmup: object,
        seed: object, param_ids: object, param_values: object, job: object,
    ) -> tuple[Any, Any]:
        if dash_ctx.triggered_id == ids.CANCEL:
            return no_update, cancel_job(store, _user(), job)
        run_values = {"replications": reps, "days": days, "warmup_h": warmup, "seed": seed}
        return start_experiment(store, catalogue(), _user(), scenario, run_values, param_ids, param_values)

    @app.callback(
        Output(ids.PROGRESS, "value"),
        Output(ids.PROGRESS, "max"),
        Output(ids.PROGRESS_TEXT, "children"),
        Output(ids.CHART, "figure"),
        Output(ids.TABLE, "children"),
        Output(ids.SHOWN, "data"),
        Output(ids.CANCEL, "disabled"),
        Input(ids.TICK, "n_intervals"),
        Input(ids.JOB, "data"),
        State(ids.SHOWN, "data"),
    )
    def _poll(_tick: object, job: object, shown: object) -> tuple[Any, ...]:
        return poll(store, _user(), job, shown, EXPERIMENT)

    @app.callback(
        Output(ids.FC_JOB, "data"),
        Output(ids.FC_MESSAGE, "children"),
        Input(ids.FC_RUN, "n_clicks"),
        Input(ids.FC_CANCEL, "n_clicks"),
        State(ids.FC_REPLICATIONS, "value"),
        State(ids.FC_HORIZON, "value"),
        State(ids.FC_SEED, "value"),
        State(ids.FC_WHAT_IF, "value"),
        State(ids.FC_JOB, "data"),
        prevent_initial_call=True,
    )
    def _fc_act(
        _run: object, _cancel: object, reps: object, horizon: object, seed: object, what_if: object, job: object
    ) -> tuple[Any, Any]:
        if dash_ctx.triggered_id == ids.FC_CANCEL:
            return no_update, cancel_job(store, _user(), job)
        return start_forecast(store, ctx, _user(), reps, horizon, seed, what_if)

    @app.callback(
        Output(ids.FC_PROGRESS, "value"),
        Output(ids.FC_PROGRESS, "max"),
        Output(ids.FC_PROGRESS_TEXT, "children"),
        Output(ids.FC_CHART, "figure"),
        Output(ids.FC_TABLE, "children"),
        Output(ids.FC_SHOWN, "data"),
        Output(ids.FC_CANCEL, "disabled"),
        Input(ids.TICK, "n_intervals"),
        Input(ids.FC_JOB, "data"),
        State(ids.FC_SHOWN, "data"),
    )
    def _fc_poll(_tick: object, job: object, shown: object) -> tuple[Any, ...]:
        return poll(store, _user(), job, shown, FORECAST)
