"""``sealgate plan | review``: the platform program offline, and a preview review."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import click

from sealgate.cli._app import cli
from sealgate.cli._check import _config_options, gate_config
from sealgate.cli._output import write_atomically
from sealgate.errors import ExitCode


@cli.command("plan")
@click.option("--stack", required=True, help="Stack name: reads Pulumi.<stack>.yaml.")
@click.option(
    "--out",
    "out_path",
    required=True,
    type=click.Path(path_type=Path, dir_okay=False),
    help="Where to write the plan (the shape of `pulumi preview --json`).",
)
@click.option(
    "--project-dir",
    type=click.Path(path_type=Path, file_okay=False),
    default=Path(),
    show_default=True,
    help="Folder holding Pulumi.yaml and the stack files.",
)
def plan_command(stack: str, out_path: Path, project_dir: Path) -> None:
    """Run the platform program under the mock runtime (no CLI, no Azure) and write its plan."""
    import json

    from sealgate.gate._stacks import plan_platform_stack

    plan = plan_platform_stack(project_dir, stack)
    write_atomically(out_path, json.dumps(plan, indent=2, sort_keys=True) + "\n")
    click.echo(f"plan of stack {stack}: {len(plan['steps'])} resources -> {out_path}")


@cli.command("review")
@click.option("--stack", required=True, help="Stack to review (Pulumi.<stack>.yaml).")
@click.option(
    "--preview",
    type=click.Path(path_type=Path, dir_okay=False),
    help="Its `pulumi preview --json` or `sealgate plan` file  [default: build the plan offline]",
)
@click.option("--against", help="Another stack whose posture is shown side by side.")
@click.option(
    "--against-preview",
    type=click.Path(path_type=Path, dir_okay=False),
    help="The other stack's plan file  [default: build it offline]",
)
@click.option("--out", "out_path", required=True, type=click.Path(path_type=Path, dir_okay=False))
@click.option(
    "--html", "html_path", type=click.Path(path_type=Path, dir_okay=False), help="Also as HTML."
)
@click.option(
    "--project-dir",
    type=click.Path(path_type=Path, file_okay=False),
    default=Path(),
    show_default=True,
    help="Folder holding Pulumi.yaml and the stack files.",
)
@_config_options
@click.pass_context
def review_command(ctx: click.Context, /, **params: Any) -> None:
    """Review a stack's plan: changes per component, posture against another stack, gate
    findings and a diagram. Exit 1 when the gate fails on the plan."""
    from sealgate.gate import ReviewRequest, run_review

    config = gate_config(ctx, params)
    outcome = run_review(
        config,
        ReviewRequest(
            stack=params["stack"],
            project_dir=params["project_dir"],
            preview=params["preview"],
            against=params["against"],
            against_preview=params["against_preview"],
            html=params["html_path"] is not None,
            opa_push=params["opa_push"],
        ),
    )
    write_atomically(params["out_path"], outcome.markdown)
    if params["html_path"] is not None and outcome.html is not None:
        write_atomically(params["html_path"], outcome.html)
    verdict = "PASS" if outcome.result.passed else "FAIL"
    click.echo(f"review of {params['stack']}: gate {verdict} -> {params['out_path']}")
    if outcome.result.input_errors:
        sys.exit(int(ExitCode.INPUT))
    sys.exit(int(ExitCode.OK if outcome.result.passed else ExitCode.DENIED))
