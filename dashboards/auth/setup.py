"""Build the dashboard's :class:`AuthConfig` from settings (CLI flags or environment), failing fast.

One place for the rules both ``twin dashboard`` and the WSGI factory follow:

- without a users file: open local mode (no login), refused in production mode;
- with one: a session key from a file or the environment (:mod:`dashboards.auth.secret`);
- production mode (``--production`` / ``TWIN_ENV=production``): a strong key, a users
  file, and secure (HTTPS-only) cookies;
- the rate limit and the audit log live in ``state_dir``, shared by every worker.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path

from dashboards.auth.secret import SecretKeyError, load_session_key
from dashboards.auth.session import MIN_SECRET_BYTES, AuthConfig
from dashboards.auth.users import UsersFileError, load_users

__all__ = ["AuthSettings", "AuthSetupError", "DEFAULT_STATE_DIR", "build_auth", "env_flag"]

log = logging.getLogger(__name__)

#: Where the rate limit and the audit log live unless told otherwise (next to the demo's data).
DEFAULT_STATE_DIR = "twin-data/dashboard"


class AuthSetupError(ValueError):
    """The login settings cannot be used; ``option`` names the flag or variable to fix."""

    def __init__(self, message: str, option: str):
        super().__init__(message)
        self.option = option


def env_flag(value: object) -> bool:
    """A boolean environment value: 1/true/yes/on (any case) are true."""
    return isinstance(value, str) and value.strip().lower() in {"1", "true", "yes", "on"}


@dataclass(frozen=True)
class AuthSettings:
    """What the operator asked for (flags or environment); no secret values here."""

    users_file: str | None = None
    secret_file: str | None = None
    dev_secret: bool = False
    production: bool = False
    https: bool = False
    state_dir: str | None = DEFAULT_STATE_DIR
    audit_log: str | None = None
    proxy_hops: int = 0


def _prepare(state_dir: Path | None) -> None:
    if state_dir is None:
        return
    try:
        state_dir.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise AuthSetupError(f"{state_dir}: cannot create the state directory: {exc.strerror or exc}",
                             "--state-dir") from None


def build_auth(settings: AuthSettings, tenants: Iterable[str], env: Mapping[str, str] | None = None) -> AuthConfig:
    """The :class:`AuthConfig` for ``settings``; raises :class:`AuthSetupError` saying what to fix."""
    env = os.environ if env is None else env
    state_dir = Path(settings.state_dir) if settings.state_dir else None
    audit = Path(settings.audit_log) if settings.audit_log else None
    secure = settings.https or settings.production
    common = {"state_dir": state_dir, "audit_path": audit, "secure_cookies": secure, "proxy_hops": settings.proxy_hops}
    if settings.users_file is None:
        if settings.production:
            raise AuthSetupError(
                "production mode needs logins: give --users FILE (TWIN_DASHBOARD_USERS); "
                "open local mode lets every visitor act as admin",
                "--users",
            )
        _prepare(state_dir)
        return AuthConfig.open_local(**common)
    try:
        users = load_users(settings.users_file, list(tenants))
    except UsersFileError as exc:
        raise AuthSetupError(str(exc), "--users") from None
    if not len(users):
        raise AuthSetupError(f"{settings.users_file}: no users; add one with `twin dashboard-user add`", "--users")
    try:
        key = load_session_key(
            settings.secret_file,
            production=settings.production,
            dev_secret=settings.dev_secret,
            min_bytes=MIN_SECRET_BYTES,
            env=env,
        )
    except SecretKeyError as exc:
        raise AuthSetupError(str(exc), "--secret-file") from None
    if key.source == "--dev-secret":
        log.warning("--dev-secret: sessions are signed with a random key and end when this process stops")
    _prepare(state_dir)
    log.info(
        "login required: %d user(s) from %s; session key from %s; cookies %s",
        len(users),
        settings.users_file,
        key.source,
        "Secure (HTTPS only)" if secure else "without Secure (plain HTTP)",
    )
    return AuthConfig(users=users, secret_key=key.key, **common)  # type: ignore[arg-type]
