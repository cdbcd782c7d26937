"""Alarm console: open alarms by severity then time, with acknowledge, comment and shelve."""

from __future__ import annotations

from dashboards.pages import Page
from dashboards.pages.alarms.callbacks import register
from dashboards.pages.alarms.layout import layout

__all__ = ["PAGE"]

#: The control centre's console: every owner's alarms, so not for tenants or engineers.
PAGE = Page(
    path="/alarms",
    title="Alarms",
    layout=layout,
    register_callbacks=register,
    roles=frozenset({"operator", "admin"}),
)
