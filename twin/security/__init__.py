"""Broker access derived from the complex model: accounts, ACLs, password hashes, TLS files."""

from twin.security.mqtt_auth import (
    SERVICE_ACCOUNTS,
    Account,
    accounts_for,
    acl_text,
    device_username,
    hash_password,
    passwd_text,
    tenant_username,
)

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
