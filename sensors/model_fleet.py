"""Wiring of `twin sensors --source model`: its settings, its source, its command listener."""

from __future__ import annotations

import json
import math
import os
from pathlib import Path

from sensors.inject_listener import InjectListener
from sensors.model_source import ModelSource
from twin.model import Complex
from twin.urls import BrokerUrl

__all__ = ["build_model_source", "start_injection", "write_kpis"]


def build_model_source(
    complex_: Complex,
    config: str,
    start_ms: int,
    seed: int,
    scenario: str | None = None,
    variant: str | None = None,
) -> ModelSource:
    """A :class:`ModelSource` with the settings (and disaster schedule) of ``scenario``.

    ``scenario`` is a scenario file or a shipped name; ``variant`` picks one of its
    scenarios (default: the baseline). Raises ``ConfigError`` for a bad file,
    ``ValueError`` for a bad choice, ``SimulationError`` when the model cannot be built.
    """
    if scenario is None:
        if variant is not None:
            raise ValueError("--variant needs --scenario")
        return ModelSource(complex_, start_ms, seed=seed)
    from simulations.scenario import load_scenario_file

    plan = load_scenario_file(scenario, config)
    chosen = plan.baseline
    if variant is not None:
        names = [s.name for s in plan.scenarios]
        if variant not in names:
            raise ValueError(f"no scenario {variant!r} in {plan.source}; known: {', '.join(names)}")
        chosen = plan.scenarios[names.index(variant)]
    return ModelSource(complex_, start_ms, chosen.settings, seed=seed, model_complex=chosen.complex)


def start_injection(
    source: ModelSource, url: BrokerUrl, complex_: Complex, connect_timeout: float
) -> InjectListener:
    """Listen for injection commands for ``source`` and publish its disaster phases."""
    listener = InjectListener(url, complex_, source.request)
    source.on_disaster = listener.publish_disaster
    listener.start(connect_timeout)
    return listener


def write_kpis(source: ModelSource, path: str | os.PathLike[str]) -> None:
    """The model's KPIs over the published run as JSON (NaN as null), written atomically."""
    doc = {
        "start_ms": source.start_ms,
        "end_ms": source.now_ms,
        "kpis": {
            k: (v if isinstance(v, int | float) and math.isfinite(v) else None)
            for k, v in sorted(source.kpis().items())
        },
    }
    p = Path(path)
    tmp = p.with_name(p.name + ".tmp")
    tmp.write_text(json.dumps(doc, indent=1), encoding="utf-8")
    os.replace(tmp, p)
