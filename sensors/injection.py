"""Disaster injection commands and the fleet's answers: the MQTT contract, pure.

``twin inject`` publishes a command (QoS 1, not retained) on :data:`INJECT_TOPIC`::

    {"v": 1, "id": "c0ffee12", "kind": "fire", "zones": ["B"], "duration_h": 2, "by": "alice"}

``kind`` is ``fire``, ``gas_leak`` (alias ``gas``), ``flood``, ``earthquake`` or
``power_outage`` (alias ``power``); the target is ``zones`` or ``factories`` (neither:
the whole complex); ``duration_h`` is how long the hazard lasts (default: the kind's
typical duration, drawn by the model). The model-driven fleet validates every
command (:func:`decode_command`: size, JSON, keys, types, known zones and factories,
finite positive duration) and answers on :data:`SIM_EVENTS_TOPIC` (QoS 1, not retained)::

    {"v": 1, "type": "inject.result", "id": "c0ffee12", "ok": true, "ts": ...,
     "disaster": "fire@B#1", "zones": ["B"], "factories": ["..."], "error": null, "reason": null}

A refused command gets ``ok: false``, a machine-readable ``reason`` and a one-line
``error``; the fleet never stops because of a command. Every disaster phase the
model goes through (``start``, ``response``, ``contained``, ``restarted``,
``recovered``; injected, scheduled or random) is published there too, as
``{"v": 1, "type": "disaster", "ts": ..., "phase": ..., "kind": ..., "id": ...,
"zones": [...], "factories": [...]}``: the ground truth to check alarms against.
"""

from __future__ import annotations

import json
import math
import re
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

import orjson

from twin.model import ID_PATTERN, Complex
from twin.topics import ROOT, VERSION

__all__ = [
    "INJECT_TOPIC",
    "SIM_EVENTS_TOPIC",
    "DISASTER_KINDS",
    "KIND_ALIASES",
    "MAX_COMMAND_BYTES",
    "MAX_DURATION_H",
    "CommandReason",
    "InjectCommandError",
    "InjectCommand",
    "InjectResult",
    "decode_command",
    "encode_disaster_event",
    "decode_event",
]

#: Where injection commands go (the model-driven fleet subscribes).
INJECT_TOPIC = f"{ROOT}/{VERSION}/sim/inject"
#: Where the fleet answers commands and reports disaster phases.
SIM_EVENTS_TOPIC = f"{ROOT}/{VERSION}/sim/events"

#: Disaster kinds the model knows (simulations.settings.DISASTER_KINDS; a test keeps them equal).
DISASTER_KINDS = ("fire", "gas_leak", "flood", "earthquake", "power_outage")
#: Shorter names accepted on the command line and in commands.
KIND_ALIASES = {"gas": "gas_leak", "power": "power_outage", "quake": "earthquake"}
#: A command is a few hundred bytes; anything larger is refused unread.
MAX_COMMAND_BYTES = 4096
#: Longest hazard a command may ask for (a week).
MAX_DURATION_H = 168.0
#: Zones or factories a command may name.
MAX_TARGETS = 100

_ID_RE = re.compile(ID_PATTERN)
_KEYS = {"v", "id", "kind", "zones", "factories", "duration_h", "by"}


class CommandReason(StrEnum):
    """Why a command was refused (stable, machine-readable)."""

    TOO_LARGE = "too_large"
    MALFORMED_JSON = "malformed_json"
    BAD_SCHEMA = "bad_schema"
    UNKNOWN_KIND = "unknown_kind"
    BAD_TARGET = "bad_target"
    UNKNOWN_ZONE = "unknown_zone"
    UNKNOWN_FACTORY = "unknown_factory"
    BAD_DURATION = "bad_duration"
    BAD_ID = "bad_id"
    MODEL_REFUSED = "model_refused"


class InjectCommandError(ValueError):
    """A command that cannot be carried out; ``reason`` says why, ``command_id`` if known."""

    def __init__(self, reason: CommandReason, detail: str, command_id: str | None = None):
        self.reason = reason
        self.detail = detail
        self.command_id = command_id
        super().__init__(f"{reason.value}: {detail}")


def _short(value: Any) -> str:
    text = repr(value)
    text = text.encode("utf-8", "backslashreplace").decode("utf-8")
    return text if len(text) <= 60 else text[:57] + "..."


