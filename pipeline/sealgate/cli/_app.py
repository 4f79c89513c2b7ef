"""The root ``sealgate`` command group; each command group lives in a module of its own."""

from __future__ import annotations

import os
import platform
from importlib import import_module

import click

from sealgate import __version__

# anyhow (inside the embedded engine) appends a Rust backtrace to every error message when
# RUST_BACKTRACE is set; users need the one-line reason, not the engine's stack.
os.environ["RUST_LIB_BACKTRACE"] = "0"

# What `--version` reports besides sealgate itself: the engines and formats decisions rest on.
_COMPONENTS = {
    "embedded engine (regorus)": ("celine-regorus", "gate"),
    "OPA client (urllib3)": ("urllib3", None),
    "model signing (OMS)": ("model-signing", None),
    "model scanning (picklescan)": ("picklescan", None),
    "Pulumi SDK": ("pulumi", "infra"),
    "TPM (tpm2-pytss)": ("tpm2-pytss", "tpm"),
}


def versions_text() -> str:
    from importlib.metadata import PackageNotFoundError, version  # only --version needs it

    lines = [f"sealgate {__version__} (Python {platform.python_version()})"]
    for label, (distribution, extra) in _COMPONENTS.items():
        try:
            found = version(distribution)
        except PackageNotFoundError:
            found = f"not installed (pip install 'sealgate[{extra}]')" if extra else "missing"
        lines.append(f"  {label}: {found}")
    return "\n".join(lines)


def _print_versions(ctx: click.Context, _param: click.Parameter, value: bool) -> None:
    if value and not ctx.resilient_parsing:
        click.echo(versions_text())
        ctx.exit()


# The module that defines each command: a command line imports only the one it names (the
# gate's engine and parsers cost more start-up time than `seal` spends sealing a small model).
COMMAND_MODULES = {
    "check": "_check",
    "config": "_check",
    "device": "_devices",
    "keyserver": "_keyserver",
    "plan": "_platform",
    "review": "_platform",
    "policy": "_policy",
    "push": "_promotion",
    "promote": "_promotion",
    "approve": "_promotion",
    "evidence": "_promotion",
    "status": "_promotion",
    "pull": "_promotion",
    "audit": "_promotion",
    "scan": "_scan",
    "keys": "_sealing",
    "seal": "_sealing",
    "verify": "_sealing",
    "unseal": "_sealing",
    "trust": "_trust",
}


class _LazyGroup(click.Group):
    """Imports a command's module when the command is looked up; listing imports them all."""

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        if cmd_name not in self.commands and cmd_name in COMMAND_MODULES:
            import_module(f"sealgate.cli.{COMMAND_MODULES[cmd_name]}")
            if cmd_name in self.commands:
                _show_envvars(self.commands[cmd_name])
        return super().get_command(ctx, cmd_name)

    def list_commands(self, ctx: click.Context) -> list[str]:
        load_all_commands()
        return super().list_commands(ctx)


def load_all_commands() -> None:
    for module in sorted(set(COMMAND_MODULES.values())):
        import_module(f"sealgate.cli.{module}")
    show_environment_variables(cli)


@click.group(
    cls=_LazyGroup,
    context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100},
)
@click.option(
    "--version",
    is_flag=True,
    expose_value=False,
    is_eager=True,
    callback=_print_versions,
    help="Show the version of sealgate and of its engines, and exit.",
)
def cli() -> None:
    """Seal, promote and unseal AI models behind policy gates; gate infrastructure and containers.

    Exit codes: 0 pass, 1 policy violations or denial, 2 usage or input error,
    3 a service did not answer (retry later).
    Set SEALGATE_DEBUG=1 to see a traceback instead of the one-line error.
    """


def show_environment_variables(group: click.Group) -> None:
    """Every option that reads an environment variable says so in its help."""
    for command in group.commands.values():
        _show_envvars(command)


def _show_envvars(command: click.Command) -> None:
    if isinstance(command, click.Group):
        show_environment_variables(command)
    for param in command.params:
        if isinstance(param, click.Option) and param.envvar:
            param.show_envvar = True
