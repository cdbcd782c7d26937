"""Login and roles of the dashboards: users file, server-side session, page and callback checks.

Who is asking is read only from the Flask session (signed by the server's secret
key), never from a value the browser sends to a callback.
"""

from __future__ import annotations

from dashboards.auth.users import (
    ROLES,
    User,
    UsersFile,
    UsersFileError,
    add_user,
    hash_password,
    load_users,
)

__all__ = [
    "ROLES",
    "User",
    "UsersFile",
    "UsersFileError",
    "add_user",
    "hash_password",
    "load_users",
]
