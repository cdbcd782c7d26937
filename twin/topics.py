"""The versioned MQTT topic scheme (see docs/protocol.md).

Owner (a tenant id, or ``park`` for the park's own assets) and device are topic
levels, so broker ACLs can confine a tenant or a device to its own subtree.
"""

from __future__ import annotations

__all__ = [
    "ROOT",
    "VERSION",
    "TELEMETRY",
    "TELEMETRY_FILTER",
    "telemetry_topic",
    "parse_telemetry_topic",
    "shared",
]

ROOT = "twin"
VERSION = "v1"
TELEMETRY = "telemetry"

#: What the ingest subscribes to: every device's telemetry.
TELEMETRY_FILTER = f"{ROOT}/{VERSION}/+/+/{TELEMETRY}"


def telemetry_topic(owner: str, device: str) -> str:
    """``twin/v1/{owner}/{device}/telemetry``."""
    return f"{ROOT}/{VERSION}/{owner}/{device}/{TELEMETRY}"


def parse_telemetry_topic(topic: str) -> tuple[str, str] | None:
    """Return (owner, device) of a telemetry topic, or None if it is not one."""
    parts = topic.split("/")
    if len(parts) != 5 or parts[0] != ROOT or parts[1] != VERSION or parts[4] != TELEMETRY:
        return None
    return parts[2], parts[3]


def shared(group: str, topic_filter: str) -> str:
    """An MQTT 5 shared subscription: the broker round-robins messages over the group."""
    return f"$share/{group}/{topic_filter}"
