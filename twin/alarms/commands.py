"""Alarm topics and operator commands: parse, validate, encode (pure, no I/O).

Topics (``{owner}`` is a tenant id or ``park``; see docs/alarms.md)::

    twin/v1/{owner}/_alarms/event     every transition (live twin -> all)
    twin/v1/{owner}/_alarms/open      retained: every open alarm of the owner
    twin/v1/{owner}/_alarms/command   acknowledge / comment / shelve / unshelve (-> live twin)
    twin/v1/{owner}/_alarms/reply     the result of each command (live twin -> sender)

A command is a small JSON object::

    {"action": "ack", "alarm": "alm-12", "user": "kim", "request": "r-1"}
    {"action": "comment", "alarm": "alm-12", "user": "kim", "text": "crew on the way"}
    {"action": "shelve", "alarm": "alm-12", "user": "kim", "duration_s": 3600,
     "text": "sensor being replaced"}
    {"action": "unshelve", "alarm": "alm-12", "user": "kim"}

Anything else is rejected with a reason, never raised past :func:`parse_command`.
"""

from __future__ import annotations

import json
import math
import re
from dataclasses import dataclass
from typing import Any

import orjson

from twin.alarms.records import AlarmEvent, event_to_dict
from twin.errors import TwinError
from twin.model import ID_RE, PARK_OWNER
from twin.topics import ROOT, VERSION

__all__ = [
    "ALARMS_DEVICE",
    "ACTIONS",
    "MAX_COMMAND_BYTES",
    "AlarmCommand",
    "CommandError",
    "event_topic",
    "open_topic",
    "command_topic",
    "reply_topic",
    "EVENT_FILTER",
    "OPEN_FILTER",
    "COMMAND_FILTER",
    "parse_command_topic",
    "parse_command",
    "encode_command",
    "encode_event",
    "encode_reply",
]

#: Device level of alarm topics (not a device id: ids never start with ``_``).
ALARMS_DEVICE = "_alarms"
ACTIONS = ("ack", "comment", "shelve", "unshelve")
#: Commands are a few hundred bytes; anything much bigger is a mistake or an attack.
MAX_COMMAND_BYTES = 4096
MAX_USER_CHARS = 64
MAX_TEXT_CHARS = 1000
MAX_REQUEST_CHARS = 64
_KEYS = frozenset({"action", "alarm", "user", "text", "duration_s", "request"})
_ALARM_ID = re.compile(r"^alm-[0-9]{1,18}$")
# printable text without control characters (tabs and newlines allowed in comments)
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f\u202a-\u202e\u2066-\u2069]")


def _topic(owner: str, kind: str) -> str:
    return f"{ROOT}/{VERSION}/{owner}/{ALARMS_DEVICE}/{kind}"


def event_topic(owner: str) -> str:
    return _topic(owner, "event")


def open_topic(owner: str) -> str:
    return _topic(owner, "open")


def command_topic(owner: str = PARK_OWNER) -> str:
    return _topic(owner, "command")


def reply_topic(owner: str) -> str:
    return _topic(owner, "reply")


EVENT_FILTER = _topic("+", "event")
OPEN_FILTER = _topic("+", "open")
COMMAND_FILTER = _topic("+", "command")


def parse_command_topic(topic: str) -> str | None:
    """The owner of a command topic, or None if it is not one (or the owner is not an id)."""
    parts = topic.split("/")
    if (
        len(parts) != 5
        or parts[0] != ROOT
        or parts[1] != VERSION
        or parts[3] != ALARMS_DEVICE
        or parts[4] != "command"
        or not ID_RE.match(parts[2])
    ):
        return None
    return parts[2]


class CommandError(TwinError):
    """A command payload is malformed; ``code`` is machine-readable."""

    def __init__(self, code: str, detail: str, request: str | None = None):
        self.code = code
        self.detail = detail
        self.request = request
        super().__init__(f"{code}: {detail}")


@dataclass(frozen=True, slots=True)
class AlarmCommand:
    action: str
    alarm: str
    user: str
    text: str = ""
    duration_s: float | None = None
    request: str | None = None


def _clean_text(v: Any, name: str, limit: int, request: str | None, *, single_line: bool) -> str:
    if not isinstance(v, str):
        raise CommandError("bad_schema", f"{name!r} must be a string", request)
    if len(v) > limit:
        raise CommandError("too_long", f"{name!r} longer than {limit} characters", request)
    if _CONTROL.search(v) or (single_line and ("\n" in v or "\r" in v or "\t" in v)):
        raise CommandError("bad_text", f"{name!r} contains control characters", request)
    try:
        v.encode("utf-8")
    except UnicodeEncodeError:
        raise CommandError("bad_text", f"{name!r} is not valid unicode", request) from None
    return v


