"""The users file: YAML with usernames, argon2 password hashes, roles and tenants.

    users:
      - username: kim
        password_hash: "$argon2id$v=19$..."
        role: operator            # operator | engineer | tenant | admin
      - username: hanbit-ops
        password_hash: "$argon2id$..."
        role: tenant
        tenant: hanbit            # required for role tenant, forbidden otherwise

Write entries with ``twin dashboard-user add`` (never by hand-hashing). Pure: no
I/O except :func:`load_users` and :func:`add_user`, which read and write the file.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path

import yaml
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

__all__ = [
    "ROLES",
    "User",
    "UsersFile",
    "UsersFileError",
    "add_user",
    "hash_password",
    "load_users",
]

#: operator: control centre (all tenants); engineer: simulation and overview;
#: tenant: own tenant's factories only; admin: everything.
ROLES = ("operator", "engineer", "tenant", "admin")

_HASHER = PasswordHasher()  # stateless and thread-safe; argon2id with the library's defaults

#: A valid hash verified when the username is unknown, so both cases take the same time.
_DUMMY_HASH = _HASHER.hash("not a password of anyone")


class UsersFileError(ValueError):
    """A users file that cannot be used: says which file, which entry and why."""


@dataclass(frozen=True, slots=True)
class User:
    """A dashboard user as the session knows it (no password material)."""

    username: str
    role: str
    tenant: str | None = None

    def __post_init__(self) -> None:
        if not self.username or not isinstance(self.username, str):
            raise ValueError("username must be a non-empty string")
        if self.role not in ROLES:
            raise ValueError(f"role must be one of {', '.join(ROLES)}, got {self.role!r}")
        if self.role == "tenant" and not self.tenant:
            raise ValueError(f"user {self.username!r}: role tenant needs a tenant id")
        if self.role != "tenant" and self.tenant is not None:
            raise ValueError(f"user {self.username!r}: only role tenant is bound to a tenant")

    def may_see_tenant(self, tenant_id: object) -> bool:
        """True when this user may read data of ``tenant_id`` (any client value)."""
        if not isinstance(tenant_id, str):
            return False
        return self.tenant == tenant_id if self.role == "tenant" else True

    def visible_tenants(self, tenant_ids: Iterable[str]) -> list[str]:
        """The tenant ids of ``tenant_ids`` this user may see, in their order."""
        return [t for t in tenant_ids if self.may_see_tenant(t)]


def hash_password(password: str) -> str:
    """An argon2id hash of ``password`` for the users file."""
    if not password:
        raise ValueError("password must not be empty")
    return _HASHER.hash(password)


class UsersFile:
    """Users and their password hashes, read-only once loaded."""

    def __init__(self, entries: Mapping[str, tuple[User, str]], source: str = "<memory>"):
        self._entries = dict(entries)
        self.source = source

    def __len__(self) -> int:
        return len(self._entries)

    def usernames(self) -> list[str]:
        return list(self._entries)

    def get(self, username: object) -> User | None:
        entry = self._entries.get(username) if isinstance(username, str) else None
        return entry[0] if entry else None

    def authenticate(self, username: object, password: object) -> User | None:
        """The user when ``password`` matches its hash, else None (same cost either way)."""
        entry = self._entries.get(username) if isinstance(username, str) else None
        stored = entry[1] if entry else _DUMMY_HASH
        try:
            ok = isinstance(password, str) and _HASHER.verify(stored, password)
        except (VerifyMismatchError, VerificationError, InvalidHashError):
            ok = False
        return entry[0] if entry and ok else None


def _parse(data: object, source: str) -> dict[str, tuple[User, str]]:
    if data is None:
        return {}
    if not isinstance(data, dict) or not isinstance(data.get("users", []), list):
        raise UsersFileError(f"{source}: expected a mapping with a list under 'users'")
    out: dict[str, tuple[User, str]] = {}
    for i, item in enumerate(data.get("users") or []):
        where = f"{source}: users[{i}]"
        if not isinstance(item, dict):
            raise UsersFileError(f"{where}: expected a mapping")
        unknown = set(item) - {"username", "password_hash", "role", "tenant"}
        if unknown:
            raise UsersFileError(f"{where}: unknown key(s) {', '.join(sorted(map(str, unknown)))}")
        pw = item.get("password_hash")
        if not isinstance(pw, str) or not pw.startswith("$argon2"):
            raise UsersFileError(f"{where}.password_hash: expected an argon2 hash")
        try:
            user = User(item.get("username"), item.get("role"), item.get("tenant"))  # type: ignore[arg-type]
        except (ValueError, TypeError) as exc:
            raise UsersFileError(f"{where}: {exc}") from None
        if user.username in out:
            raise UsersFileError(f"{where}.username: {user.username!r} appears twice")
        out[user.username] = (user, pw)
    return out


def load_users(path: str | os.PathLike[str], tenant_ids: Iterable[str] | None = None) -> UsersFile:
    """Read the users file; with ``tenant_ids``, a tenant user bound to an unknown tenant fails."""
    p = Path(path)
    try:
        data = yaml.safe_load(p.read_text(encoding="utf-8"))
    except OSError as exc:
        raise UsersFileError(f"{p}: cannot read: {exc.strerror or exc}") from None
    except yaml.YAMLError as exc:
        raise UsersFileError(f"{p}: not valid YAML: {exc}") from None
    entries = _parse(data, str(p))
    if tenant_ids is not None:
        known = set(tenant_ids)
        for user, _ in entries.values():
            if user.tenant is not None and user.tenant not in known:
                raise UsersFileError(
                    f"{p}: user {user.username!r}: tenant {user.tenant!r} is not in the config "
                    f"(known: {', '.join(sorted(known))})"
                )
    return UsersFile(entries, str(p))


def add_user(path: str | os.PathLike[str], user: User, password: str, *, replace: bool = False) -> None:
    """Add (or with ``replace``, update) ``user`` in the users file, creating it if needed.

    Written to a temporary file and renamed, so a reader never sees half a file.
    """
    p = Path(path)
    data: dict[str, object] = {"users": []}
    if p.exists():
        loaded = yaml.safe_load(p.read_text(encoding="utf-8")) or {"users": []}
        _parse(loaded, str(p))  # refuse to extend a broken file
        data = loaded
    users = list(data.get("users") or [])  # type: ignore[call-overload]
    existing = [i for i, u in enumerate(users) if u.get("username") == user.username]
    if existing and not replace:
        raise UsersFileError(f"{p}: user {user.username!r} exists (use --replace to update)")
    entry: dict[str, str] = {"username": user.username, "password_hash": hash_password(password), "role": user.role}
    if user.tenant is not None:
        entry["tenant"] = user.tenant
    if existing:
        users[existing[0]] = entry
    else:
        users.append(entry)
    data["users"] = users
    p.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=".users-", dir=p.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            yaml.safe_dump(data, f, sort_keys=False)
        os.chmod(tmp, 0o600)  # hashes are not secrets, but nobody else needs to read them
        os.replace(tmp, p)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
