"""The Sparkplug mapping file: group/edge node/device/metric -> tenant/factory/device/sensor.

Example (the tiny complex)::

    version: 1
    groups:
      - group: AlphaPlant            # Sparkplug group id
        tenant: alpha-elec           # the tenant whose data this group carries (or "park")
        nodes:
          - node: pcb-gateway        # Sparkplug edge node id
            factory: alpha-f1        # optional: every sensor below must be in this factory
            metrics:                 # node-level metrics (NBIRTH / NDATA)
              Hall/Smoke: alpha-f1-smoke
            devices:
              - device: smt          # Sparkplug device id (DBIRTH / DDATA)
                metrics:
                  Power: alpha-smt-power
                  State: alpha-smt-state
            ignore: ["Diagnostics/*"]  # metric globs: neither stored nor dead-lettered

Checked against the complex config when loaded: each sensor exists, belongs to the
group's tenant (a plant's gateway can never write another tenant's sensors) and to the
node's factory when one is given, and is mapped once in the whole file.
"""

from __future__ import annotations

import fnmatch
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Annotated, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, StringConstraints

from twin.mapfile import ModelReferenceError, load_map, parse_map
from twin.model import PARK_OWNER, Complex, SensorInfo

__all__ = [
    "CONTROL_METRICS",
    "SparkplugMapFile",
    "Target",
    "NodeMap",
    "MetricMap",
    "load_sparkplug_map",
    "parse_sparkplug_map",
]

#: Metrics that Sparkplug itself defines: never sensors, never dead letters.
CONTROL_METRICS = ("bdSeq", "Node Control/*", "Device Control/*", "Properties/*", "Node Info/*")


def _spb_id(value: str) -> str:
    """Sparkplug ids are topic levels: no '/', '+' or '#'."""
    if not 1 <= len(value) <= 256:
        raise ValueError("a Sparkplug id has 1 to 256 characters")
    bad = sorted({ch for ch in value if ch in "/+#\x00"})
    if bad:
        raise ValueError(
            f"a Sparkplug id is an MQTT topic level and cannot contain {' '.join(map(repr, bad))}"
        )
    return value


SpbId = Annotated[str, AfterValidator(_spb_id)]
MetricName = Annotated[str, StringConstraints(min_length=1, max_length=1024)]
SensorId = Annotated[str, StringConstraints(min_length=1, max_length=64)]
Glob = Annotated[str, StringConstraints(min_length=1, max_length=1024)]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class DeviceSpec(_Strict):
    device: SpbId
    metrics: dict[MetricName, SensorId] = Field(default_factory=dict)


class NodeSpec(_Strict):
    node: SpbId
    factory: str | None = None
    metrics: dict[MetricName, SensorId] = Field(default_factory=dict)
    devices: tuple[DeviceSpec, ...] = ()
    ignore: tuple[Glob, ...] = ()


class GroupSpec(_Strict):
    group: SpbId
    tenant: str
    nodes: tuple[NodeSpec, ...] = Field(min_length=1)


class SparkplugMapFile(_Strict):
    """The file as written (validated field by field)."""

    version: Literal[1] = 1
    groups: tuple[GroupSpec, ...] = Field(min_length=1)


@dataclass(frozen=True, slots=True)
class Target:
    """Where a metric's values go, with what the hot path checks."""

    sensor_id: str
    owner: str
    device: str
    low: float
    high: float


@dataclass(frozen=True)
class NodeMap:
    """The mapped metrics of one edge node; ``device`` None is the node itself."""

    group: str
    node: str
    metrics: dict[tuple[str | None, str], Target]
    ignore: tuple[str, ...] = ()
    _ignore_re: re.Pattern[str] | None = field(default=None, repr=False)

    def __post_init__(self) -> None:
        pats = [*CONTROL_METRICS, *self.ignore]
        rx = re.compile("|".join(f"(?:{fnmatch.translate(p)})" for p in pats))
        object.__setattr__(self, "_ignore_re", rx)

    def target(self, device: str | None, metric: str) -> Target | None:
        return self.metrics.get((device, metric))

    def ignored(self, metric: str) -> bool:
        assert self._ignore_re is not None
        return self._ignore_re.match(metric) is not None

    def targets_of(self, devices: Iterable[str | None]) -> list[Target]:
        """Targets of the given Sparkplug devices (None = node-level metrics)."""
        wanted = set(devices)
        return [t for (d, _), t in self.metrics.items() if d in wanted]

    @property
    def devices(self) -> set[str]:
        return {d for d, _ in self.metrics if d is not None}


