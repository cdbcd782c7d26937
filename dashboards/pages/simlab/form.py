"""The simulation lab's forms: every value the browser sends, checked before anything runs (pure).

Values come from ``dcc.Input(type="number")`` fields, but a callback is a plain HTTP
endpoint: anything may arrive (text, booleans, NaN, huge numbers, unknown keys). Each
check returns the cleaned value or raises :class:`FormError` with one line per problem;
nothing is started unless every field is good.
"""

from __future__ import annotations

import copy
import math
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

__all__ = [
    "FormError",
    "Param",
    "MAX_DAYS",
    "MAX_REPLICATIONS",
    "MAX_SCENARIO_DAYS",
    "MAX_FORECAST_HORIZON_H",
    "MAX_FORECAST_REPLICATIONS",
    "MAX_SEED",
    "ExperimentRequest",
    "scenario_parameters",
    "check_run",
    "apply_parameters",
    "validate_experiment",
    "validate_forecast",
]

#: Bounds of a lab run: the job shares the dashboard's machine with everyone else.
MAX_REPLICATIONS = 50
MAX_DAYS = 365.0
#: replications x scenarios x simulated days; the demo complex runs about 15 days/s.
MAX_SCENARIO_DAYS = 3000.0
MAX_SEED = 2**31 - 1
MAX_FORECAST_REPLICATIONS = 50
MAX_FORECAST_HORIZON_H = 48.0
#: Largest magnitude accepted for a scenario parameter (a scale, an added value, hours).
MAX_PARAM_ABS = 1e6
#: Longest what-if text accepted.
MAX_WHAT_IF_CHARS = 200


class FormError(ValueError):
    """One or more form fields are unusable; ``problems`` has one line each."""

    def __init__(self, problems: list[str]) -> None:
        super().__init__("; ".join(problems))
        self.problems = problems


@dataclass(frozen=True, slots=True)
class Param:
    """One editable number of a scenario: an operation's value or a disaster's timing."""

    key: str  # "<scenario index>.<change index>.<op>" or "<i>.<j>.disaster.<field>"
    label: str
    value: float
    integer: bool = False


def _shown(value: object) -> str:
    text = repr(value)
    return text if len(text) <= 40 else text[:37] + "..."


def _number(
    value: object, name: str, *, low: float, high: float, integer: bool = False, low_open: bool = False
) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise FormError([f"{name}: must be a number (got {_shown(value)})"])
    if not math.isfinite(value):
        raise FormError([f"{name}: must be a finite number (got {_shown(value)})"])
    if integer and not float(value).is_integer():
        raise FormError([f"{name}: must be a whole number (got {_shown(value)})"])
    if value > high or value < low or (low_open and value == low):
        lower = f"more than {low:g}" if low_open else f"at least {low:g}"
        raise FormError([f"{name}: must be {lower} and at most {high:g} (got {_shown(value)})"])
    return int(value) if integer else float(value)


def _collect(checks: list[tuple[str, Any]]) -> tuple[dict[str, Any], list[str]]:
    """Run several field checks, keeping every problem, not only the first."""
    good: dict[str, Any] = {}
    problems: list[str] = []
    for key, check in checks:
        try:
            good[key] = check()
        except FormError as exc:
            problems.extend(exc.problems)
    return good, problems


def scenario_parameters(data: object) -> list[Param]:
    """The numbers of a scenario file's changes a user may edit, in file order."""
    out: list[Param] = []
    if not isinstance(data, dict) or not isinstance(data.get("scenarios"), list):
        return out
    for i, sc in enumerate(data["scenarios"]):
        if not isinstance(sc, dict) or not isinstance(sc.get("changes"), list):
            continue
        name = str(sc.get("name", f"scenario {i + 1}"))
        for j, ch in enumerate(sc["changes"]):
            if not isinstance(ch, dict):
                continue
            for op, word in (("set", "="), ("scale", "×"), ("add", "+")):
                v = ch.get(op)
                if isinstance(v, int | float) and not isinstance(v, bool):
                    out.append(Param(f"{i}.{j}.{op}", f"{name}: {ch.get('target', '?')} {word}", float(v)))
            dis = ch.get("disaster")
            if isinstance(dis, dict):
                where = dis.get("zone") or dis.get("factory") or "complex"
                for field, integer in (("day", True), ("at_h", False), ("duration_h", False)):
                    v = dis.get(field)
                    if isinstance(v, int | float) and not isinstance(v, bool):
                        label = f"{name}: {dis.get('kind', 'disaster')} in {where}, {field}"
                        out.append(Param(f"{i}.{j}.disaster.{field}", label, float(v), integer))
    return out


def check_run(replications: object, days: object, warmup_h: object, seed: object) -> dict[str, Any]:
    """Replications, horizon (days), warm-up (hours) and seed, each within the lab's bounds."""
    good, problems = _collect(
        [
            ("replications", lambda: _number(replications, "replications", low=1, high=MAX_REPLICATIONS, integer=True)),
            ("days", lambda: _number(days, "horizon (days)", low=0, high=MAX_DAYS, low_open=True)),
            ("warmup_h", lambda: _number(warmup_h, "warm-up (h)", low=0, high=MAX_DAYS * 24)),
            ("seed", lambda: _number(seed, "seed", low=0, high=MAX_SEED, integer=True)),
        ]
    )
    if not problems and good["warmup_h"] >= good["days"] * 24:
        problems.append(f"warm-up (h): must be shorter than the horizon ({good['days'] * 24:g} h)")
    if problems:
        raise FormError(problems)
    return good


