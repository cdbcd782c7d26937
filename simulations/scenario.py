"""Scenario files: the baseline complex plus named changes to compare against it.

A scenario file (YAML)::

    version: 1
    name: Predictive maintenance at Hanbit
    config: demo                 # the complex; --config overrides
    run: {days: 28, warmup_h: 48, replications: 8, seed: 1}
    settings: {...}              # modelling settings of the baseline (simulations.settings)
    scenarios:
      - name: pm-hanbit
        description: MTTR -30% on the SMT line (predictive maintenance)
        changes:
          - {target: line.hanbit-f1-l1.machines.mttr_h, scale: 0.7}
          - {target: logistics.dispatch, set: shared}
          - add_machine: {line: hanbit-f1-l1, parallel_to: hanbit-f1-smt, id: hanbit-f1-smt-2}
          - add_truck: {id: truck-11, copy: truck-01}
          - remove_truck: truck-02
          - disaster: {kind: flood, zone: B, day: 3, duration_h: 12}

Scenarios face the baseline's demand: order rates derived from ``utilisation`` are
computed on the baseline's machines (see :func:`_pin_demand`).

A change's ``target`` is ``KIND.ID.FIELD`` (``machine``, ``line``, ``factory``,
``tenant``, ``zone``, ``truck``, ``dock``), ``GROUP.ID.machines.FIELD`` for every
machine of a line, factory, tenant or zone (``complex.machines.FIELD`` for all),
or ``logistics.FIELD``, ``emergency.FIELD``, ``defaults.FIELD``. The operation is
one of ``set``, ``scale`` (multiply) or ``add``. Every problem is reported as a
:class:`twin.errors.ConfigError` with the file, the key path and the line.
"""

from __future__ import annotations

import copy
import os
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from simulations.distributions import exponential
from simulations.errors import SimulationError
from simulations.model import derived_arrival_means
from simulations.settings import (
    DisasterSpec,
    FactorySettings,
    MachineSettings,
    ModelSettings,
    SettingsReferenceError,
    check_settings,
)
from twin.config import load_complex, load_yaml, resolve_config_path
from twin.errors import ConfigError
from twin.model import Complex, Machine, PowerDraw
from twin.validation import ModelReferenceError, format_path

__all__ = [
    "BASELINE",
    "RunDefaults",
    "Scenario",
    "ScenarioFile",
    "load_scenario_file",
    "parse_scenario_file",
    "shipped_scenarios",
    "resolve_scenario_path",
]

#: Name of the unchanged scenario every other one is compared with.
BASELINE = "baseline"

_MACHINE_FIELDS = {"ideal_cycle_time_s", "mtbf_h", "mttr_h", "scrap_rate", "setup_time_s", "name"}
_POWER_FIELDS = set(PowerDraw.model_fields)
_MACHINE_SETTINGS = set(MachineSettings.model_fields)
_FACTORY_SETTINGS = set(FactorySettings.model_fields)
_LINE_FIELDS = {"buffer_capacity", "name"}
_TRUCK_FIELDS = {"capacity", "speed_kmh", "home", "tenant"}
_DOCK_FIELDS = {"capacity"}
_GROUPS = ("line", "factory", "tenant", "zone")


