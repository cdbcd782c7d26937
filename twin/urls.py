"""Broker and historian URLs: parsed once, validated, with clear errors."""

from __future__ import annotations

import os
from dataclasses import dataclass
from urllib.parse import parse_qs, unquote, urlsplit

from twin.errors import UrlError

__all__ = ["BrokerUrl", "parse_broker_url", "redact"]

_BROKER_SCHEMES = {"mqtt": (1883, False), "mqtts": (8883, True)}
_PROTOCOLS = {"5": 5, "5.0": 5, "3.1.1": 4, "311": 4}


@dataclass(frozen=True, slots=True)
class BrokerUrl:
    host: str
    port: int
    tls: bool = False
    username: str | None = None
    password: str | None = None
    protocol: int = 5  # 5 = MQTT 5, 4 = MQTT 3.1.1
    ca_file: str | None = None

    def __str__(self) -> str:
        scheme = "mqtts" if self.tls else "mqtt"
        user = f"{self.username}:***@" if self.username else ""
        return f"{scheme}://{user}{self.host}:{self.port}"


def _port(value: str, url: str) -> int | None:
    try:
        parsed = urlsplit(value)
        return parsed.port
    except ValueError as exc:
        raise UrlError(f"{redact(url)}: bad port ({exc})") from None


def parse_broker_url(url: str) -> BrokerUrl:
    """``mqtt://[user:pass@]host[:port][?protocol=5|3.1.1]`` or ``mqtts://...[&ca=FILE]``.

    The password may also come from the ``TWIN_MQTT_PASSWORD`` environment variable,
    which keeps it out of shell history and process listings.
    """
    if not isinstance(url, str) or not url:
        raise UrlError("broker URL is empty")
    parts = urlsplit(url)
    if parts.scheme not in _BROKER_SCHEMES:
        raise UrlError(f"{redact(url)}: broker URL must start with mqtt:// or mqtts://")
    if not parts.hostname:
        raise UrlError(f"{redact(url)}: broker URL has no host")
    default_port, tls = _BROKER_SCHEMES[parts.scheme]
    port = _port(url, url) or default_port
    query = parse_qs(parts.query, keep_blank_values=True)
    unknown = set(query) - {"protocol", "ca"}
    if unknown:
        raise UrlError(f"{redact(url)}: unknown option(s) {sorted(unknown)}; known: protocol, ca")
    proto_text = query.get("protocol", ["5"])[-1]
    if proto_text not in _PROTOCOLS:
        raise UrlError(f"{redact(url)}: protocol must be 5 or 3.1.1, got {proto_text!r}")
    password = unquote(parts.password) if parts.password else os.environ.get("TWIN_MQTT_PASSWORD")
    return BrokerUrl(
        host=parts.hostname,
        port=port,
        tls=tls,
        username=unquote(parts.username) if parts.username else None,
        password=password if parts.username else None,
        protocol=_PROTOCOLS[proto_text],
        ca_file=query.get("ca", [None])[-1],
    )


def redact(url: str) -> str:
    """The URL with any password replaced by ``***`` (safe for logs and errors)."""
    try:
        parts = urlsplit(url)
    except ValueError:
        return "<unparseable URL>"
    if parts.password:
        netloc = parts.netloc.replace(f":{parts.password}@", ":***@", 1)
        return parts._replace(netloc=netloc).geturl()
    return url
