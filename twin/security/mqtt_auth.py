"""Mosquitto accounts and ACL rules computed from the complex model (pure: no I/O).

Every device, every tenant and every twin service gets its own MQTT user with the
smallest set of topics it needs (topic scheme: docs/protocol.md, rationale:
docs/security.md). Usernames use ``.`` as separator because ``.`` is outside the
identifier character set (:data:`twin.model.ID_PATTERN`), so ``{owner}.{device}``
can never collide with another owner/device pair or with a service name.
"""

from __future__ import annotations

import base64
import hashlib
import os
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from twin.model import ID_RE, Complex
from twin.topics import ROOT, VERSION

__all__ = [
    "Account",
    "SERVICE_ACCOUNTS",
    "accounts_for",
    "acl_text",
    "device_username",
    "hash_password",
    "passwd_text",
    "tenant_username",
]

# Mosquitto 2.0's own format ("$7$" = PBKDF2-SHA512); the iteration count is what
# mosquitto_passwd writes by default, so our hashes are indistinguishable from its.
HASH_ITERATIONS = 101
SALT_BYTES = 12

_T = f"{ROOT}/{VERSION}"


@dataclass(frozen=True, slots=True)
class Account:
    """One MQTT user and the topic filters it may read and write."""

    username: str
    kind: str  # "device", "tenant" or "service"
    read: tuple[str, ...] = ()
    write: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        if not self.username or any(c in self.username for c in ":\n\r\0 #+/"):
            raise ValueError(f"bad MQTT username {self.username!r}")
        for topic in (*self.read, *self.write):
            if not topic or any(c in topic for c in "\n\r\0"):
                raise ValueError(f"{self.username}: bad ACL topic {topic!r}")


def device_username(owner: str, device: str) -> str:
    """``{owner}.{device}``: the MQTT user of one device."""
    return f"{owner}.{device}"


def tenant_username(tenant: str) -> str:
    """``tenant.{tenant}``: the read-only service account of one tenant."""
    return f"tenant.{tenant}"


def _device(owner: str, device: str) -> Account:
    base = f"{_T}/{owner}/{device}"
    return Account(
        device_username(owner, device),
        "device",
        read=(f"{base}/command",),
        write=(f"{base}/telemetry", f"{base}/status"),
    )


#: The twin's own processes (docker-compose.yml logs each in as one of these).
SERVICE_ACCOUNTS: tuple[Account, ...] = (
    # Ingest: reads every reading (also through shared subscriptions), publishes nothing.
    Account(
        "twin-ingest",
        "service",
        read=(f"{_T}/#", f"$share/+/{_T}/#", "spBv1.0/#"),
    ),
    # Live twin: reads everything, publishes only state snapshots and alarm topics.
    Account(
        "twin-live",
        "service",
        read=(f"{_T}/#", f"$share/+/{_T}/#"),
        write=(f"{_T}/+/+/state", f"{_T}/+/_alarms/event", f"{_T}/+/_alarms/open", f"{_T}/+/_alarms/reply"),
    ),
    # Dashboards: read state and alarms, publish alarm commands (the live twin checks owners).
    Account(
        "twin-dashboard",
        "service",
        read=(f"{_T}/+/+/state", f"{_T}/+/_alarms/event", f"{_T}/+/_alarms/open", f"{_T}/+/_alarms/reply"),
        write=(f"{_T}/+/_alarms/command",),
    ),
    # Simulated fleet: publishes every device's telemetry, takes injected events.
    Account(
        "twin-sensors",
        "service",
        read=(f"{_T}/sim/inject",),
        write=(f"{_T}/+/+/telemetry", f"{_T}/sim/events"),
    ),
    # Sparkplug host (`twin sparkplug`): reads edge nodes (it stores readings itself),
    # asks them for rebirths, publishes its STATE and each device's status.
    Account(
        "twin-sparkplug",
        "service",
        read=("spBv1.0/#", "$share/+/spBv1.0/#"),
        write=("spBv1.0/STATE/+", "spBv1.0/+/NCMD/+", f"{_T}/+/+/status"),
    ),
    # OPC UA / Modbus bridges (`twin bridge`): a gateway publishing for the devices it maps.
    Account("twin-bridge", "service", write=(f"{_T}/+/+/telemetry",)),
    # Process engineers' `twin inject`: injects events, watches what the fleet did.
    Account("twin-sim", "service", read=(f"{_T}/sim/events",), write=(f"{_T}/sim/inject",)),
    # Broker health check: the uptime, nothing else.
    Account("twin-healthcheck", "service", read=("$SYS/broker/uptime",)),
)


def accounts_for(complex_: Complex) -> list[Account]:
    """Every account: services, one per tenant, one per device (park assets have owner ``park``)."""
    out = list(SERVICE_ACCOUNTS)
    for t in complex_.tenants:
        out.append(Account(tenant_username(t.id), "tenant", read=(f"{_T}/{t.id}/#",)))
    for owner, device in sorted(complex_.devices):
        if not (ID_RE.match(owner) and ID_RE.match(device)):  # the config boundary guarantees it
            raise ValueError(f"device {owner}/{device} is not a valid identifier")
        out.append(_device(owner, device))
    return out


def acl_text(accounts: Iterable[Account]) -> str:
    """A Mosquitto ``acl_file``: no rule outside a ``user`` block, so anonymous gets nothing."""
    lines = [
        "# Generated by `twin mqtt-auth` from the complex config; do not edit by hand.",
        "# Topic scheme: docs/protocol.md; who may do what and why: docs/security.md.",
    ]
    for a in accounts:
        lines += ["", f"user {a.username}"]
        lines += [f"topic read {t}" for t in a.read]
        lines += [f"topic write {t}" for t in a.write]
    return "\n".join(lines) + "\n"


def hash_password(password: str, salt: bytes | None = None, iterations: int = HASH_ITERATIONS) -> str:
    """A Mosquitto 2.0 password hash: ``$7$iterations$salt$hash`` (PBKDF2-SHA512, base64)."""
    if not password:
        raise ValueError("empty password")
    salt = os.urandom(SALT_BYTES) if salt is None else salt
    digest = hashlib.pbkdf2_hmac("sha512", password.encode(), salt, iterations)
    b64 = base64.b64encode
    return f"$7${iterations}${b64(salt).decode()}${b64(digest).decode()}"


def passwd_text(passwords: Mapping[str, str]) -> str:
    """A Mosquitto ``password_file`` for ``username -> password`` (hashed here)."""
    return "".join(f"{user}:{hash_password(pw)}\n" for user, pw in passwords.items())
