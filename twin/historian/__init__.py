"""Historians: where time series live. Open one by URL with :func:`open_historian`."""

from __future__ import annotations

from urllib.parse import parse_qs

from twin.errors import UrlError
from twin.historian.base import MAX_DEAD_LETTER_PAYLOAD, DeadLetter, Historian, Window
from twin.urls import redact

__all__ = [
    "Historian",
    "Window",
    "DeadLetter",
    "MAX_DEAD_LETTER_PAYLOAD",
    "open_historian",
    "historian_path",
]


def historian_path(url: str) -> tuple[str, dict[str, list[str]]]:
    """Split ``sqlite://PATH[?opts]`` into the path and its options."""
    rest = url[len("sqlite://") :]
    path, _, query = rest.partition("?")
    if not path:
        raise UrlError(f"{url}: sqlite URL has no path; use sqlite:///abs/path.db or sqlite://rel/path.db")
    return path, parse_qs(query)


def open_historian(url: str, readonly: bool = False) -> Historian:
    """Open the historian a URL names.

    - ``sqlite:///abs/path/history.db`` or ``sqlite://relative/history.db``
      (option ``?sync=normal`` trades power-cut durability for speed)
    """
    if not isinstance(url, str) or not url:
        raise UrlError("historian URL is empty")
    if url.startswith("sqlite://"):
        from twin.historian.sqlite import SqliteHistorian

        path, opts = historian_path(url)
        unknown = set(opts) - {"sync"}
        if unknown:
            raise UrlError(f"{url}: unknown option(s) {sorted(unknown)}; known: sync")
        sync = opts.get("sync", ["full"])[-1]
        return SqliteHistorian(path, synchronous=sync, readonly=readonly)
    scheme = url.split(":", 1)[0]
    raise UrlError(f"{redact(url)}: unknown historian scheme {scheme!r}; supported: sqlite://")
