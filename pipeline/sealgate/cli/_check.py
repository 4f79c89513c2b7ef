"""``sealgate check`` (the pull-request gate) and ``sealgate config show``."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from sealgate._paths import display_path, reported_from
from sealgate.cli._app import cli
from sealgate.cli._options import F, engine_options, policies_option
from sealgate.cli._output import emit_reports
from sealgate.errors import ExitCode
from sealgate.report import FORMATS

if TYPE_CHECKING:
    from sealgate.gate import GateConfig
    from sealgate.inputs._discovery import NotGated

SEVERITIES = ["critical", "high", "medium", "low", "info"]

# Click parameter -> configuration setting, for the options that override `.sealgate.yaml`.
_SETTING_OF = {
    "policies": "policies",
    "builtin_policies": "builtin_policies",
    "data_files": "data",
    "enable": "enable",
    "disable": "disable",
    "fail_on": "fail_on",
    "waivers_path": "waivers",
    "exclude": "exclude",
    "extend_exclude": "extend_exclude",
    "engine": "engine",
    "opa_url": "opa_url",
    "opa_timeout": "opa_timeout",
    "opa_deadline": "opa_deadline",
    "opa_max_answer": "opa_max_answer",
    "jobs": "jobs",
}


def _config_options(function: F) -> F:
    """The options every gate command shares with ``.sealgate.yaml`` (flags win)."""
    options = [
        click.option(
            "--config",
            "config_file",
            type=click.Path(path_type=Path, dir_okay=False),
            help="Configuration file  [default: .sealgate.yaml at the repository root]",
        ),
        click.option("--no-config", is_flag=True, help="Ignore .sealgate.yaml."),
        policies_option,
        click.option(
            "--no-builtin-policies",
            "builtin_policies",
            flag_value=False,
            default=None,
            help="Load only the --policies folders.",
        ),
        click.option(
            "--data",
            "data_files",
            multiple=True,
            type=click.Path(path_type=Path, dir_okay=False),
            help="Policy data merged over the built-in data: STEM.yaml over data.config.STEM (repeatable).",
        ),
        click.option(
            "--enable", multiple=True, metavar="RULE", help="Only these rule ids or globs apply."
        ),
        click.option(
            "--disable", multiple=True, metavar="RULE", help="Rule ids or globs that do not apply."
        ),
        click.option(
            "--fail-on",
            type=click.Choice(SEVERITIES),
            help="Lowest severity that fails the gate  [default: low]",
        ),
        click.option(
            "--waivers",
            "waivers_path",
            type=click.Path(path_type=Path, dir_okay=False),
            help="Waivers file  [default: policies/data/waivers.yaml under the root, if present]",
        ),
        engine_options,
    ]
    for option in reversed(options):
        function = option(function)
    return function


def gate_config(ctx: click.Context, params: dict[str, Any]) -> GateConfig:
    """The effective configuration: defaults, the file, then the flags and variables given."""
    from sealgate.gate import Override, find_root, load_config
    from sealgate.policy._decision import Severity

    overrides: dict[str, Override] = {}
    for parameter, setting in _SETTING_OF.items():
        if parameter not in params:
            continue
        source = ctx.get_parameter_source(parameter)
        value = params[parameter]
        if source is None or source.name in ("DEFAULT", "DEFAULT_MAP") or value in (None, ()):
            continue
        if setting == "fail_on":
            value = Severity(value)
        elif isinstance(value, tuple):
            value = tuple(value)
        option = next(p for p in ctx.command.params if p.name == parameter)
        given = (
            f"${option.envvar}"
            if source.name == "ENVIRONMENT" and isinstance(option, click.Option)
            else f"--{setting.replace('_', '-')}"
        )
        overrides[setting] = Override(value, given)
    root = find_root(Path.cwd())
    return load_config(
        root,
        config_file=params.get("config_file"),
        read_file=not params.get("no_config"),
        overrides=overrides,
    )


@cli.command()
@click.argument("paths", nargs=-1, type=click.Path(path_type=Path))
@click.option(
    "--kind",
    "forced_kind",
    metavar="KIND",
    help="Treat every file in PATHS as this input kind instead of detecting it.",
)
@click.option(
    "--preview",
    "previews",
    multiple=True,
    type=click.Path(path_type=Path, dir_okay=False),
    help="A `pulumi preview --json --show-sames` or `sealgate plan` file to gate (repeatable).",
)
@_config_options
@click.option(
    "--format",
    "formats",
    multiple=True,
    type=click.Choice(list(FORMATS)),
    help="Report format; repeat for several, each paired with an --output in order.",
)
@click.option(
    "--output",
    "outputs",
    multiple=True,
    type=click.Path(path_type=Path, dir_okay=False),
    help="Write the matching --format here instead of standard output.",
)
@click.option(
    "--changed-only",
    metavar="BASE",
    help="Check only files changed since this git ref (e.g. origin/main); waivers are still checked.",
)
@click.option(
    "--exclude",
    multiple=True,
    metavar="FOLDER",
    help="Folder name (or a root-relative glob with a /) a scan skips; replaces the default list (repeatable).",
)
@click.option(
    "--extend-exclude",
    multiple=True,
    metavar="FOLDER",
    help="Like --exclude, but added to the list (repeatable).",
)
@click.option(
    "--ignore-unknown",
    is_flag=True,
    help="Skip named files that are not a kind sealgate checks (for hooks that pass every changed file).",
)
@click.option(
    "--jobs",
    type=click.IntRange(min=1),
    envvar="SEALGATE_JOBS",
    help="Worker processes for large runs (embedded engine)  [default: the usable cores]",
)
@click.option("-q", "--quiet", is_flag=True, help="Print only the verdict and errors.")
@click.option("-v", "--verbose", is_flag=True, help="Also list every file that was not gated.")
@click.pass_context
def check(ctx: click.Context, /, **params: Any) -> None:
    """Gate files and folders (default: this repository) against every policy.

    Settings come from .sealgate.yaml at the repository root (the git top level); flags win.
    Paths in reports and waiver targets are relative to the repository root.
    """
    from sealgate.gate import CheckRequest, run_check

    if params["quiet"] and params["verbose"]:
        raise click.UsageError("-q and -v exclude each other")
    config = gate_config(ctx, params)
    request = CheckRequest(
        paths=params["paths"],
        previews=params["previews"],
        forced_kind=params["forced_kind"],
        changed_only=params["changed_only"],
        ignore_unknown=params["ignore_unknown"],
        opa_push=params["opa_push"],
    )
    outcome = run_check(config, request)
    with reported_from(config.root):
        _notes(outcome.not_gated, quiet=params["quiet"], verbose=params["verbose"])
        emit_reports(outcome.result, params["formats"], params["outputs"], quiet=params["quiet"])
    result = outcome.result
    if result.input_errors:
        sys.exit(int(ExitCode.INPUT))
    sys.exit(int(ExitCode.OK if result.passed else ExitCode.DENIED))


def _notes(not_gated: list[NotGated], *, quiet: bool, verbose: bool) -> None:
    """What was not gated, on standard error: foreign stacks always, other files as a count
    (each with its reason under -v)."""
    from sealgate.inputs._discovery import FOREIGN_STACK

    if quiet:
        return
    for item in not_gated:
        if verbose or item.reason == FOREIGN_STACK:
            click.echo(f"not gated: {display_path(item.path)}: {item.reason}", err=True)
    if not_gated and not verbose:
        files = "1 file" if len(not_gated) == 1 else f"{len(not_gated)} files"
        click.echo(f"{files} not gated (-v lists them with the reason)", err=True)


@cli.group()
def config() -> None:
    """The gate's effective configuration."""


@config.command("show")
@_config_options
@click.option(
    "--exclude", multiple=True, metavar="FOLDER", help="As for check: replaces the default list."
)
@click.option("--extend-exclude", multiple=True, metavar="FOLDER", help="As for check.")
@click.option("--jobs", type=click.IntRange(min=1), envvar="SEALGATE_JOBS")
@click.option("--json", "json_output", is_flag=True, help="Print JSON.")
@click.pass_context
def config_show(ctx: click.Context, /, **params: Any) -> None:
    """Print every setting, its value and where it came from (default, file:line, flag, variable)."""
    import json

    settings = gate_config(ctx, params)
    shown = settings.as_dict()
    if params["json_output"]:
        document = {
            "root": str(settings.root),
            "config_file": str(settings.config_file) if settings.config_file else None,
            "settings": shown,
        }
        click.echo(json.dumps(document, indent=2))
        return
    click.echo(f"root: {settings.root}")
    click.echo(f"config file: {settings.config_file or '(none)'}")
    width = max(len(name) for name in shown)
    for name, entry in shown.items():
        value = entry["value"]
        text = ", ".join(value) if isinstance(value, list) else str(value)
        click.echo(f"{name:<{width}}  {text or '(none)'}  [{entry['source']}]")
