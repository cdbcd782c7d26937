"""Which scenario files the lab offers: the shipped examples, plus a deployment's own folder.

The browser names a scenario only by its key in this catalogue; a path or a name that
is not listed never reaches the file system.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

__all__ = ["SCENARIOS_ENV", "scenario_catalogue", "read_scenario"]

#: A folder of extra ``*.yaml`` scenario files offered beside the shipped ones.
SCENARIOS_ENV = "TWIN_DASHBOARD_SCENARIOS"
#: Scenario files are small; a bigger one is refused, not parsed.
MAX_SCENARIO_BYTES = 256 * 1024


def scenario_catalogue(extra_dir: str | os.PathLike[str] | None = None) -> dict[str, Path]:
    """Scenario files by name: ``simulations/scenarios/*.yaml``, then ``extra_dir``'s (whose
    names win, so a site may replace an example)."""
    from simulations.scenario import shipped_scenarios

    found = dict(shipped_scenarios())
    if extra_dir is not None and Path(extra_dir).is_dir():
        for p in sorted(Path(extra_dir).glob("*.yaml")):
            if p.is_file():
                found[p.stem] = p
    return found


def read_scenario(path: Path) -> dict[str, Any]:
    """The raw YAML of a scenario file (a mapping); ConfigError if it cannot be read."""
    from twin.config import load_yaml
    from twin.errors import ConfigError

    data, _ = load_yaml(path, max_bytes=MAX_SCENARIO_BYTES)
    if not isinstance(data, dict):
        raise ConfigError(str(path), "", "a scenario file must be a mapping")
    return data
