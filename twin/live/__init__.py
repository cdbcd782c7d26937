"""The live twin: current state, alarms and KPIs from the telemetry stream (see docs/live.md)."""

from twin.live.twin import CommandRejected, LiveTwin

__all__ = ["CommandRejected", "LiveTwin"]
