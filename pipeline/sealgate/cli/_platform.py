"""``sealgate plan | review``: the infrastructure program offline."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from sealgate.cli._app import cli
from sealgate.cli._options import engine_options
from sealgate.cli._output import (
    write_atomically,
)
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
    """Run the Pulumi program under the mock runtime (no CLI, no Azure) and write its plan."""
    import json

    from sealgate.platform._plan import build_plan

    plan = build_plan(project_dir, stack)
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
    "--policies",
    "policy_dir",
    type=click.Path(path_type=Path),
    default=Path("policies"),
    show_default=True,
)
@click.option(
    "--waivers",
    "waivers_path",
    type=click.Path(path_type=Path),
    help="Waivers file  [default: policies/data/waivers.yaml when present]",
)
@click.option(
    "--project-dir",
    type=click.Path(path_type=Path, file_okay=False),
    default=Path(),
    show_default=True,
    help="Folder holding Pulumi.yaml and the stack files.",
)
@engine_options
def review_command(
    stack: str,
    preview: Path | None,
    against: str | None,
    against_preview: Path | None,
    out_path: Path,
    html_path: Path | None,
    policy_dir: Path,
    waivers_path: Path | None,
    project_dir: Path,
    engine: str,
    opa_url: str | None,
    opa_push: bool,
) -> None:
    """Review a stack's plan: changes per component, posture against another stack, gate
    findings and a diagram. Exit 1 when the gate fails on the plan."""
    from sealgate.inputs._waivers import load_waivers_file, today_utc
    from sealgate.policy._engine import create_engine
    from sealgate.policy._loader import load_policy_set
    from sealgate.report import _review as review
    from sealgate.report._posture import production_bar

    policy_set = load_policy_set([policy_dir])
    bar = production_bar(policy_set.data.get("config", {}))
    main_plan = review.load_plan(stack, preview, project_dir)
    if against_preview is not None and against is None:
        raise click.UsageError("--against-preview needs --against STACK")
    other = review.load_plan(against, against_preview, project_dir) if against else None
    waivers_file = load_waivers_file(waivers_path, today_utc())
    decision_engine = create_engine(engine, policy_set, opa_url=opa_url, push_policies=opa_push)
    result = review.gate_plan(main_plan, policy_set, decision_engine, waivers_file)
    text = review.render_review(main_plan, result, other, bar)
    page = review.render_html(text, f"Preview review: {stack}") if html_path else None
    write_atomically(out_path, text)
    if html_path is not None and page is not None:
        write_atomically(html_path, page)
    verdict = "PASS" if result.passed else "FAIL"
    click.echo(f"review of {stack}: gate {verdict} -> {out_path}")
    if result.input_errors:
        sys.exit(int(ExitCode.INPUT))
    sys.exit(int(ExitCode.OK if result.passed else ExitCode.DENIED))
