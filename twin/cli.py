"""The ``twin`` command. Subcommands are plugins (entry-point group ``twin.commands``)
so that ``twin`` never imports the packages built on top of it."""

from __future__ import annotations

import sys
from importlib.metadata import entry_points

import click

from twin.errors import ConfigError, TwinError, UrlError

__all__ = ["main", "cli"]

_GROUP = "twin.commands"


class _PluginGroup(click.Group):
    """Loads a subcommand only when it is asked for (dash is slow to import)."""

    def _eps(self) -> dict[str, object]:
        return {ep.name: ep for ep in entry_points(group=_GROUP)}

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted(self._eps())

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        ep = self._eps().get(cmd_name)
        if ep is None:
            return None
        try:
            cmd = ep.load()  # type: ignore[attr-defined]
        except ImportError as exc:
            reason = f"{exc}"

            @click.command(cmd_name, help=f"(unavailable: {reason})")
            def _broken() -> None:
                raise click.ClickException(f"'twin {cmd_name}' cannot load: {reason}")

            return _broken
        return cmd if isinstance(cmd, click.Command) else None

    def invoke(self, ctx: click.Context) -> object:
        try:
            return super().invoke(ctx)
        except (ConfigError, UrlError) as exc:
            click.echo(f"error: {exc}", err=True)
            sys.exit(2)
        except TwinError as exc:
            click.echo(f"error: {exc}", err=True)
            sys.exit(1)


@click.group(cls=_PluginGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="sandan-twin")
def cli() -> None:
    """Live digital twin of an industrial complex.

    \b
    Quick start:   twin demo
    Configuration: --broker/TWIN_BROKER, --historian/TWIN_HISTORIAN, --config/TWIN_CONFIG
    """


def main() -> None:
    cli()


if __name__ == "__main__":
    main()
