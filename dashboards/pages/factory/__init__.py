"""Factory view: one factory's lines and machines, state timeline, live OEE and sensor trends."""

from __future__ import annotations

from dashboards.pages import Page
from dashboards.pages.factory.callbacks import register
from dashboards.pages.factory.layout import layout

__all__ = ["PAGE"]

#: Operators, engineers and admins open any factory; a tenant user only its own (every
#: callback checks the factory in the URL against the session's tenant).
PAGE = Page(
    path="/factory",
    title="Factory",
    layout=layout,
    register_callbacks=register,
    roles=frozenset({"operator", "engineer", "admin", "tenant"}),
)
