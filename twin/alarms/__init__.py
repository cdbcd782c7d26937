"""Alarms of the live twin: rules, lifecycle, commands, journal (see docs/alarms.md)."""

from twin.alarms.commands import AlarmCommand, CommandError, encode_command, parse_command
from twin.alarms.lifecycle import AlarmBook, CommandRejected
from twin.alarms.records import Alarm, AlarmEvent, AlarmState, EventKind
from twin.alarms.rules import AlarmSpec, RuleEngine, Transition

__all__ = [
    "Alarm",
    "AlarmBook",
    "AlarmCommand",
    "AlarmEvent",
    "AlarmSpec",
    "AlarmState",
    "CommandError",
    "CommandRejected",
    "EventKind",
    "RuleEngine",
    "Transition",
    "encode_command",
    "parse_command",
]
