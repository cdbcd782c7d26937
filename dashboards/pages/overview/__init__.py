"""Operations overview: the site map coloured by data freshness and a live sensor trend."""

from __future__ import annotations

from dashboards.pages import Page
from dashboards.pages.overview.callbacks import register
from dashboards.pages.overview.layout import layout

__all__ = ["PAGE"]

#: Shows every tenant's factories and sensors: not for tenant users.
PAGE = Page(
    path="/",
    title="Overview",
    layout=layout,
    register_callbacks=register,
    roles=frozenset({"operator", "engineer", "admin"}),
)