def parse_command(payload: bytes) -> AlarmCommand:
    """A validated command, or :class:`CommandError` (never anything else)."""
    if len(payload) > MAX_COMMAND_BYTES:
        raise CommandError("too_large", f"{len(payload)} bytes > {MAX_COMMAND_BYTES}")
    try:
        doc = orjson.loads(payload)
    except orjson.JSONDecodeError:
        try:  # orjson refuses lone surrogates and NaN; say which it was
            json.loads(payload.decode("utf-8"))
        except (UnicodeDecodeError, ValueError, RecursionError):
            raise CommandError("malformed_json", "payload is not UTF-8 JSON") from None
        raise CommandError("malformed_json", "payload has invalid characters or numbers") from None
    if not isinstance(doc, dict):
        raise CommandError("bad_schema", "a command is a JSON object")
    req = doc.get("request")
    request = req if isinstance(req, str) and len(req) <= MAX_REQUEST_CHARS and not _CONTROL.search(req) else None
    extra = doc.keys() - _KEYS
    if extra:
        names = sorted(str(k)[:20] for k in extra)[:5]
        raise CommandError("bad_schema", f"unknown key(s) {names}; known: {sorted(_KEYS)}", request)
    action = doc.get("action")
    if action not in ACTIONS:
        raise CommandError("unknown_action", f"action must be one of {list(ACTIONS)}", request)
    alarm = doc.get("alarm")
    if not isinstance(alarm, str) or not _ALARM_ID.match(alarm):
        raise CommandError("bad_schema", "'alarm' must be an alarm id like 'alm-12'", request)
    if "user" not in doc:
        raise CommandError("bad_schema", "'user' is required (who acts is recorded)", request)
    user = _clean_text(doc["user"], "user", MAX_USER_CHARS, request, single_line=True).strip()
    if not user:
        raise CommandError("bad_schema", "'user' must not be empty", request)
    text = _clean_text(doc.get("text", ""), "text", MAX_TEXT_CHARS, request, single_line=False)
    duration: float | None = None
    if action == "comment" and not text.strip():
        raise CommandError("bad_schema", "a comment needs a non-empty 'text'", request)
    if action == "shelve":
        d = doc.get("duration_s")
        if isinstance(d, bool) or not isinstance(d, int | float):
            raise CommandError("bad_duration", "'duration_s' (seconds, a number) is required to shelve", request)
        try:
            duration = float(d)
        except OverflowError:
            raise CommandError("bad_duration", "'duration_s' is too large", request) from None
        if not math.isfinite(duration) or duration <= 0:
            raise CommandError("bad_duration", "'duration_s' must be a positive number", request)
    elif "duration_s" in doc:
        raise CommandError("bad_schema", "'duration_s' applies to shelve only", request)
    return AlarmCommand(action, alarm, user, text, duration, request)


def encode_command(
    action: str,
    alarm: str,
    user: str,
    *,
    text: str = "",
    duration_s: float | None = None,
    request: str | None = None,
) -> bytes:
    """The payload of a command (what a dashboard publishes on :func:`command_topic`)."""
    doc: dict[str, Any] = {"action": action, "alarm": alarm, "user": user}
    if text:
        doc["text"] = text
    if duration_s is not None:
        doc["duration_s"] = duration_s
    if request is not None:
        doc["request"] = request
    return orjson.dumps(doc)


def encode_event(e: AlarmEvent) -> bytes:
    return orjson.dumps(event_to_dict(e))


def encode_reply(
    *,
    ok: bool,
    request: str | None,
    action: str | None = None,
    alarm: str | None = None,
    code: str | None = None,
    detail: str = "",
    events: list[AlarmEvent] | None = None,
) -> bytes:
    """``{"ok": true, "events": [seq, ...], ...}`` or ``{"ok": false, "error": code, ...}``."""
    doc: dict[str, Any] = {"v": 1, "ok": ok, "request": request, "action": action, "alarm": alarm}
    if ok:
        doc["events"] = [e.seq for e in events or ()]
    else:
        doc["error"] = code
        doc["detail"] = detail[:300]
    return orjson.dumps(doc)
