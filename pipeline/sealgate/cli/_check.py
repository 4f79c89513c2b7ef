"""``sealgate check``: the pull-request gate."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from sealgate.cli._app import cli
from sealgate.cli._options import engine_options
from sealgate.cli._output import (
    emit_reports,
)
from sealgate.errors import ExitCode, InputError


@cli.command()
@click.argument("paths", nargs=-1, type=click.Path(path_type=Path))
@click.option(
    "--policies",
    "policy_dir",
    type=click.Path(path_type=Path),
    default=Path("policies"),
    show_default=True,
    help="Policy tree to load.",
)
@click.option(
    "--waivers",
    "waivers_path",
    type=click.Path(path_type=Path),
    help="Waivers file  [default: policies/data/waivers.yaml when present]",
)
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
    help="A `pulumi preview --json` or `sealgate plan` file to gate (repeatable).",
)
@engine_options
@click.option(
    "--format",
    "formats",
    multiple=True,
    type=click.Choice(["text", "json", "sarif", "junit", "markdown", "github"]),
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
    "--fail-on",
    type=click.Choice(["critical", "high", "medium", "low", "info"]),
    default="low",
    show_default=True,
    help="Lowest severity that fails the gate.",
)
@click.option(
    "--changed-only",
    metavar="BASE",
    help="Check only files changed since this git ref (e.g. origin/main); waivers are still checked.",
)
@click.option(
    "--jobs",
    type=click.IntRange(min=1),
    help="Worker processes for large runs (embedded engine)  [default: the usable cores]",
)
def check(
    paths: tuple[Path, ...],
    policy_dir: Path,
    waivers_path: Path | None,
    forced_kind: str | None,
    previews: tuple[Path, ...],
    engine: str,
    opa_url: str | None,
    opa_push: bool,
    formats: tuple[str, ...],
    outputs: tuple[Path, ...],
    fail_on: str,
    changed_only: str | None,
    jobs: int | None,
) -> None:
    """Gate files and folders (default: this repository) against every policy."""
    from sealgate.inputs._discovery import Candidate, discover, load_inputs
    from sealgate.inputs._kinds import ParseContext
    from sealgate.inputs._waivers import load_waivers_file
    from sealgate.policy._decision import Severity
    from sealgate.policy._engine import create_engine
    from sealgate.policy._gate import run_gate
    from sealgate.policy._loader import load_policy_set

    policy_set = load_policy_set([policy_dir])
    decision_engine = create_engine(engine, policy_set, opa_url=opa_url, push_policies=opa_push)
    context = ParseContext()
    if jobs is None:
        from sealgate.policy._parallel import default_workers

        jobs = default_workers()
    waivers_file = load_waivers_file(waivers_path, context.today)
    if forced_kind:
        if not paths:
            raise click.UsageError("--kind needs the files to check")
        if forced_kind not in policy_set.kinds:
            known = ", ".join(sorted(policy_set.kinds))
            raise click.UsageError(
                f"--kind {forced_kind!r}: no loaded policy reads it (known: {known})"
            )
        for path in paths:
            if not path.is_file():
                raise InputError(f"{path}: --kind takes files, not folders")
        candidates = [Candidate(forced_kind, path) for path in paths]
    elif previews and not paths:
        candidates = []
    else:
        candidates = discover(paths or (Path.cwd(),))
    if changed_only:
        from sealgate.inputs._discovery import changed_files, only_changed

        changed = changed_files(changed_only, Path.cwd())
        candidates = only_changed(candidates, changed)
    candidates += [Candidate("pulumi-plan", path) for path in previews]
    if engine == "embedded":
        from sealgate.policy._parallel import gate_items

        items = gate_items(policy_set, candidates, context, workers=jobs)
    else:
        items = load_inputs(candidates, context)
    result = run_gate(
        policy_set,
        decision_engine,
        items,
        waivers_file=waivers_file,
        fail_on=Severity(fail_on),
        report_stale_waivers=not changed_only,
    )
    emit_reports(result, formats, outputs)
    if result.input_errors:
        sys.exit(int(ExitCode.INPUT))
    sys.exit(int(ExitCode.OK if result.passed else ExitCode.DENIED))
