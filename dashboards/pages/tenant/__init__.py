"""Tenant portal: a tenant's own factories: OEE with its breakdown, energy per good unit, CSV."""

from __future__ import annotations

from dashboards.pages import Page
from dashboards.pages.tenant.callbacks import register
from dashboards.pages.tenant.layout import layout

__all__ = ["PAGE"]

#: Tenant users see their own tenant only; operators and admins may pick any tenant.
PAGE = Page(
    path="/tenant",
    title="Tenant portal",
    layout=layout,
    register_callbacks=register,
    roles=frozenset({"tenant", "operator", "admin"}),
)