def apply_parameters(data: dict[str, Any], values: Mapping[object, object]) -> tuple[dict[str, Any], dict[str, float]]:
    """A copy of the scenario file with the edited numbers; and what changed (key: new value).

    ``values`` maps parameter keys to the numbers typed in; keys that are not parameters
    of this file are refused.
    """
    params = {p.key: p for p in scenario_parameters(data)}
    patched = copy.deepcopy(data)
    changed: dict[str, float] = {}
    problems: list[str] = []
    for key, raw in values.items():
        p = params.get(key) if isinstance(key, str) else None
        if p is None:
            problems.append(f"unknown parameter {_shown(key)}")
            continue
        try:
            v = _number(raw, p.label, low=-MAX_PARAM_ABS, high=MAX_PARAM_ABS, integer=p.integer)
        except FormError as exc:
            problems.extend(exc.problems)
            continue
        if v == p.value:
            continue
        i, j, *rest = key.split(".")
        change = patched["scenarios"][int(i)]["changes"][int(j)]
        if rest[0] == "disaster":
            change["disaster"][rest[1]] = v
        else:
            change[rest[0]] = v
        changed[key] = v
    if problems:
        raise FormError(problems)
    return patched, changed


@dataclass(frozen=True, slots=True)
class ExperimentRequest:
    """A checked experiment: what the job runs (JSON-ready ``params``)."""

    params: dict[str, Any]
    scenarios: int
    replications: int


def validate_experiment(
    name: str,
    source: Path,
    data: dict[str, Any],
    run_values: Mapping[str, object],
    param_values: Mapping[object, object],
) -> ExperimentRequest:
    """Check the form and the edited scenario file as ``twin simulate`` would, without running it."""
    from simulations.scenario import parse_scenario_file
    from twin.errors import ConfigError

    problems: list[str] = []
    run: dict[str, Any] = {}
    try:
        run = check_run(run_values.get("replications"), run_values.get("days"), run_values.get("warmup_h"),
                        run_values.get("seed"))
    except FormError as exc:
        problems.extend(exc.problems)
    patched, changed = data, {}
    try:
        patched, changed = apply_parameters(data, param_values)
    except FormError as exc:
        problems.extend(exc.problems)
    if problems:
        raise FormError(problems)
    n_scenarios = 1 + len(patched.get("scenarios") or [])
    load = run["replications"] * n_scenarios * run["days"]
    if load > MAX_SCENARIO_DAYS:
        raise FormError(
            [
                f"too large: {run['replications']} replications x {n_scenarios} scenarios x {run['days']:g} days "
                f"= {load:g} simulated days; the lab runs at most {MAX_SCENARIO_DAYS:g} (use `twin simulate`)"
            ]
        )
    try:
        parse_scenario_file(patched, str(source))
    except ConfigError as exc:
        raise FormError([f"the edited scenario is not valid: {exc}"]) from None
    except ValueError as exc:  # settings maths refusing a value (e.g. a utilisation > 1)
        raise FormError([f"the edited scenario is not valid: {exc}"]) from None
    return ExperimentRequest(
        {"scenario": name, "source": str(source), "data": patched, "run": run, "changed": changed},
        n_scenarios,
        run["replications"],
    )


def validate_forecast(
    replications: object, horizon_h: object, seed: object, what_if: object, complex_: Any
) -> dict[str, Any]:
    """Replications, horizon (blank: end of the shift), seed and an optional what-if, checked
    against the complex (an unknown machine is refused here, not in the job)."""
    from simulations.forecast import parse_what_if

    checks: list[tuple[str, Any]] = [
        (
            "replications",
            lambda: _number(replications, "replications", low=1, high=MAX_FORECAST_REPLICATIONS, integer=True),
        ),
        ("seed", lambda: _number(seed, "seed", low=0, high=MAX_SEED, integer=True)),
    ]
    if horizon_h not in (None, ""):
        checks.append(
            ("horizon_h", lambda: _number(horizon_h, "horizon (h)", low=0, high=MAX_FORECAST_HORIZON_H, low_open=True))
        )
    good, problems = _collect(checks)
    good.setdefault("horizon_h", None)
    what_ifs: list[str] = []
    if what_if not in (None, ""):
        if not isinstance(what_if, str) or len(what_if) > MAX_WHAT_IF_CHARS:
            problems.append(f"what-if: must be text of at most {MAX_WHAT_IF_CHARS} characters")
        else:
            try:
                what_ifs.append(parse_what_if(what_if.strip(), complex_).name)
            except ValueError as exc:
                problems.append(f"what-if: {str(exc)[:300]}")
    if problems:
        raise FormError(problems)
    return {**good, "what_ifs": what_ifs}