class RunDefaults(BaseModel):
    """Run parameters a scenario file may set; command-line flags override them."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    days: float = Field(default=28.0, gt=0, le=3660)
    warmup_h: float = Field(default=24.0, ge=0)
    replications: int = Field(default=5, ge=1, le=10_000)
    seed: int = Field(default=1, ge=0, le=2**63 - 1)
    crn: bool = True


@dataclass(frozen=True)
class Scenario:
    """One variant of the complex: its (changed) config and settings."""

    name: str
    description: str
    complex: Complex
    settings: ModelSettings


@dataclass(frozen=True)
class ScenarioFile:
    """A loaded scenario file: the baseline first, then each named scenario."""

    source: str
    name: str
    description: str
    config: str
    run: RunDefaults
    scenarios: tuple[Scenario, ...]

    @property
    def baseline(self) -> Scenario:
        return self.scenarios[0]


def shipped_scenarios() -> dict[str, Path]:
    """Example scenario files shipped with the package, by name (file stem)."""
    from importlib import resources

    folder = Path(str(resources.files("simulations") / "scenarios"))
    return {p.stem: p for p in sorted(folder.glob("*.yaml"))}


def resolve_scenario_path(value: str | os.PathLike[str]) -> Path:
    """A path, or the name of a shipped scenario (``predictive-maintenance``)."""
    p = Path(value)
    if not p.exists():
        shipped = shipped_scenarios()
        if str(value) in shipped:
            return shipped[str(value)]
    return p


# ---- locating errors ------------------------------------------------------------------


def _line_of(root: yaml.Node | None, path: tuple[Any, ...]) -> int | None:
    """1-based line of the deepest key of ``path`` found in the YAML node tree."""
    node, line = root, None
    for part in path:
        if isinstance(node, yaml.MappingNode):
            for k, v in node.value:
                if isinstance(k, yaml.ScalarNode) and k.value == str(part):
                    node, line = v, k.start_mark.line + 1
                    break
            else:
                break
        elif isinstance(node, yaml.SequenceNode) and isinstance(part, int) and 0 <= part < len(node.value):
            node = node.value[part]
            line = node.start_mark.line + 1
        else:
            break
    return line


def _pydantic_reason(err: Mapping[str, Any]) -> str:
    kind = err.get("type", "")
    if kind == "extra_forbidden":
        return f"unknown key {str(err['loc'][-1])!r}"
    if kind == "missing":
        return f"missing required key {str(err['loc'][-1])!r}"
    msg = str(err.get("msg", "invalid value")).removeprefix("Value error, ")
    value = err.get("input")
    if value is not None and not isinstance(value, dict | list):
        shown = repr(value)
        msg += f" (got {shown[:57] + '...' if len(shown) > 60 else shown})"
    return msg


class _Ctx:
    """Where we are in the file, to raise errors with path and line."""

    def __init__(self, source: str, root: yaml.Node | None):
        self.source = source
        self.root = root

    def error(self, path: tuple[Any, ...], reason: str) -> ConfigError:
        return ConfigError(self.source, format_path(path), reason, _line_of(self.root, path))

    def validate(self, model: type[BaseModel], data: Any, path: tuple[Any, ...]) -> Any:
        try:
            return model.model_validate(data)
        except ValidationError as exc:
            errs = exc.errors()
            first = errs[0]
            more = f" (and {len(errs) - 1} more problem(s))" if len(errs) > 1 else ""
            loc = tuple(first["loc"])
            # Pydantic reports a failed model validator at the model itself; keep the path.
            raise self.error((*path, *loc), _pydantic_reason(dict(first)) + more) from None


# ---- loading ------------------------------------------------------------------------------

_TOP_KEYS = {"version", "name", "description", "config", "run", "settings", "scenarios"}
_SCENARIO_KEYS = {"name", "description", "changes"}


def load_scenario_file(
    path: str | os.PathLike[str], config: str | None = None, default_config: str = "demo"
) -> ScenarioFile:
    """Load and validate a scenario file.

    The complex is ``config`` if given, else the file's ``config`` key, else
    ``default_config``.
    """
    p = resolve_scenario_path(path)
    data, root = load_yaml(p)
    return parse_scenario_file(data, str(p), root, config, default_config)


def parse_scenario_file(
    data: Any,
    source: str = "<scenario>",
    root: yaml.Node | None = None,
    config: str | None = None,
    default_config: str = "demo",
) -> ScenarioFile:
    """Validate parsed YAML into a :class:`ScenarioFile` (loads the complex it names)."""
    ctx = _Ctx(source, root)
    if not isinstance(data, dict):
        raise ctx.error((), f"the top level must be a mapping, got {type(data).__name__}")
    for k in data:
        if k not in _TOP_KEYS:
            raise ctx.error((k,), f"unknown key {k!r}; allowed: {sorted(_TOP_KEYS)}")
    if data.get("version", 1) != 1:
        raise ctx.error(
            ("version",),
            f"unsupported version {data.get('version')!r}; this release reads version 1",
        )
    for key in ("name", "description"):
        if not isinstance(data.get(key, ""), str):
            raise ctx.error((key,), "must be text")
    run = ctx.validate(RunDefaults, data.get("run") or {}, ("run",))
    from_file = data.get("config")
    if from_file is not None and not isinstance(from_file, str):
        raise ctx.error(("config",), "must be a path or 'demo' / 'tiny'")
    cfg = config or from_file or default_config
    if config is None and from_file and cfg not in ("demo", "tiny") and not Path(cfg).is_absolute():
        cfg = str(Path(source).parent / cfg)  # relative to the scenario file
    complex_ = load_complex(resolve_config_path(cfg))
    raw_settings = data.get("settings") or {}
    if not isinstance(raw_settings, dict):
        raise ctx.error(("settings",), f"must be a mapping, got {type(raw_settings).__name__}")
    base_settings = _settings(ctx, complex_, raw_settings, ("settings",))
    scenarios = [Scenario(BASELINE, "the complex as configured", complex_, base_settings)]
    items = data.get("scenarios") or []
    if not isinstance(items, list):
        raise ctx.error(("scenarios",), f"must be a list, got {type(items).__name__}")
    seen = {BASELINE}
    complex_data = complex_.model_dump(mode="json")
    for i, item in enumerate(items):
        sp: tuple[Any, ...] = ("scenarios", i)
        if not isinstance(item, dict):
            raise ctx.error(sp, f"must be a mapping, got {type(item).__name__}")
        for k in item:
            if k not in _SCENARIO_KEYS:
                raise ctx.error((*sp, k), f"unknown key {k!r}; allowed: {sorted(_SCENARIO_KEYS)}")
        name = item.get("name")
        if not isinstance(name, str) or not name.strip():
            raise ctx.error((*sp, "name"), "every scenario needs a name")
        if name in seen:
            raise ctx.error(
                (*sp, "name"),
                f"duplicate scenario name {name!r}"
                + (" (reserved for the unchanged complex)" if name == BASELINE else ""),
            )
        seen.add(name)
        desc = item.get("description", "")
        if not isinstance(desc, str):
            raise ctx.error((*sp, "description"), "must be text")
        changes = item.get("changes") or []
        if not isinstance(changes, list):
            raise ctx.error((*sp, "changes"), f"must be a list, got {type(changes).__name__}")
        cdata = copy.deepcopy(complex_data)
        sdata = copy.deepcopy(raw_settings)
        for j, change in enumerate(changes):
            _apply_change(ctx, (*sp, "changes", j), change, cdata, sdata, base_settings)
        scen_complex = _complex(ctx, cdata, (*sp, "changes"))
        scen_settings = _settings(ctx, scen_complex, sdata, (*sp, "changes"), scenario=True)
        try:
            scen_settings = _pin_demand(scenarios[0], scen_settings)
        except SimulationError as exc:
            raise ctx.error(sp, str(exc)) from None
        scenarios.append(Scenario(name, desc, scen_complex, scen_settings))
    return ScenarioFile(
        source,
        data.get("name") or Path(source).stem,
        data.get("description", ""),
        cfg,
        run,
        tuple(scenarios),
    )


def _pin_demand(baseline: Scenario, settings: ModelSettings) -> ModelSettings:
    """Keep the baseline's order rate in a scenario.

    Arrivals derived from ``utilisation`` depend on capacity; a scenario that adds
    a machine or shortens repairs must face the same demand as the baseline, or
    the comparison would measure a different market. So derived arrivals are
    computed with the baseline's machines (and the scenario's demand settings:
    utilisation, products, lot sizes) and written into the scenario explicitly.
    """
    demand = settings.model_copy(update={"machines": baseline.settings.machines})
    means = derived_arrival_means(baseline.complex, demand)
    factories = dict(settings.factories)
    for fid, mean in means.items():
        fs = factories.get(fid) or FactorySettings()
        factories[fid] = fs.model_copy(update={"arrivals": exponential(mean)})
    return settings.model_copy(update={"factories": factories})


def _settings(
    ctx: _Ctx, complex_: Complex, raw: dict[str, Any], path: tuple[Any, ...], scenario: bool = False
) -> ModelSettings:
    if scenario:
        try:
            settings = ModelSettings.model_validate(raw)
        except ValidationError as exc:
            first = exc.errors()[0]
            where = format_path(tuple(first["loc"]))
            raise ctx.error(
                path, f"the changes make settings.{where} invalid: {_pydantic_reason(dict(first))}"
            ) from None
    else:
        settings = ctx.validate(ModelSettings, raw, path)
    try:
        check_settings(settings, complex_)
    except SettingsReferenceError as exc:
        if scenario:
            raise ctx.error(path, f"settings.{format_path(exc.path)}: {exc.reason}") from None
        raise ctx.error((*path, *exc.path), exc.reason) from None
    return settings


def _complex(ctx: _Ctx, data: dict[str, Any], path: tuple[Any, ...]) -> Complex:
    try:
        return Complex.model_validate(data)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = format_path(tuple(first["loc"]))
        raise ctx.error(
            path,
            f"the changes make the complex invalid at {where}: {_pydantic_reason(dict(first))}",
        ) from None
    except ModelReferenceError as exc:
        raise ctx.error(
            path, f"the changes make the complex invalid at {format_path(exc.path)}: {exc.reason}"
        ) from None


# ---- changes -------------------------------------------------------------------------------

_OPS = ("set", "scale", "add")


def _machines_of(cdata: dict[str, Any]) -> Iterator[tuple[str, str, str, str, dict[str, Any]]]:
    """(tenant, zone, factory, line, machine dict) for every machine."""
    for t in cdata["tenants"]:
        for f in t["factories"]:
            for ln in f["lines"]:
                for m in ln["machines"]:
                    yield t["id"], f["zone"], f["id"], ln["id"], m


def _find(kind: str, ident: str, cdata: dict[str, Any]) -> dict[str, Any] | None:
    if kind == "machine":
        return next((m for *_, m in _machines_of(cdata) if m["id"] == ident), None)
    if kind == "line":
        return next(
            (ln for t in cdata["tenants"] for f in t["factories"] for ln in f["lines"] if ln["id"] == ident),
            None,
        )
    if kind == "factory":
        return next((f for t in cdata["tenants"] for f in t["factories"] if f["id"] == ident), None)
    if kind == "tenant":
        return next((t for t in cdata["tenants"] if t["id"] == ident), None)
    if kind == "zone":
        return next((z for z in cdata["zones"] if z["id"] == ident), None)
    lg = cdata.get("logistics") or {}
    if kind == "truck":
        return next((tr for tr in lg.get("trucks", ()) if tr["id"] == ident), None)
    if kind == "dock":
        return next((d for d in (lg.get("centre") or {}).get("docks", ()) if d["id"] == ident), None)
    return None


def _known(kind: str, cdata: dict[str, Any]) -> str:
    if kind == "machine":
        ids = [m["id"] for *_, m in _machines_of(cdata)]
    elif kind == "line":
        ids = [ln["id"] for t in cdata["tenants"] for f in t["factories"] for ln in f["lines"]]
    elif kind == "factory":
        ids = [f["id"] for t in cdata["tenants"] for f in t["factories"]]
    elif kind == "tenant":
        ids = [t["id"] for t in cdata["tenants"]]
    elif kind == "zone":
        ids = [z["id"] for z in cdata["zones"]]
    elif kind == "truck":
        ids = [tr["id"] for tr in (cdata.get("logistics") or {}).get("trucks", ())]
    else:
        ids = [d["id"] for d in ((cdata.get("logistics") or {}).get("centre") or {}).get("docks", ())]
    return ", ".join(ids[:12]) + (", ..." if len(ids) > 12 else "") if ids else "(none)"


def _apply_change(
    ctx: _Ctx,
    path: tuple[Any, ...],
    change: Any,
    cdata: dict[str, Any],
    sdata: dict[str, Any],
    base: ModelSettings,
) -> None:
    if not isinstance(change, dict) or not change:
        raise ctx.error(
            path,
            "a change must be a mapping: {target: ..., set|scale|add: ...}, "
            "{add_machine: ...}, {add_truck: ...}, {remove_truck: ID} or {disaster: ...}",
        )
    if "add_machine" in change:
        _only(ctx, path, change, "add_machine")
        return _add_machine(ctx, (*path, "add_machine"), change["add_machine"], cdata, sdata)
    if "add_truck" in change:
        _only(ctx, path, change, "add_truck")
        return _add_truck(ctx, (*path, "add_truck"), change["add_truck"], cdata)
    if "remove_truck" in change:
        _only(ctx, path, change, "remove_truck")
        tid = change["remove_truck"]
        lg = cdata.get("logistics") or {}
        if not isinstance(tid, str) or _find("truck", tid, cdata) is None:
            raise ctx.error((*path, "remove_truck"), f"unknown truck {tid!r}; known: {_known('truck', cdata)}")
        lg["trucks"] = [t for t in lg["trucks"] if t["id"] != tid]
        return None
    if "disaster" in change:
        _only(ctx, path, change, "disaster")
        sdata.setdefault("disasters", [])
        if not isinstance(sdata["disasters"], list):
            raise ctx.error(path, "settings.disasters must be a list")
        ctx.validate(DisasterSpec, change["disaster"], (*path, "disaster"))
        sdata["disasters"].append(change["disaster"])
        return None
    allowed = {"target", "description", *_OPS}
    for k in change:
        if k not in allowed:
            raise ctx.error(
                (*path, k),
                f"unknown key {k!r}; a parameter change takes target and one of set/scale/add",
            )
    target = change.get("target")
    if not isinstance(target, str) or not target:
        raise ctx.error((*path, "target"), "missing target, e.g. machine.hanbit-f1-smt.mttr_h")
    ops = [o for o in _OPS if o in change]
    if len(ops) != 1:
        raise ctx.error(path, f"give exactly one of set, scale or add (got {ops or 'none'})")
    op = ops[0]
    value = change[op]
    if op in ("scale", "add") and (isinstance(value, bool) or not isinstance(value, int | float)):
        raise ctx.error((*path, op), f"{op} needs a number (got {value!r})")
    for setter in _resolve_target(ctx, (*path, "target"), target, cdata, sdata, base):
        setter(ctx, (*path, op), op, value)
    return None


def _only(ctx: _Ctx, path: tuple[Any, ...], change: dict[str, Any], key: str) -> None:
    extra = [k for k in change if k not in (key, "description")]
    if extra:
        raise ctx.error((*path, extra[0]), f"unknown key {extra[0]!r} next to {key!r}")


def _combine(ctx: _Ctx, path: tuple[Any, ...], op: str, old: Any, value: Any) -> Any:
    if op == "set":
        return value
    if isinstance(old, bool) or not isinstance(old, int | float):
        raise ctx.error(path, f"cannot {op} a non-numeric value ({old!r}); use set")
    new = old * value if op == "scale" else old + value
    return round(new) if isinstance(old, int) and float(new).is_integer() else new


def _field_setter(container: dict[str, Any], key: str, current: Any = None) -> Any:
    def apply(ctx: _Ctx, path: tuple[Any, ...], op: str, value: Any) -> None:
        old = container.get(key, current) if current is not None else container.get(key)
        container[key] = _combine(ctx, path, op, old, value)

    return apply


def _resolve_target(
    ctx: _Ctx,
    path: tuple[Any, ...],
    target: str,
    cdata: dict[str, Any],
    sdata: dict[str, Any],
    base: ModelSettings,
) -> list[Any]:
    parts = target.split(".")
    head = parts[0]
    hint = (
        "targets look like machine.ID.FIELD, line.ID.buffer_capacity, line.ID.machines.FIELD, "
        "factory.ID.FIELD, truck.ID.FIELD, dock.ID.capacity, complex.machines.FIELD, "
        "logistics.FIELD, emergency.FIELD, defaults.FIELD"
    )
    if head in ("logistics", "emergency", "defaults"):
        if len(parts) != 2:
            raise ctx.error(path, f"unknown target {target!r}: {hint}")
        section = getattr(base, head)
        field = parts[1]
        if field not in type(section).model_fields:
            raise ctx.error(
                path,
                f"unknown {head} setting {field!r}; known: {sorted(type(section).model_fields)}",
            )
        sec = sdata.setdefault(head, {})
        return [_field_setter(sec, field, getattr(section, field))]
    if head == "complex":
        if len(parts) < 3 or parts[1] != "machines":
            raise ctx.error(path, f"unknown target {target!r}: {hint}")
        return [_machine_setter(ctx, path, m, parts[2:], sdata, base) for *_, m in _machines_of(cdata)]
    if head not in ("machine", "line", "factory", "tenant", "zone", "truck", "dock") or len(parts) < 3:
        raise ctx.error(path, f"unknown target {target!r}: {hint}")
    ident = parts[1]
    obj = _find(head, ident, cdata)
    if obj is None:
        raise ctx.error(path, f"unknown {head} {ident!r} in target {target!r}; known: {_known(head, cdata)}")
    rest = parts[2:]
    if head in _GROUPS and rest[0] == "machines":
        if len(rest) < 2:
            raise ctx.error(path, f"target {target!r} needs a machine field after 'machines'")
        key = {"line": 3, "factory": 2, "tenant": 0, "zone": 1}[head]
        ms = [row[4] for row in _machines_of(cdata) if row[key] == ident]
        return [_machine_setter(ctx, path, m, rest[1:], sdata, base) for m in ms]
    if head == "machine":
        return [_machine_setter(ctx, path, obj, rest, sdata, base)]
    field = rest[0]
    if len(rest) != 1:
        raise ctx.error(path, f"unknown target {target!r}: {hint}")
    if head == "line":
        if field not in _LINE_FIELDS:
            raise ctx.error(
                path,
                f"unknown line field {field!r}; known: {sorted(_LINE_FIELDS)} (or machines.FIELD)",
            )
        return [_field_setter(obj, field)]
    if head == "factory":
        if field not in _FACTORY_SETTINGS:
            raise ctx.error(
                path,
                f"unknown factory setting {field!r}; known: {sorted(_FACTORY_SETTINGS)} (or machines.FIELD)",
            )
        fac = sdata.setdefault("factories", {}).setdefault(ident, {})
        current = base.factory_value(ident, field) if hasattr(base.defaults, field) else None
        return [_field_setter(fac, field, current if isinstance(current, int | float) else None)]
    if head == "truck":
        if field not in _TRUCK_FIELDS:
            raise ctx.error(path, f"unknown truck field {field!r}; known: {sorted(_TRUCK_FIELDS)}")
        return [_field_setter(obj, field)]
    if head == "dock":
        if field not in _DOCK_FIELDS:
            raise ctx.error(path, f"unknown dock field {field!r}; known: {sorted(_DOCK_FIELDS)}")
        return [_field_setter(obj, field)]
    raise ctx.error(path, f"unknown target {target!r}: a {head} takes machines.FIELD")


def _machine_setter(
    ctx: _Ctx,
    path: tuple[Any, ...],
    m: dict[str, Any],
    rest: list[str],
    sdata: dict[str, Any],
    base: ModelSettings,
) -> Any:
    field = rest[0]
    if field == "power_kw":
        if len(rest) != 2 or rest[1] not in _POWER_FIELDS:
            raise ctx.error(
                path,
                f"power targets look like machine.ID.power_kw.STATE with STATE in {sorted(_POWER_FIELDS)}",
            )
        return _field_setter(m["power_kw"], rest[1])
    if len(rest) != 1:
        raise ctx.error(path, f"unknown machine field {'.'.join(rest)!r}")
    if field in _MACHINE_FIELDS:
        return _field_setter(m, field)
    if field in _MACHINE_SETTINGS:
        ms = sdata.setdefault("machines", {}).setdefault(m["id"], {})
        return _field_setter(ms, field)
    known = sorted(_MACHINE_FIELDS | _MACHINE_SETTINGS | {"power_kw.STATE"})
    raise ctx.error(path, f"unknown machine field {field!r}; known: {known}")


def _add_machine(ctx: _Ctx, path: tuple[Any, ...], spec: Any, cdata: dict[str, Any], sdata: dict[str, Any]) -> None:
    if not isinstance(spec, dict):
        raise ctx.error(
            path,
            "add_machine needs a mapping: {line: ID, id: NEW_ID, after: ID, copy: ID, ...fields}",
        )
    spec = dict(spec)
    line_id = spec.pop("line", None)
    line = _find("line", str(line_id), cdata) if line_id is not None else None
    if line is None:
        raise ctx.error((*path, "line"), f"unknown line {line_id!r}; known: {_known('line', cdata)}")
    new_id = spec.pop("id", None)
    if not isinstance(new_id, str):
        raise ctx.error((*path, "id"), "add_machine needs the new machine's id")
    ids = [m["id"] for m in line["machines"]]
    after = spec.pop("after", None)
    parallel = spec.pop("parallel_to", None)
    if after is not None and parallel is not None:
        raise ctx.error((*path, "parallel_to"), "give either 'after' (in series) or 'parallel_to', not both")
    for key, ref in (("after", after), ("parallel_to", parallel)):
        if ref is not None and ref not in ids:
            raise ctx.error((*path, key), f"machine {ref!r} is not in line {line_id!r}; it has {ids}")
    if parallel is not None:
        after = parallel
    src_id = spec.pop("copy", None) or after or ids[-1]
    src = _find("machine", str(src_id), cdata)
    if src is None:
        raise ctx.error((*path, "copy"), f"unknown machine {src_id!r}; known: {_known('machine', cdata)}")
    new = copy.deepcopy(src)
    new.update({"id": new_id, "name": spec.pop("name", new_id), "sensors": []})
    for k, v in spec.items():
        if k not in Machine.model_fields or k in ("id", "sensors"):
            raise ctx.error(
                (*path, k),
                f"unknown machine field {k!r}; known: {sorted(set(Machine.model_fields) - {'id', 'sensors'})}",
            )
        new[k] = v
    pos = ids.index(after) + 1 if after is not None else len(ids)
    line["machines"].insert(pos, new)
    ms = sdata.setdefault("machines", {})
    if not isinstance(ms, dict):
        raise ctx.error(path, "settings.machines must be a mapping")
    if src_id in ms:
        ms[new_id] = {k: v for k, v in copy.deepcopy(ms[src_id]).items() if k != "parallel_to"}
    if parallel is not None:
        ms.setdefault(new_id, {})["parallel_to"] = parallel


def _add_truck(ctx: _Ctx, path: tuple[Any, ...], spec: Any, cdata: dict[str, Any]) -> None:
    if not isinstance(spec, dict):
        raise ctx.error(
            path,
            "add_truck needs a mapping: {id: NEW_ID, copy: ID, capacity: N, home: ID, tenant: ID}",
        )
    lg = cdata.get("logistics")
    if not lg:
        raise ctx.error(path, "the complex has no logistics section to add a truck to")
    spec = dict(spec)
    src_id = spec.pop("copy", None)
    base: dict[str, Any] = {}
    if src_id is not None:
        src = _find("truck", str(src_id), cdata)
        if src is None:
            raise ctx.error((*path, "copy"), f"unknown truck {src_id!r}; known: {_known('truck', cdata)}")
        base = copy.deepcopy(src)
    base["sensors"] = []
    for k, v in spec.items():
        if k not in {"id", *_TRUCK_FIELDS}:
            raise ctx.error(
                (*path, k),
                f"unknown truck field {k!r}; known: {sorted({'id', 'copy', *_TRUCK_FIELDS})}",
            )
        base[k] = v
    if "id" not in spec:
        raise ctx.error(path, "add_truck needs the new truck's id")
    lg["trucks"].append(base)
