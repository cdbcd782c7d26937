"""The dashboard's audit log: one JSON object per line for logins, logouts and alarm actions.

Each event is written with a single ``write`` on a file opened with ``O_APPEND``, so
lines from several worker processes never interleave. Entries name the user, the
client address and the time; they never hold a password or a session key: the
functions below take no such argument, and free-text fields are cut short.

    {"ts": "2026-11-27T05:30:00.123Z", "event": "login", "ok": false, "user": "kim", "ip": "10.0.0.7"}
    {"ts": "...", "event": "alarm", "action": "ack", "alarm": "alm-12", "user": "kim", "ok": true}
"""

from __future__ import annotations

import logging
import os
import threading
from collections.abc import Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import orjson
from flask import current_app, has_app_context, has_request_context, request

__all__ = ["AUDIT_EXTENSION", "AuditLog", "record_alarm_action"]

log = logging.getLogger(__name__)

#: Key of the app's :class:`AuditLog` in ``flask.Flask.extensions``.
AUDIT_EXTENSION = "twin_audit"
#: Longest text kept from a client-supplied field (a username typed into the form).
MAX_FIELD_CHARS = 200


def _clip(value: object) -> str | None:
    if value is None:
        return None
    text = value if isinstance(value, str) else str(value)
    text = text.encode("utf-8", "replace").decode("utf-8")  # lone surrogates cannot reach the file
    return text[:MAX_FIELD_CHARS] + ("…" if len(text) > MAX_FIELD_CHARS else "")


class AuditLog:
    """Appends audit events to ``path`` (or only to the ``dashboards.audit`` logger when None)."""

    def __init__(self, path: str | Path | None):
        self.path = Path(path) if path is not None else None
        self._lock = threading.Lock()
        if self.path is not None:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
            os.close(fd)  # fail at start, not at the first login, when the file cannot be written

    def write(self, event: str, **fields: Any) -> None:
        """Append one event; an audit failure is logged, never raised into a request."""
        entry: dict[str, Any] = {"ts": datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")}
        entry["event"] = event
        entry.update({k: _clip(v) if isinstance(v, str) else v for k, v in fields.items()})
        log.info("audit %s", entry)
        if self.path is None:
            return
        line = orjson.dumps(entry, default=str) + b"\n"
        try:
            with self._lock:
                fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
                try:
                    os.write(fd, line)
                finally:
                    os.close(fd)
        except OSError:
            log.exception("cannot write the audit log %s", self.path)

    def login(self, ok: bool, user: object, ip: object, reason: str | None = None) -> None:
        self.write("login", ok=ok, user=_clip(user), ip=_clip(ip), **({"reason": reason} if reason else {}))

    def logout(self, user: object, ip: object) -> None:
        self.write("logout", user=_clip(user), ip=_clip(ip))


def record_alarm_action(action: object, alarm: object, user: object, reply: Mapping[str, Any] | None) -> None:
    """Audit an alarm acknowledge/comment/shelve sent from the dashboard (no-op outside an app)."""
    if not has_app_context():
        return
    audit = current_app.extensions.get(AUDIT_EXTENSION)
    if not isinstance(audit, AuditLog):
        return
    ok = bool(reply.get("ok")) if isinstance(reply, Mapping) else False
    error = reply.get("error") if isinstance(reply, Mapping) and not ok else None
    ip = request.remote_addr if has_request_context() else None
    audit.write("alarm", action=_clip(action), alarm=_clip(alarm), user=_clip(user), ip=ip, ok=ok,
                **({"error": _clip(error)} if error else {}))