@dataclass(frozen=True, slots=True)
class InjectCommand:
    """Start a disaster now: ``kind`` at ``zones`` or ``factories`` for ``duration_h``."""

    id: str
    kind: str
    zones: tuple[str, ...] = ()
    factories: tuple[str, ...] = ()
    duration_h: float | None = None
    by: str = ""

    def __post_init__(self) -> None:
        if not isinstance(self.id, str) or not _ID_RE.match(self.id):
            raise InjectCommandError(
                CommandReason.BAD_ID, f"id must match {ID_PATTERN}, got {_short(self.id)}"
            )
        kind = KIND_ALIASES.get(self.kind, self.kind) if isinstance(self.kind, str) else self.kind
        if kind not in DISASTER_KINDS:
            raise InjectCommandError(
                CommandReason.UNKNOWN_KIND,
                f"kind must be one of {', '.join(DISASTER_KINDS)} (or {', '.join(KIND_ALIASES)}), "
                f"got {_short(self.kind)}",
                self.id,
            )
        object.__setattr__(self, "kind", kind)
        for name in ("zones", "factories"):
            ids = getattr(self, name)
            if isinstance(ids, str) or not isinstance(ids, tuple | list):
                raise InjectCommandError(
                    CommandReason.BAD_SCHEMA, f"{name} must be a list of ids", self.id
                )
            if len(ids) > MAX_TARGETS:
                raise InjectCommandError(
                    CommandReason.BAD_TARGET, f"at most {MAX_TARGETS} {name}", self.id
                )
            for i in ids:
                if not isinstance(i, str) or not _ID_RE.match(i):
                    raise InjectCommandError(
                        CommandReason.BAD_TARGET, f"{name} entry {_short(i)} is not an id", self.id
                    )
            object.__setattr__(self, name, tuple(dict.fromkeys(ids)))
        if self.zones and self.factories:
            raise InjectCommandError(
                CommandReason.BAD_TARGET, "give zones or factories, not both", self.id
            )
        d = self.duration_h
        if d is not None:
            if isinstance(d, bool) or not isinstance(d, int | float) or not math.isfinite(d):
                raise InjectCommandError(
                    CommandReason.BAD_DURATION,
                    f"duration_h must be a number, got {_short(d)}",
                    self.id,
                )
            if not 0 < d <= MAX_DURATION_H:
                raise InjectCommandError(
                    CommandReason.BAD_DURATION,
                    f"duration_h must be > 0 and <= {MAX_DURATION_H:g}, got {d:g}",
                    self.id,
                )
            object.__setattr__(self, "duration_h", float(d))
        if not isinstance(self.by, str) or len(self.by) > 64:
            raise InjectCommandError(
                CommandReason.BAD_SCHEMA, "by must be text of at most 64 characters", self.id
            )

    def check(self, complex_: Complex) -> None:
        """Raise :class:`InjectCommandError` if a target is not in ``complex_``."""
        zones = {z.id for z in complex_.zones}
        for z in self.zones:
            if z not in zones:
                raise InjectCommandError(
                    CommandReason.UNKNOWN_ZONE,
                    f"unknown zone {z!r}; known: {', '.join(sorted(zones))}",
                    self.id,
                )
        for f in self.factories:
            if f not in complex_.factories:
                known = sorted(complex_.factories)
                shown = ", ".join(known[:12]) + (", ..." if len(known) > 12 else "")
                raise InjectCommandError(
                    CommandReason.UNKNOWN_FACTORY, f"unknown factory {f!r}; known: {shown}", self.id
                )

    @property
    def label(self) -> str:
        return f"{self.kind}@{','.join(self.zones or self.factories) or 'complex'}"

    def to_spec(self) -> dict[str, Any]:
        """The disaster for ``ComplexModel.inject_disaster``."""
        spec: dict[str, Any] = {"kind": self.kind, "name": self.label}
        if self.zones:
            spec["zones"] = list(self.zones)
        if self.factories:
            spec["factories"] = list(self.factories)
        if self.duration_h is not None:
            spec["duration_h"] = self.duration_h
        return spec

    def encode(self) -> bytes:
        doc: dict[str, Any] = {"v": 1, "id": self.id, "kind": self.kind}
        if self.zones:
            doc["zones"] = list(self.zones)
        if self.factories:
            doc["factories"] = list(self.factories)
        if self.duration_h is not None:
            doc["duration_h"] = self.duration_h
        if self.by:
            doc["by"] = self.by
        return orjson.dumps(doc)


