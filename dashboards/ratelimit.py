"""Login rate limiting shared by every worker process: a small SQLite file of recent attempts.

Each login attempt is counted under two keys, the username and the client address,
*before* the password is checked; a successful login removes its own row and the
username's earlier failures (the password was known), so only failures stay. When
either key already holds its maximum within the window, the attempt is refused
without checking the password, so a right password is refused too until the window
has passed. Counting and recording happen in one ``BEGIN IMMEDIATE`` transaction,
so parallel requests in several workers cannot slip past the limit together.

Usernames are stored as SHA-256 digests: a huge or hostile username costs one row
of fixed size, and the file holds no list of names people typed.
"""

from __future__ import annotations

import hashlib
import math
import sqlite3
import time
from collections.abc import Callable
from contextlib import closing
from dataclasses import dataclass
from pathlib import Path

__all__ = ["Admitted", "LoginLimit", "LoginLimiter", "Refused"]

#: How long a writer waits for another worker's transaction on the file.
BUSY_TIMEOUT_S = 5.0


@dataclass(frozen=True, slots=True)
class LoginLimit:
    """At most ``per_user`` failed logins for one username and ``per_ip`` from one address per window."""

    per_user: int = 5
    per_ip: int = 20  # higher: a control room or an office shares one address behind NAT
    window_s: float = 300.0

    def __post_init__(self) -> None:
        if self.per_user < 1 or self.per_ip < 1:
            raise ValueError(f"login limits must be >= 1, got per_user={self.per_user} per_ip={self.per_ip}")
        if not self.window_s > 0:
            raise ValueError(f"window_s must be > 0, got {self.window_s}")


@dataclass(frozen=True, slots=True)
class Refused:
    """An attempt refused by the limit: which key and how many seconds until it may retry."""

    key_kind: str  # "user" or "ip"
    retry_after_s: int


@dataclass(frozen=True, slots=True)
class Admitted:
    """An attempt let through: its rows, removed again if the password was right."""

    user_row: int
    ip_row: int


def _user_key(username: object) -> str:
    raw = username if isinstance(username, str) else ""
    return "user:" + hashlib.sha256(raw.encode("utf-8", "surrogatepass")).hexdigest()


def _ip_key(address: object) -> str:
    return "ip:" + (address if isinstance(address, str) and address else "unknown")[:64]


class LoginLimiter:
    """Counts login attempts per username and per client address in ``path`` (SQLite)."""

    def __init__(self, path: str | Path, limit: LoginLimit | None = None, clock: Callable[[], float] = time.time):
        self.path = Path(path)
        self.limit = limit or LoginLimit()
        self._clock = clock
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with closing(self._connect()) as db:
            db.execute("PRAGMA journal_mode=WAL")
            db.execute("CREATE TABLE IF NOT EXISTS attempts (key TEXT NOT NULL, ts REAL NOT NULL)")
            db.execute("CREATE INDEX IF NOT EXISTS attempts_key_ts ON attempts (key, ts)")

    def _connect(self) -> sqlite3.Connection:
        # a connection per call: cheap, and safe from any thread of any worker
        return sqlite3.connect(self.path, timeout=BUSY_TIMEOUT_S, isolation_level=None)

    def attempt(self, username: object, address: object) -> Admitted | Refused:
        """Record an attempt: :class:`Admitted`, or :class:`Refused` when a limit is reached."""
        now = self._clock()
        since = now - self.limit.window_s
        user, ip = _user_key(username), _ip_key(address)
        db = self._connect()
        try:
            db.execute("BEGIN IMMEDIATE")
            db.execute("DELETE FROM attempts WHERE ts < ?", (since,))
            for key, kind, most in ((user, "user", self.limit.per_user), (ip, "ip", self.limit.per_ip)):
                count, oldest = db.execute(
                    "SELECT COUNT(*), MIN(ts) FROM attempts WHERE key = ? AND ts >= ?", (key, since)
                ).fetchone()
                if count >= most:
                    db.execute("COMMIT")
                    return Refused(kind, max(1, math.ceil(oldest + self.limit.window_s - now)))
            user_row = db.execute("INSERT INTO attempts (key, ts) VALUES (?, ?)", (user, now)).lastrowid
            ip_row = db.execute("INSERT INTO attempts (key, ts) VALUES (?, ?)", (ip, now)).lastrowid
            db.execute("COMMIT")
            return Admitted(int(user_row or 0), int(ip_row or 0))
        except BaseException:
            if db.in_transaction:
                db.execute("ROLLBACK")
            raise
        finally:
            db.close()

    def succeeded(self, admitted: Admitted, username: object) -> None:
        """``admitted`` logged in: forget it and the username's failures (not the address's earlier ones)."""
        with closing(self._connect()) as db:
            db.execute("DELETE FROM attempts WHERE key = ? OR rowid = ?", (_user_key(username), admitted.ip_row))
