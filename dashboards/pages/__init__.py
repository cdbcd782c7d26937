"""Pages of the dashboard app. Each page is a package with ``layout.py`` and ``callbacks.py``.

A page is described by a :class:`Page`; the app shell routes URLs to pages. Adding a
page (alarm console, tenant portal, simulation lab) means adding a package and
listing it in :func:`default_pages`; nothing else changes.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from dash.development.base_component import Component

from dashboards.auth.users import ROLES, User

if TYPE_CHECKING:
    from dash import Dash

    from dashboards.context import DashboardContext

__all__ = ["Page", "default_pages"]


@dataclass(frozen=True, slots=True)
class Page:
    """One routable page: where it lives, its title, how to lay it out and wire it."""

    path: str
    title: str
    #: The page for the session's user (None outside a session: Dash's validation layout).
    layout: Callable[[DashboardContext, User | None], Component]
    register_callbacks: Callable[[Dash, DashboardContext], None]
    #: Roles that may open the page and call its callbacks (checked from the session).
    roles: frozenset[str] = frozenset(ROLES)

    def __post_init__(self) -> None:
        if not self.path.startswith("/"):
            raise ValueError(f'page path must start with "/", got {self.path!r}')
        unknown = set(self.roles) - set(ROLES)
        if unknown:
            raise ValueError(f"page {self.path}: unknown role(s) {sorted(unknown)}; roles are {ROLES}")


def default_pages() -> tuple[Page, ...]:
    """The pages every deployment serves, in navigation order."""
    from dashboards.pages import alarms, factory, overview, simlab, tenant

    return (overview.PAGE, alarms.PAGE, tenant.PAGE, factory.PAGE, simlab.PAGE)
