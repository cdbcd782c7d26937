"""Dash dashboards of the twin: ``create_app`` builds the app, ``twin dashboard`` serves it.

Depends on ``twin``; nothing imports ``dashboards``. Importing this package opens no
connection and creates no app.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

__all__ = ["create_app"]

if TYPE_CHECKING:
    from dashboards.app import create_app


def __getattr__(name: str) -> Any:  # keep `import dashboards` cheap: dash loads on first use
    if name == "create_app":
        from dashboards.app import create_app

        return create_app
    raise AttributeError(f"module 'dashboards' has no attribute {name!r}")
