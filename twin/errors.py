"""One exception hierarchy for the whole platform; every error carries its context."""

from __future__ import annotations

__all__ = [
    "TwinError",
    "ConfigError",
    "UrlError",
    "HistorianError",
    "HistorianUnavailable",
]


class TwinError(Exception):
    """Base class of every error raised on purpose by this platform."""


def _bounded(text: str, limit: int) -> str:
    """``text`` cut to ``limit`` characters and printable as UTF-8 (lone surrogates escaped).

    Config values end up in error messages; hostile input must not flood a log or a
    terminal, nor make the message itself impossible to write.
    """
    if len(text) > limit:
        text = f"{text[: limit - 20]}... ({len(text)} chars)"
    return text.encode("utf-8", "backslashreplace").decode("utf-8")


class ConfigError(TwinError):
    """The complex config (or another YAML input) is invalid.

    ``source`` is the file, ``path`` the dotted path of the bad key
    (``tenants[2].factories[0].lines[0].machines[1].mtbf_h``), ``line`` the
    1-based line in the file when known.
    """

    def __init__(self, source: str, path: str, reason: str, line: int | None = None):
        self.source = source
        self.path = path
        self.reason = reason
        self.line = line
        where = _bounded(f"{source}:{line}" if line else source, 300)
        at = f" at {_bounded(path, 200)}" if path else ""
        super().__init__(f"{where}{at}: {_bounded(reason, 400)}")


class UrlError(TwinError, ValueError):
    """A broker or historian URL cannot be used."""


class HistorianError(TwinError):
    """A historian rejected an operation for a reason that retrying will not fix."""


class HistorianUnavailable(HistorianError):
    """The historian cannot be reached now; retrying later may succeed."""
