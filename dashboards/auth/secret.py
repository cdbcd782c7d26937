"""The session signing key: from a file or the environment only, checked harder in production.

Never from a command-line value (it would sit in ``ps`` output and shell history).
In production mode (``--production`` or ``TWIN_ENV=production``) the key must have at
least 32 bytes, must not be a placeholder or a well-known default, and ``--dev-secret``
(a random key per process) is refused: several workers must share one key.
"""

from __future__ import annotations

import os
import secrets
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

__all__ = [
    "MIN_PRODUCTION_SECRET_BYTES",
    "SecretKeyError",
    "SessionKey",
    "is_production",
    "load_session_key",
    "new_secret_text",
]

#: Shortest key accepted in production mode (bytes): 256 bits, as for an HMAC-SHA256 key.
MIN_PRODUCTION_SECRET_BYTES = 32
#: Keys shipped in examples, docs and frameworks' quick starts, compared case-insensitively.
KNOWN_DEFAULT_SECRETS = frozenset(
    {
        "change_me",
        "changeme",
        "change-me",
        "secret",
        "secret-key",
        "secret_key",
        "dev",
        "development",
        "default",
        "password",
        "dev-secret-change-me-0123456789abcdef",
    }
)
#: A key with fewer distinct bytes than this is a pattern ("aaaa...", "0000..."), not random.
MIN_DISTINCT_BYTES = 8


class SecretKeyError(ValueError):
    """No usable session key: says where the key came from and what is wrong."""


@dataclass(frozen=True)
class SessionKey:
    """A session key and where it came from (for messages; never the key itself)."""

    key: bytes = b""
    source: str = ""

    def __repr__(self) -> str:  # never show the key in a traceback or a log
        return f"SessionKey(source={self.source!r}, {len(self.key)} bytes)"


def is_production(flag: bool, env: Mapping[str, str] | None = None) -> bool:
    """Production mode: ``--production`` or ``TWIN_ENV=production``."""
    env = os.environ if env is None else env
    return flag or env.get("TWIN_ENV", "").strip().lower() == "production"


def _weakness(key: bytes) -> str | None:
    text = key.decode("utf-8", "replace").strip().lower()
    if text in KNOWN_DEFAULT_SECRETS or "change_me" in text or "changeme" in text:
        return "it is a placeholder or a well-known default key"
    if len(key) < MIN_PRODUCTION_SECRET_BYTES:
        return f"it has {len(key)} bytes; production mode needs at least {MIN_PRODUCTION_SECRET_BYTES}"
    if len(set(key)) < MIN_DISTINCT_BYTES:
        return "it is a repeated pattern, not a random key"
    return None


def load_session_key(
    secret_file: str | os.PathLike[str] | None,
    *,
    production: bool,
    dev_secret: bool = False,
    min_bytes: int = 16,
    env: Mapping[str, str] | None = None,
) -> SessionKey:
    """The key from ``secret_file``, else ``TWIN_DASHBOARD_SECRET_FILE``/``TWIN_DASHBOARD_SECRET``.

    ``dev_secret`` makes a random key when none is configured (refused in production).
    Raises :class:`SecretKeyError` with the source and the reason.
    """
    env = os.environ if env is None else env
    path = secret_file or env.get("TWIN_DASHBOARD_SECRET_FILE") or None
    if path is not None:
        source = f"secret file {path}"
        try:
            key = Path(path).read_bytes().strip()
        except OSError as exc:
            raise SecretKeyError(f"{source}: cannot read: {exc.strerror or exc}") from None
    elif env.get("TWIN_DASHBOARD_SECRET"):
        source, key = "TWIN_DASHBOARD_SECRET", env["TWIN_DASHBOARD_SECRET"].encode("utf-8", "surrogateescape").strip()
    elif dev_secret and production:
        raise SecretKeyError(
            "production mode refuses --dev-secret: a random key per process logs everyone out on restart "
            "and is not shared by several workers; give --secret-file FILE (`twin dashboard-user secret FILE`)"
        )
    elif dev_secret:
        return SessionKey(secrets.token_bytes(32), "--dev-secret")
    else:
        raise SecretKeyError(
            "no session key: give --secret-file FILE or TWIN_DASHBOARD_SECRET_FILE (make one with "
            "`twin dashboard-user secret FILE`), or TWIN_DASHBOARD_SECRET"
            + ("" if production else "; or --dev-secret for a throwaway demo")
        )
    if not key:
        raise SecretKeyError(f"{source}: the key is empty")
    if production:
        weakness = _weakness(key)
        if weakness:
            raise SecretKeyError(f"{source}: production mode refuses this session key: {weakness}")
    elif len(key) < min_bytes:
        raise SecretKeyError(f"{source}: the key must have at least {min_bytes} bytes, it has {len(key)}")
    return SessionKey(key, source)


def new_secret_text() -> str:
    """A fresh key for a secret file: 48 random bytes as 64 URL-safe characters."""
    return secrets.token_urlsafe(48)
