"""``twin dashboard-user``: add and list dashboard users in a users file (argon2 hashes)."""

from __future__ import annotations

import sys

import click

from twin.cli_options import config_option

__all__ = ["dashboard_user"]


@click.group("dashboard-user")
def dashboard_user() -> None:
    """Manage the users file and the session key file of `twin dashboard`."""


@dashboard_user.command("add")
@click.argument("username")
@click.option(
    "--users", "users_file", required=True, type=click.Path(dir_okay=False), help="Users file (created if missing)."
)
@click.option("--role", required=True, type=click.Choice(["operator", "engineer", "tenant", "admin"]))
@click.option("--tenant", default=None, help="Tenant id (required for --role tenant).")
@config_option
@click.option("--password-stdin", is_flag=True, help="Read the password from the first line of stdin (scripts).")
@click.option("--replace", is_flag=True, help="Update the user if it exists (new password, role, tenant).")
def add(
    username: str, users_file: str, role: str, tenant: str | None, config: str, password_stdin: bool, replace: bool
) -> None:
    """Add USERNAME with a password (prompted, or --password-stdin), stored as an argon2 hash.

    \b
    twin dashboard-user add kim --users users.yaml --role operator
    twin dashboard-user add hanbit-ops --users users.yaml --role tenant --tenant hanbit
    """
    from dashboards.auth.users import User, UsersFileError, add_user
    from twin.config import load_complex
    from twin.errors import ConfigError

    try:
        user = User(username, role, tenant)
    except ValueError as exc:
        raise click.BadParameter(str(exc)) from None
    if tenant is not None:
        try:
            known = [t.id for t in load_complex(config).tenants]
        except ConfigError as exc:
            raise click.BadParameter(str(exc), param_hint="--config") from None
        if tenant not in known:
            raise click.BadParameter(
                f"{tenant!r} is not a tenant of {config} ({', '.join(known)})", param_hint="--tenant"
            )
    if password_stdin:
        password = sys.stdin.readline().rstrip("\r\n")
    else:
        password = click.prompt("Password", hide_input=True, confirmation_prompt=True)
    if not password:
        raise click.BadParameter("the password must not be empty")
    try:
        add_user(users_file, user, password, replace=replace)
    except UsersFileError as exc:
        raise click.ClickException(str(exc)) from None
    click.echo(
        f"{'updated' if replace else 'added'} {username} ({role}{', ' + tenant if tenant else ''}) in {users_file}"
    )


@dashboard_user.command("list")
@click.option("--users", "users_file", required=True, type=click.Path(dir_okay=False, exists=True))
def list_users(users_file: str) -> None:
    """List the users of a users file (no hashes)."""
    from dashboards.auth.users import UsersFileError, load_users

    try:
        users = load_users(users_file)
    except UsersFileError as exc:
        raise click.ClickException(str(exc)) from None
    for name in sorted(users.usernames()):
        u = users.get(name)
        assert u is not None
        click.echo(f"{u.username}\t{u.role}\t{u.tenant or '-'}")


@dashboard_user.command("secret")
@click.argument("path", type=click.Path(dir_okay=False))
@click.option("--force", is_flag=True, help="Replace an existing file (logs everyone out).")
def new_secret(path: str, force: bool) -> None:
    """Write a new random session key to PATH (mode 0600) for --secret-file; the key is never printed.

    \b
    twin dashboard-user secret secrets/dashboard-session.key
    twin dashboard --users users.yaml --secret-file secrets/dashboard-session.key --production
    """
    import os
    from pathlib import Path

    from dashboards.auth.secret import new_secret_text

    p = Path(path)
    if p.exists() and not force:
        raise click.ClickException(f"{p} exists; keep it (sessions stay valid) or use --force to replace it")
    p.parent.mkdir(parents=True, exist_ok=True)
    flags = os.O_WRONLY | os.O_CREAT | os.O_TRUNC | (0 if force else os.O_EXCL)
    try:
        fd = os.open(p, flags, 0o600)
    except OSError as exc:
        raise click.ClickException(f"cannot write {p}: {exc.strerror or exc}") from None
    with os.fdopen(fd, "w", encoding="ascii") as f:
        f.write(new_secret_text() + "\n")
    os.chmod(p, 0o600)
    click.echo(f"wrote a new session key to {p} (mode 0600)")
