"""``sealgate policy``: test, export and bundle the Rego policies."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from sealgate.cli._app import cli
from sealgate.errors import ExitCode


def _configured_policies() -> list[Path]:
    """With no PATHS: what the gate loads (the built-in policies and the repository's own
    folders from `.sealgate.yaml`)."""
    from sealgate.gate import find_root, load_config

    return load_config(find_root(Path.cwd())).policy_roots


@cli.group()
def policy() -> None:
    """Test, inspect and package the Rego policies."""


@policy.command("test")
@click.argument("paths", nargs=-1, type=click.Path(path_type=Path))
@click.option(
    "--coverage-min",
    type=click.FloatRange(0, 100),
    help="Fail when total rule coverage (percent of policy lines) is below this.",
)
@click.option("-v", "--verbose", is_flag=True, help="List passing tests too.")
def policy_test(paths: tuple[Path, ...], coverage_min: float | None, verbose: bool) -> None:
    """Run every test_* rule in *_test.rego (like `opa test`), the samples, and coverage."""
    from sealgate.policy._loader import load_policy_set
    from sealgate.policy._testing import run_policy_tests

    policy_set = load_policy_set(list(paths) or _configured_policies())
    report = run_policy_tests(policy_set)
    for outcome in report.outcomes:
        if not outcome.passed:
            click.echo(f"FAIL {outcome.file}:{outcome.line}: {outcome.name}: {outcome.reason}")
        elif verbose:
            click.echo(f"PASS {outcome.file}:{outcome.line}: {outcome.name}")
    click.echo("coverage:")
    for entry in report.coverage:
        click.echo(f"  {entry.percent:6.1f}%  {entry.file} ({entry.covered}/{entry.total} lines)")
    click.echo(f"  {report.total_coverage:6.1f}%  total")
    below = coverage_min is not None and report.total_coverage < coverage_min
    if below:
        click.echo(
            f"coverage {report.total_coverage:.1f}% is below --coverage-min {coverage_min:g}%"
        )
    click.echo(
        f"tests: {sum(o.passed for o in report.tests)} passed, "
        f"{sum(not o.passed for o in report.tests)} failed; samples and conventions: "
        f"{sum(o.passed for o in report.samples + report.conventions)} passed, "
        f"{sum(not o.passed for o in report.samples + report.conventions)} failed"
    )
    click.echo(f"{report.passed} passed, {report.failed} failed")
    if report.failed or below:
        sys.exit(int(ExitCode.DENIED))


@policy.command("export-gatekeeper")
@click.argument("paths", nargs=-1, type=click.Path(path_type=Path))
@click.option(
    "--out",
    required=True,
    type=click.Path(path_type=Path, file_okay=False),
    help="Folder for templates/*.yaml and constraints/*.yaml.",
)
def policy_export_gatekeeper(paths: tuple[Path, ...], out: Path) -> None:
    """Write Gatekeeper ConstraintTemplates and Constraints for the Kubernetes policies."""
    from sealgate.policy._gatekeeper import export_policies, write_policies
    from sealgate.policy._loader import load_policy_set

    policies = export_policies(load_policy_set(list(paths) or _configured_policies()))
    for path in write_policies(policies, out):
        click.echo(str(path))


@policy.command("bundle")
@click.argument("paths", nargs=-1, type=click.Path(path_type=Path))
@click.option("--out", required=True, type=click.Path(path_type=Path, dir_okay=False))
@click.option(
    "--sign-key", required=True, type=click.Path(path_type=Path), help="ECDSA P-256 private key."
)
@click.option(
    "--key-id",
    default="sealgate",
    show_default=True,
    help="Key id OPA looks up in its `keys:` configuration.",
)
@click.option(
    "--scope",
    default="write",
    show_default=True,
    help="Signature scope claim; OPA's `signing.scope` must equal it.",
)
@click.option("--revision", help="Bundle revision  [default: the SHA-256 of the content]")
def policy_bundle(
    paths: tuple[Path, ...],
    out: Path,
    sign_key: Path,
    key_id: str,
    scope: str,
    revision: str | None,
) -> None:
    """Build a signed OPA bundle (.manifest, policies, data, .signatures.json)."""
    from sealgate.policy._bundle import build_bundle
    from sealgate.policy._loader import load_policy_set
    from sealgate.sealing import load_signing_private_key

    policy_set = load_policy_set(list(paths) or _configured_policies())
    summary = build_bundle(
        policy_set,
        out,
        load_signing_private_key(sign_key),
        key_id=key_id,
        scope=scope,
        revision=revision,
    )
    click.echo(
        f"wrote {out}: revision {summary.revision}, {len(summary.files)} files, key id {key_id}"
    )


@policy.command("verify-bundle")
@click.argument("bundle", type=click.Path(path_type=Path, dir_okay=False))
@click.option(
    "--key", required=True, type=click.Path(path_type=Path), help="ECDSA P-256 public key."
)
@click.option(
    "--key-id",
    default="sealgate",
    show_default=True,
    help="The configured key id (OPA's `signing.keyid`); a signature naming another is refused.",
)
@click.option(
    "--scope",
    default="write",
    show_default=True,
    help="The configured scope (OPA's `signing.scope`); the signature's must equal it.",
)
@click.option(
    "--state",
    type=click.Path(path_type=Path, dir_okay=False),
    help="Revisions accepted so far: refuse an older one, record a new one.",
)
def policy_verify_bundle(
    bundle: Path, key: Path, key_id: str, scope: str, state: Path | None
) -> None:
    """Check a bundle's signature, key id, scope and every file against it."""
    from sealgate._paths import read_bounded
    from sealgate.policy._bundle import verify_bundle
    from sealgate.policy._bundle_state import accept_revision
    from sealgate.sealing._signing_keys import parse_signing_public_key

    public_key = parse_signing_public_key(read_bounded(key, 64 * 1024, "public key"), str(key))
    summary = verify_bundle(bundle, public_key, key_id=key_id, scope=scope)
    if state is not None:
        accept_revision(state, summary.revision)
    click.echo(
        f"verified {bundle}: revision {summary.revision}, roots {', '.join(summary.roots)}, "
        f"{len(summary.files)} files signed by key id {summary.key_id}"
    )
