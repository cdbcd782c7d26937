"""``twin mqtt-auth``: write Mosquitto's password file, ACL and (optionally) TLS files."""

from __future__ import annotations

import logging
import os
import secrets
import stat
from pathlib import Path

import click

from twin.config import load_complex
from twin.model import Complex
from twin.security.mqtt_auth import Account, accounts_for, acl_text, passwd_text
from twin.security.tls import make_ca_and_server_cert

__all__ = ["mqtt_auth", "ensure_passwords", "write_broker_auth", "write_private"]

log = logging.getLogger(__name__)

#: Random bytes per generated password (URL-safe base64: no ':' which Mosquitto forbids).
PASSWORD_BYTES = 24


def write_private(path: Path, data: str | bytes) -> None:
    """Write a file that only its owner can read (0600), created with that mode (no window)."""
    raw = data.encode() if isinstance(data, str) else data
    tmp = path.with_name(f".{path.name}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        os.write(fd, raw)
        os.fchmod(fd, 0o600)
    finally:
        os.close(fd)
    os.replace(tmp, path)


def _private_dir(path: Path) -> None:
    path.mkdir(parents=True, exist_ok=True)
    os.chmod(path, 0o700)


def ensure_passwords(secrets_dir: Path, usernames: list[str]) -> tuple[dict[str, str], list[str]]:
    """Each user's password from ``secrets_dir/<user>``, creating missing ones; returns (all, created)."""
    _private_dir(secrets_dir)
    out: dict[str, str] = {}
    created: list[str] = []
    for user in usernames:
        path = secrets_dir / user
        if path.exists():
            if stat.S_IMODE(path.stat().st_mode) & 0o077:
                log.warning("%s was readable by others; mode set to 0600", path)
                os.chmod(path, 0o600)
            value = path.read_text().strip()
            if value and ":" not in value:
                out[user] = value
                continue
            raise click.ClickException(f"{path}: empty or contains ':'; delete it to generate a new one")
        value = secrets.token_urlsafe(PASSWORD_BYTES)
        write_private(path, value + "\n")
        out[user] = value
        created.append(user)
    return out, created


def write_broker_auth(
    complex_: Complex, out: Path, secrets_dir: Path
) -> tuple[list[Account], dict[str, str], list[str]]:
    """Write OUT/passwd (0600) and OUT/acl for ``complex_``; passwords kept in ``secrets_dir``.

    Returns (accounts, every password, the usernames whose password was created now).
    """
    accounts = accounts_for(complex_)
    out.mkdir(parents=True, exist_ok=True)
    passwords, created = ensure_passwords(secrets_dir, [a.username for a in accounts])
    write_private(out / "passwd", passwd_text(passwords))
    (out / "acl").write_text(acl_text(accounts))
    return accounts, passwords, created


@click.command("mqtt-auth")
@click.option("--config", "config", required=True, metavar="PATH", help="Complex config (YAML path, or 'demo'/'tiny').")
@click.option(
    "--out",
    "out",
    required=True,
    type=click.Path(file_okay=False, path_type=Path),
    help="Directory for passwd, acl and tls/.",
)
@click.option(
    "--secrets",
    "secrets_dir",
    type=click.Path(file_okay=False, path_type=Path),
    default=None,
    help="Directory of the plain passwords, one 0600 file per user [default: OUT/secrets].",
)
@click.option("--tls", is_flag=True, help="Also create a private CA and a broker certificate in OUT/tls (once).")
@click.option(
    "--hostname",
    "hostnames",
    multiple=True,
    default=("mosquitto", "localhost", "127.0.0.1"),
    show_default=True,
    help="Name or IP the broker certificate is valid for; repeat for several.",
)
def mqtt_auth(config: str, out: Path, secrets_dir: Path | None, tls: bool, hostnames: tuple[str, ...]) -> None:
    """Generate Mosquitto's password file and ACL from the complex: one user per device, tenant and service.

    Passwords are created once (re-runs keep them) and stored only in the secrets
    directory, mode 0600; they are never printed. Give each device its own file.
    """
    complex_ = load_complex(config)
    secrets_dir = secrets_dir or out / "secrets"
    accounts, passwords, created = write_broker_auth(complex_, out, secrets_dir)
    kinds = {k: sum(1 for a in accounts if a.kind == k) for k in ("service", "tenant", "device")}
    click.echo(
        f"{out / 'passwd'}, {out / 'acl'}: {len(accounts)} users "
        f"({kinds['device']} devices, {kinds['tenant']} tenants, {kinds['service']} services)"
    )
    click.echo(f"passwords: {secrets_dir}/<user> (mode 0600; {len(created)} new, {len(accounts) - len(created)} kept)")
    if tls:
        tls_dir = out / "tls"
        if (tls_dir / "server.crt").exists():
            click.echo(f"tls: {tls_dir} exists, kept (delete it to issue new certificates)")
        else:
            tls_dir.mkdir(parents=True, exist_ok=True)
            files = make_ca_and_server_cert(list(hostnames))
            for name in ("ca.crt", "server.crt"):
                (tls_dir / name).write_bytes(files[name])
            write_private(tls_dir / "server.key", files["server.key"])
            write_private(secrets_dir / "ca.key", files["ca.key"])  # the CA key stays with the secrets
            click.echo(
                f"tls: {tls_dir}/ca.crt, server.crt, server.key for {', '.join(hostnames)}; CA key in {secrets_dir}"
            )
