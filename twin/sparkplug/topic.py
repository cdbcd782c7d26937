"""Sparkplug B topic names (pure): ``spBv1.0/{group}/{type}/{edge_node}[/{device}]``."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

__all__ = [
    "NAMESPACE",
    "SUBSCRIPTION",
    "MessageType",
    "SparkplugTopic",
    "parse_topic",
    "ncmd_topic",
    "state_topic",
]

NAMESPACE = "spBv1.0"
#: What the twin subscribes to: every group, node and device.
SUBSCRIPTION = f"{NAMESPACE}/#"


class MessageType(StrEnum):
    NBIRTH = "NBIRTH"
    NDEATH = "NDEATH"
    NDATA = "NDATA"
    NCMD = "NCMD"
    DBIRTH = "DBIRTH"
    DDEATH = "DDEATH"
    DDATA = "DDATA"
    DCMD = "DCMD"


_NODE_TYPES = {MessageType.NBIRTH, MessageType.NDEATH, MessageType.NDATA, MessageType.NCMD}


@dataclass(frozen=True, slots=True)
class SparkplugTopic:
    """A parsed Sparkplug topic; ``device`` is None for node-level messages."""

    group: str
    type: MessageType
    node: str
    device: str | None = None

    @property
    def is_device(self) -> bool:
        return self.device is not None


def parse_topic(topic: str) -> SparkplugTopic | str:
    """The parsed topic, or a reason why it is not a Sparkplug B message topic.

    ``spBv1.0/STATE/{host}`` (host application state) is reported as the reason
    ``"state"`` so callers can tell it apart from garbage.
    """
    parts = topic.split("/")
    if not parts or parts[0] != NAMESPACE:
        return f"not in the {NAMESPACE} namespace"
    if len(parts) == 3 and parts[1] == "STATE":
        return "state"
    if len(parts) not in (4, 5):
        return f"expected {NAMESPACE}/{{group}}/{{type}}/{{edge_node}}[/{{device}}]"
    _, group, kind, node, *rest = parts
    try:
        mtype = MessageType(kind)
    except ValueError:
        return f"unknown message type {kind[:20]!r}"
    if not group or not node or (rest and not rest[0]):
        return "empty group, edge node or device id"
    if (mtype in _NODE_TYPES) != (not rest):
        return f"{mtype.value} {'has no' if mtype in _NODE_TYPES else 'needs a'} device level"
    return SparkplugTopic(group, mtype, node, rest[0] if rest else None)


def ncmd_topic(group: str, node: str) -> str:
    """Where a host application sends commands to an edge node (e.g. a rebirth request)."""
    return f"{NAMESPACE}/{group}/{MessageType.NCMD.value}/{node}"


def state_topic(host_id: str) -> str:
    """The primary host application's retained state topic (Sparkplug 3.0)."""
    return f"{NAMESPACE}/STATE/{host_id}"
