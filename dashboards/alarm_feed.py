"""The open alarms and alarm commands of one dashboard worker process, through the live twin.

One :class:`~twin.alarms.client.AlarmClient` (owner ``park``: the control centre) per
process, opened lazily on first use (never at import) and dropped after a failure so
the next call retries. It holds no per-user state: who acts is passed in by the caller,
from the server-side session.
"""

from __future__ import annotations

import logging
import os
import threading
from collections.abc import Callable
from typing import Any

from twin.alarms.client import AlarmClient, AlarmTimeout
from twin.errors import TwinError
from twin.urls import parse_broker_url, redact

__all__ = ["SEVERITY_ORDER", "AlarmFeed", "AlarmsUnavailable", "sorted_alarms"]

log = logging.getLogger(__name__)

#: Most severe first (docs/alarms.md).
SEVERITY_ORDER = ("critical", "major", "minor", "warning")

#: How long a page refresh may wait for the broker before saying "unavailable".
CONNECT_TIMEOUT_S = 3.0
#: How long an operator's click waits for the live twin's reply.
COMMAND_TIMEOUT_S = 5.0


class AlarmsUnavailable(TwinError):
    """No broker configured, or the broker or the live twin does not answer."""


def sorted_alarms(alarms: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Most severe first, then newest raised first; unknown severities last."""
    rank = {s: i for i, s in enumerate(SEVERITY_ORDER)}

    def key(a: dict[str, Any]) -> tuple[int, int]:
        raised = a.get("raised_ms")
        return rank.get(a.get("severity"), len(rank)), -(raised if isinstance(raised, int) else 0)  # type: ignore[arg-type]

    return sorted(alarms, key=key)


class AlarmFeed:
    """Thread-safe, lazily connected alarm client shared by the callbacks of one process."""

    def __init__(self, broker_url: str | None, factory: Callable[..., AlarmClient] = AlarmClient):
        self.broker_url = broker_url
        self._factory = factory
        self._lock = threading.Lock()
        self._client: AlarmClient | None = None
        self._pid: int | None = None
        self._closed = False

    def __repr__(self) -> str:
        return f"AlarmFeed({redact(self.broker_url) if self.broker_url else None!r})"

    def _get(self) -> AlarmClient:
        if not self.broker_url:
            raise AlarmsUnavailable("no broker configured (start the dashboard with --broker URL)")
        with self._lock:
            if self._closed:
                raise AlarmsUnavailable("the dashboard is shutting down")
            if self._client is None or self._pid != os.getpid():
                try:
                    self._client = self._factory(parse_broker_url(self.broker_url), connect_timeout=CONNECT_TIMEOUT_S)
                except (TwinError, OSError) as exc:
                    raise AlarmsUnavailable(f"broker {redact(self.broker_url)} unavailable: {exc}") from exc
                self._pid = os.getpid()
            return self._client

    def _drop(self) -> None:
        with self._lock:
            client, self._client = self._client, None
        if client is not None:
            try:
                client.close()
            except Exception:  # already broken; closing is best effort
                log.debug("closing a failed alarm client raised", exc_info=True)

    def open_alarms(self) -> list[dict[str, Any]]:
        """Every open alarm of every owner, most severe and newest first."""
        lists = self._get().open_alarms()
        return sorted_alarms([a for alarms in lists.values() for a in alarms if isinstance(a, dict)])

    def command(self, action: str, alarm: str, user: str, **kw: Any) -> dict[str, Any]:
        """Send ``action`` on ``alarm`` as ``user`` and return the live twin's reply."""
        client = self._get()
        try:
            return client.command(action, alarm, user, timeout=COMMAND_TIMEOUT_S, **kw)
        except AlarmTimeout as exc:
            raise AlarmsUnavailable(f"the live twin did not answer: {exc}") from exc
        except (TwinError, OSError) as exc:
            self._drop()
            raise AlarmsUnavailable(str(exc)) from exc

    def close(self) -> None:
        """Disconnect for good: later calls raise :class:`AlarmsUnavailable` instead of reconnecting."""
        with self._lock:
            self._closed = True
        self._drop()
