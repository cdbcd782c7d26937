"""Simulation lab: scenario experiments against the baseline, and forecasts from the live state.

Runs as background jobs (:mod:`dashboards.jobs`, :mod:`dashboards.sim_jobs`): a child
process per job writing JSON files under a jobs directory, so nothing runs in a
request thread and nothing lives in one worker's memory.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING

from dashboards.jobs import JobLimits, JobStore
from dashboards.pages import Page
from dashboards.pages.simlab.catalogue import SCENARIOS_ENV, scenario_catalogue

if TYPE_CHECKING:
    from dash import Dash
    from dash.development.base_component import Component

    from dashboards.auth.users import User
    from dashboards.context import DashboardContext

__all__ = ["JOBS_ENV", "PAGE", "ROLES", "default_jobs_dir", "make_page"]

#: Where job directories go; every worker of one deployment must use the same one.
JOBS_ENV = "TWIN_DASHBOARD_JOBS"
#: Engineers run experiments; admins may too. Operators and tenants do not see the lab
#: (a run costs the server minutes of CPU; the control room's questions are on the other pages).
ROLES = frozenset({"engineer", "admin"})


def default_jobs_dir() -> Path:
    """``TWIN_DASHBOARD_JOBS``, else ``TWIN_DASHBOARD_STATE_DIR/jobs``, else a per-user
    folder in the system temp dir."""
    configured = os.environ.get(JOBS_ENV)
    if configured:
        return Path(configured)
    state = os.environ.get("TWIN_DASHBOARD_STATE_DIR")
    if state:
        return Path(state) / "jobs"
    return Path(tempfile.gettempdir()) / f"twin-dashboard-jobs-{os.getuid()}"


def make_page(
    jobs_dir: str | os.PathLike[str] | None = None,
    scenarios_dir: str | os.PathLike[str] | None = None,
    limits: JobLimits | None = None,
) -> Page:
    """The lab page; ``None`` arguments are read from the environment when the app is built."""

    def _catalogue() -> dict[str, Path]:
        return scenario_catalogue(scenarios_dir if scenarios_dir is not None else os.environ.get(SCENARIOS_ENV))

    def _layout(ctx: DashboardContext, user: User | None = None) -> Component:
        from dashboards.pages.simlab.layout import layout

        return layout(ctx, _catalogue())

    def _register(app: Dash, ctx: DashboardContext) -> None:
        from dashboards.pages.simlab.callbacks import register

        store = JobStore(Path(jobs_dir) if jobs_dir is not None else default_jobs_dir(), limits)
        register(app, ctx, store, _catalogue)

    return Page(path="/simulation", title="Simulation lab", layout=_layout, register_callbacks=_register, roles=ROLES)


PAGE = make_page()