@dataclass(frozen=True)
class MetricMap:
    """The resolved mapping: (group, node) -> :class:`NodeMap`."""

    nodes: dict[tuple[str, str], NodeMap]

    def node(self, group: str, node: str) -> NodeMap | None:
        return self.nodes.get((group, node))

    @property
    def sensor_count(self) -> int:
        return sum(len(n.metrics) for n in self.nodes.values())


def _checker(c: Complex):  # type: ignore[no-untyped-def]
    tenants = {t.id: t for t in c.tenants}

    def check(m: SparkplugMapFile) -> None:
        seen_groups: set[str] = set()
        mapped: dict[str, tuple[str | int, ...]] = {}
        for gi, g in enumerate(m.groups):
            gp: tuple[str | int, ...] = ("groups", gi)
            if g.group in seen_groups:
                raise ModelReferenceError((*gp, "group"), f"group {g.group!r} is mapped twice")
            seen_groups.add(g.group)
            if g.tenant != PARK_OWNER and g.tenant not in tenants:
                raise ModelReferenceError(
                    (*gp, "tenant"),
                    f"no tenant {g.tenant!r} in the complex config (or 'park' for park assets)",
                )
            seen_nodes: set[str] = set()
            for ni, n in enumerate(g.nodes):
                np_ = (*gp, "nodes", ni)
                if n.node in seen_nodes:
                    raise ModelReferenceError(
                        (*np_, "node"), f"edge node {n.node!r} appears twice in group {g.group!r}"
                    )
                seen_nodes.add(n.node)
                if n.factory is not None:
                    if g.tenant == PARK_OWNER:
                        raise ModelReferenceError(
                            (*np_, "factory"), "park assets belong to no factory; remove 'factory'"
                        )
                    if n.factory not in {f.id for f in tenants[g.tenant].factories}:
                        raise ModelReferenceError(
                            (*np_, "factory"), f"tenant {g.tenant!r} has no factory {n.factory!r}"
                        )
                seen_devices: set[str] = set()
                blocks: list[tuple[tuple[str | int, ...], dict[str, str]]] = [
                    ((*np_, "metrics"), n.metrics)
                ]
                for di, d in enumerate(n.devices):
                    if d.device in seen_devices:
                        raise ModelReferenceError(
                            (*np_, "devices", di, "device"),
                            f"device {d.device!r} appears twice in node {n.node!r}",
                        )
                    seen_devices.add(d.device)
                    blocks.append(((*np_, "devices", di, "metrics"), d.metrics))
                for bp, metrics in blocks:
                    for name, sid in metrics.items():
                        path = (*bp, name)
                        info = c.sensors.get(sid)
                        if info is None:
                            raise ModelReferenceError(
                                path, f"no sensor {sid!r} in the complex config"
                            )
                        if info.owner != g.tenant:
                            raise ModelReferenceError(
                                path,
                                f"sensor {sid!r} belongs to {info.owner!r}, "
                                f"not to this group's tenant {g.tenant!r}",
                            )
                        if n.factory is not None and info.factory != n.factory:
                            raise ModelReferenceError(
                                path,
                                f"sensor {sid!r} is not in factory {n.factory!r} of this edge node",
                            )
                        if sid in mapped:
                            raise ModelReferenceError(
                                path, f"sensor {sid!r} is already mapped at {_fmt(mapped[sid])}"
                            )
                        mapped[sid] = path

    return check


def _fmt(path: tuple[str | int, ...]) -> str:
    from twin.validation import format_path

    return format_path(path)


def _target(info: SensorInfo) -> Target:
    lo, hi = info.sensor.range
    return Target(info.sensor.id, info.owner, info.device, lo, hi)


def resolve(m: SparkplugMapFile, c: Complex) -> MetricMap:
    """The lookup tables of a checked mapping file."""
    nodes: dict[tuple[str, str], NodeMap] = {}
    for g in m.groups:
        for n in g.nodes:
            metrics: dict[tuple[str | None, str], Target] = {
                (None, name): _target(c.sensors[sid]) for name, sid in n.metrics.items()
            }
            for d in n.devices:
                metrics.update(
                    {(d.device, name): _target(c.sensors[sid]) for name, sid in d.metrics.items()}
                )
            nodes[(g.group, n.node)] = NodeMap(g.group, n.node, metrics, n.ignore)
    return MetricMap(nodes)


def parse_sparkplug_map(data: object, c: Complex, source: str = "<mapping>") -> MetricMap:
    """Validate already-parsed YAML (tests, embedded mappings)."""
    return resolve(parse_map(data, SparkplugMapFile, source, None, _checker(c)), c)


def load_sparkplug_map(path: str, c: Complex) -> MetricMap:
    """Load a mapping file; :class:`~twin.errors.ConfigError` names file, key path and reason."""
    return resolve(load_map(path, SparkplugMapFile, _checker(c)), c)
