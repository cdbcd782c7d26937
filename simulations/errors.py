"""Errors raised on purpose by the simulation package.

Scenario files are YAML inputs like the complex config, so their problems are
reported as :class:`twin.errors.ConfigError` (file, key path, line, reason).
Problems found while building or running a model carry the asset they concern.
"""

from __future__ import annotations

from twin.errors import ConfigError, TwinError

__all__ = ["ConfigError", "SimulationError", "StateError", "ExecutorError"]


class SimulationError(TwinError):
    """A model cannot be built or run as asked."""


class StateError(SimulationError, ValueError):
    """A starting state does not fit the complex (unknown asset, over-full buffer, ...).

    ``path`` names the offending entry, e.g. ``buffers['alpha-aoi']``.
    """

    def __init__(self, path: str, reason: str):
        self.path = path
        self.reason = reason
        super().__init__(f"state {path}: {reason}")


class ExecutorError(SimulationError):
    """Replications could not be run on the requested executor (pool or cluster)."""