def decode_command(payload: bytes, complex_: Complex | None = None) -> InjectCommand:
    """Parse and validate a command; raise :class:`InjectCommandError` saying why not."""
    if not isinstance(payload, bytes | bytearray):
        raise InjectCommandError(CommandReason.BAD_SCHEMA, "payload must be bytes")
    if len(payload) > MAX_COMMAND_BYTES:
        raise InjectCommandError(
            CommandReason.TOO_LARGE, f"{len(payload)} bytes > limit {MAX_COMMAND_BYTES}"
        )
    try:
        doc = orjson.loads(payload)
    except orjson.JSONDecodeError:
        try:
            doc = json.loads(bytes(payload).decode("utf-8"), parse_constant=float)
        except (UnicodeDecodeError, ValueError, RecursionError) as exc:
            raise InjectCommandError(CommandReason.MALFORMED_JSON, _short(str(exc))) from None
    if not isinstance(doc, dict):
        raise InjectCommandError(CommandReason.BAD_SCHEMA, "a command is a JSON object")
    cid = doc.get("id")
    safe_id = cid if isinstance(cid, str) and _ID_RE.match(cid) else None
    extra = set(doc) - _KEYS
    if extra:
        keys = sorted(_short(k) for k in extra)[:5]
        raise InjectCommandError(
            CommandReason.BAD_SCHEMA, f"unknown key(s) {', '.join(keys)}", safe_id
        )
    if doc.get("v", 1) != 1:
        raise InjectCommandError(
            CommandReason.BAD_SCHEMA, f"unsupported version {_short(doc.get('v'))}", safe_id
        )
    if "id" not in doc or "kind" not in doc:
        raise InjectCommandError(CommandReason.BAD_SCHEMA, "id and kind are required", safe_id)
    if not isinstance(doc["kind"], str):
        raise InjectCommandError(
            CommandReason.UNKNOWN_KIND, f"kind must be text, got {_short(doc['kind'])}", safe_id
        )
    for name in ("zones", "factories"):
        if name in doc and not isinstance(doc[name], list):
            raise InjectCommandError(CommandReason.BAD_SCHEMA, f"{name} must be a list", safe_id)
    cmd = InjectCommand(
        id=cid,  # type: ignore[arg-type]  # validated in __post_init__
        kind=doc["kind"],
        zones=tuple(doc.get("zones") or ()),
        factories=tuple(doc.get("factories") or ()),
        duration_h=doc.get("duration_h"),
        by=doc.get("by", ""),
    )
    if complex_ is not None:
        cmd.check(complex_)
    return cmd


@dataclass(frozen=True, slots=True)
class InjectResult:
    """The fleet's answer to one command."""

    id: str | None
    ok: bool
    ts_ms: int
    disaster: str | None = None
    zones: tuple[str, ...] = ()
    factories: tuple[str, ...] = ()
    error: str | None = None
    reason: str | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def refused(cls, exc: InjectCommandError, ts_ms: int) -> InjectResult:
        return cls(exc.command_id, False, ts_ms, error=exc.detail, reason=exc.reason.value)

    def encode(self) -> bytes:
        return orjson.dumps(
            {
                "v": 1,
                "type": "inject.result",
                "id": self.id,
                "ok": self.ok,
                "ts": self.ts_ms,
                "disaster": self.disaster,
                "zones": list(self.zones),
                "factories": list(self.factories),
                "error": self.error,
                "reason": self.reason,
            }
        )


def encode_disaster_event(ts_ms: int, data: dict[str, Any]) -> bytes:
    """A disaster phase as published on :data:`SIM_EVENTS_TOPIC`."""
    return orjson.dumps(
        {
            "v": 1,
            "type": "disaster",
            "ts": ts_ms,
            "phase": data.get("phase"),
            "kind": data.get("kind"),
            "id": data.get("id"),
            "zones": list(data.get("zones") or ()),
            "factories": list(data.get("factories") or ()),
        }
    )


def decode_event(payload: bytes) -> dict[str, Any] | None:
    """A message of :data:`SIM_EVENTS_TOPIC` as a dict, or None if it is not one."""
    try:
        doc = orjson.loads(payload)
    except orjson.JSONDecodeError:
        return None
    return doc if isinstance(doc, dict) and doc.get("v") == 1 and "type" in doc else None
