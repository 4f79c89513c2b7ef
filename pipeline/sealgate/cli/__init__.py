"""The ``sealgate`` command: wires arguments to the library, prints, and sets the exit code.

Nothing below this module prints or exits. Exit codes: 0 pass, 1 policy violations or a
decision that failed closed, 2 usage or input error.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

import click

from sealgate import __version__
from sealgate.errors import ExitCode, InputError, SealgateError

# anyhow (inside the embedded engine) appends a Rust backtrace to every error message when
# RUST_BACKTRACE is set; users need the one-line reason, not the engine's stack.
os.environ["RUST_LIB_BACKTRACE"] = "0"


def _fail(message: str, code: ExitCode) -> None:
    click.echo(f"sealgate: error: {message}", err=True)
    sys.exit(int(code))


@click.group(context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100})
@click.version_option(__version__, prog_name="sealgate")
def cli() -> None:
    """Seal, promote and unseal AI models behind policy gates; gate infrastructure and containers."""


def _write_atomically(path: Path, text: str) -> None:
    """Write a report so that a reader never sees half of it."""
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_name(f".{path.name}.tmp-{os.getpid()}")
    try:
        temporary.write_text(text, encoding="utf-8")
        temporary.replace(path)
    except OSError as exc:
        temporary.unlink(missing_ok=True)
        raise InputError(f"{path}: cannot write report: {exc.strerror or exc}") from exc


def _emit_reports(result: object, formats: tuple[str, ...], outputs: tuple[Path, ...]) -> None:
    from sealgate.report import render

    formats = formats or ("text",)
    if len(outputs) > len(formats):
        raise click.UsageError("more --output than --format options")
    to_stdout = formats[len(outputs) :]
    if len(to_stdout) > 1:
        raise click.UsageError("only one --format may go to standard output; add --output FILE")
    rendered = [render(name, result) for name in formats]  # render all before writing any
    for text, path in zip(rendered, outputs, strict=False):
        _write_atomically(path, text)
    if to_stdout:
        click.echo(rendered[-1], nl=False)


_ENGINE_OPTIONS = [
    click.option(
        "--engine",
        type=click.Choice(["embedded", "opa"]),
        default="embedded",
        show_default=True,
        envvar="SEALGATE_ENGINE",
        help="Decision engine: embedded regorus, or an OPA server.",
    ),
    click.option(
        "--opa-url", envvar="SEALGATE_OPA_URL", help="OPA server root, e.g. http://127.0.0.1:8181."
    ),
    click.option(
        "--opa-push",
        is_flag=True,
        help="Upload the local policies to the OPA server first (development; production loads signed bundles).",
    ),
]


def _engine_options(function):  # type: ignore[no-untyped-def]
    for option in reversed(_ENGINE_OPTIONS):
        function = option(function)
    return function


# --------------------------------------------------------------------------------------------
# check: the pull-request gate


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
@_engine_options
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
    _emit_reports(result, formats, outputs)
    if result.input_errors:
        sys.exit(int(ExitCode.INPUT))
    sys.exit(int(ExitCode.OK if result.passed else ExitCode.DENIED))


# --------------------------------------------------------------------------------------------
# policy: the Rego policy core


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

    policy_set = load_policy_set(list(paths) or [Path("policies")])
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

    policies = export_policies(load_policy_set(list(paths) or [Path("policies")]))
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
@click.option("--revision", help="Bundle revision  [default: the SHA-256 of the content]")
def policy_bundle(
    paths: tuple[Path, ...], out: Path, sign_key: Path, key_id: str, revision: str | None
) -> None:
    """Build a signed OPA bundle (.manifest, policies, data, .signatures.json)."""
    from sealgate.policy._bundle import build_bundle
    from sealgate.policy._loader import load_policy_set
    from sealgate.sealing import load_signing_private_key

    policy_set = load_policy_set(list(paths) or [Path("policies")])
    summary = build_bundle(
        policy_set, out, load_signing_private_key(sign_key), key_id=key_id, revision=revision
    )
    click.echo(
        f"wrote {out}: revision {summary.revision}, {len(summary.files)} files, key id {key_id}"
    )


@policy.command("verify-bundle")
@click.argument("bundle", type=click.Path(path_type=Path, dir_okay=False))
@click.option(
    "--key", required=True, type=click.Path(path_type=Path), help="ECDSA P-256 public key."
)
@click.option("--key-id", help="Require this key id in the signature.")
def policy_verify_bundle(bundle: Path, key: Path, key_id: str | None) -> None:
    """Check a bundle's signature and every file against it."""
    from sealgate._paths import read_bounded
    from sealgate.policy._bundle import verify_bundle
    from sealgate.sealing._signing_keys import parse_signing_public_key

    public_key = parse_signing_public_key(read_bounded(key, 64 * 1024, "public key"), str(key))
    summary = verify_bundle(bundle, public_key, key_id=key_id)
    click.echo(
        f"verified {bundle}: revision {summary.revision}, roots {', '.join(summary.roots)}, "
        f"{len(summary.files)} files signed by key id {summary.key_id}"
    )


# --------------------------------------------------------------------------------------------
# sealing: keys, seal, verify, unseal


def _progress_enabled(json_output: bool) -> bool:
    return not json_output and sys.stderr.isatty() and os.environ.get("CI", "").lower() != "true"


class _ProgressBars:
    """Draws one rich progress bar per phase on stderr; a no-op when not on a terminal."""

    def __init__(self, enabled: bool) -> None:
        self._progress = None
        self._tasks: dict[str, object] = {}
        if enabled:
            from rich.console import Console
            from rich.progress import (
                BarColumn,
                DownloadColumn,
                Progress,
                TimeRemainingColumn,
                TransferSpeedColumn,
            )

            self._progress = Progress(
                "[progress.description]{task.description}",
                BarColumn(),
                DownloadColumn(),
                TransferSpeedColumn(),
                TimeRemainingColumn(),
                console=Console(stderr=True),
            )

    def __enter__(self) -> _ProgressBars:
        if self._progress is not None:
            self._progress.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        if self._progress is not None:
            self._progress.stop()

    def __call__(self, phase: str, done: int, total: int) -> None:
        if self._progress is None:
            return
        if phase not in self._tasks:
            self._tasks[phase] = self._progress.add_task(phase, total=total)
        self._progress.update(self._tasks[phase], completed=done, total=total)  # type: ignore[arg-type]


def _emit_summary(
    summary: dict[str, object], json_output: bool, line: str, err: bool = False
) -> None:
    import json

    if json_output:
        click.echo(json.dumps(summary, indent=2, sort_keys=True))
    else:
        click.echo(line, err=err)


def _human_bytes(count: int) -> str:
    for unit in ("B", "KiB", "MiB", "GiB"):
        if count < 1024 or unit == "GiB":
            return f"{count:.0f} {unit}" if unit == "B" else f"{count:.1f} {unit}"
        count /= 1024  # type: ignore[assignment]
    return f"{count} B"


@cli.group()
def keys() -> None:
    """Generate signing and recipient key pairs."""


@keys.command("generate")
@click.argument("kind", type=click.Choice(["signing", "recipient"]))
@click.option(
    "--out",
    "prefix",
    required=True,
    type=click.Path(path_type=Path),
    help="Writes PREFIX.key (0600, never printed) and PREFIX.pub.",
)
@click.option("--json", "json_output", is_flag=True, help="Print a JSON summary.")
def keys_generate(kind: str, prefix: Path, json_output: bool) -> None:
    """Generate a signing key (ECDSA P-256) or a recipient key (ML-KEM-768 + X25519 HPKE)."""
    from sealgate.sealing import generate_recipient_key, generate_signing_key, parse_recipient
    from sealgate.sealing._signing_keys import parse_signing_public_key, signing_key_id

    if kind == "signing":
        paths = generate_signing_key(prefix)
        key_id = signing_key_id(
            parse_signing_public_key(paths.public_key.read_bytes(), str(paths.public_key))
        )
    else:
        paths = generate_recipient_key(prefix)
        key_id = parse_recipient(f"local:{paths.public_key}").key_id
    _emit_summary(
        {
            "kind": kind,
            "private_key": str(paths.private_key),
            "public_key": str(paths.public_key),
            "key_id": key_id,
        },
        json_output,
        f"wrote {paths.private_key} (private, 0600) and {paths.public_key}; key id {key_id}",
    )


@cli.command()
@click.argument("model_dir", type=click.Path(path_type=Path))
@click.option("--name", required=True, help="Model name bound into the signed seal header.")
@click.option("--version", "model_version", required=True, help="Model version, likewise.")
@click.option(
    "--sign-key",
    required=True,
    type=click.Path(path_type=Path),
    help="ECDSA P-256 private key (PEM) that signs the header and model.sig.",
)
@click.option(
    "--recipient",
    "recipients",
    multiple=True,
    required=True,
    metavar="TYPE:VALUE",
    help="Who may unseal, e.g. local:rcpt.pub; repeatable.",
)
@click.option(
    "--out",
    "out_dir",
    required=True,
    type=click.Path(path_type=Path),
    help="Sealed directory to create (must not exist, or be empty).",
)
@click.option(
    "--chunk-size",
    type=click.IntRange(16, 64 * 1024 * 1024),
    default=1024 * 1024,
    show_default=True,
    help="Plaintext bytes per encrypted chunk.",
)
@click.option(
    "--ciphertext-digest",
    type=click.Choice(["blake3", "sha256"]),
    default="blake3",
    show_default=True,
    help="Digest of each ciphertext file in the header.",
)
@click.option("--json", "json_output", is_flag=True, help="Print a JSON summary.")
def seal(
    model_dir: Path,
    name: str,
    model_version: str,
    sign_key: Path,
    recipients: tuple[str, ...],
    out_dir: Path,
    chunk_size: int,
    ciphertext_digest: str,
    json_output: bool,
) -> None:
    """Sign and encrypt MODEL_DIR in one streaming pass into a sealed directory."""
    from dataclasses import asdict

    from sealgate.sealing import SealOptions, load_signing_private_key, parse_recipient, seal_model

    signing_key = load_signing_private_key(sign_key)
    parsed = [parse_recipient(spec) for spec in recipients]
    with _ProgressBars(_progress_enabled(json_output)) as bars:
        summary = seal_model(
            model_dir,
            out_dir,
            name=name,
            version=model_version,
            signing_key=signing_key,
            recipients=parsed,
            options=SealOptions(chunk_size=chunk_size, ciphertext_digest=ciphertext_digest),
            progress=bars,
        )
    data = {**asdict(summary), "sealed_dir": str(summary.sealed_dir)}
    _emit_summary(
        data,
        json_output,
        f"sealed {summary.model_name} {summary.model_version}: {summary.files} files, "
        f"{_human_bytes(summary.plaintext_bytes)} -> {summary.sealed_dir} "
        f"(signer {summary.signer_key_id[:16]}, {len(summary.recipients)} recipient(s))",
    )


def _trust_option(function):  # type: ignore[no-untyped-def]
    function = click.option(
        "--version", "expect_version", help="Fail unless the sealed model has this version."
    )(function)
    function = click.option(
        "--name", "expect_name", help="Fail unless the sealed model has this name."
    )(function)
    return click.option(
        "--trust",
        required=True,
        type=click.Path(path_type=Path),
        help="Trust file (YAML) or a signer's PEM public key.",
    )(function)


@cli.command()
@click.argument("sealed_dir", type=click.Path(path_type=Path))
@_trust_option
@click.option("--json", "json_output", is_flag=True, help="Print a JSON summary.")
def verify(
    sealed_dir: Path,
    trust: Path,
    expect_name: str | None,
    expect_version: str | None,
    json_output: bool,
) -> None:
    """Verify a sealed model's header, signer and every ciphertext digest (no key needed)."""
    from sealgate.sealing import load_trust, verify_sealed

    policy = load_trust(trust)
    with _ProgressBars(_progress_enabled(json_output)) as bars:
        verified = verify_sealed(
            sealed_dir,
            policy,
            expect_name=expect_name,
            expect_version=expect_version,
            progress=bars,
        )
    header = verified.header
    _emit_summary(
        {
            "sealed_dir": str(sealed_dir),
            "verified": True,
            "model_name": header.model_name,
            "model_version": header.model_version,
            "seal_id": header.seal_id.hex(),
            "signer": verified.signer.name,
            "signer_key_id": verified.signer.key_id,
            "files": len(header.files),
            "plaintext_bytes": header.total_size,
            "recipients": [f"{r.type}:{r.key_id}" for r in header.recipients],
        },
        json_output,
        f"verified {header.model_name} {header.model_version}: {len(header.files)} files, "
        f"signed by {verified.signer.name!r} ({verified.signer.key_id[:16]})",
    )


class _ExecTailCommand(click.Command):
    """Everything after ``--exec`` is the command to run, options included."""

    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        if "--exec" in args:
            position = args.index("--exec")
            ctx.meta["exec_argv"] = args[position + 1 :]
            if not ctx.meta["exec_argv"]:
                raise click.UsageError("--exec needs a command to run")
            args = args[:position]
        return super().parse_args(ctx, args)


@cli.command(
    cls=_ExecTailCommand,
    epilog="--exec CMD [ARGS]...  after a successful unseal, "
    "replace this process with CMD; everything after --exec belongs to CMD.",
)
@click.argument("sealed_dir", type=click.Path(path_type=Path))
@click.option(
    "--identity",
    "identities",
    multiple=True,
    required=True,
    metavar="TYPE:VALUE",
    help="Key that can unwrap the data key, e.g. local:rcpt.key; repeatable.",
)
@_trust_option
@click.option(
    "--into",
    "into",
    required=True,
    type=click.Path(path_type=Path),
    help="Directory to create on tmpfs (must not exist, or be empty).",
)
@click.option("--allow-disk", is_flag=True, help="Allow a destination that is not memory-backed.")
@click.option("--json", "json_output", is_flag=True, help="Print a JSON summary.")
@click.option(
    "--environment",
    envvar="SEALGATE_ENVIRONMENT",
    help="Environment unsealing (e.g. prod, edge-prod): the unseal policy decides for it. "
    "Required for keyvault and tpm identities.",
)
@click.option(
    "--registry",
    "registry_url",
    envvar="SEALGATE_REGISTRY",
    help="Promotion registry (file://PATH, azblob://ACCOUNT/CONTAINER) that says where the model is current.",
)
@click.option(
    "--policies",
    "policy_dir",
    type=click.Path(path_type=Path),
    default=Path("policies"),
    envvar="SEALGATE_POLICIES",
    show_default=True,
    help="Policy tree holding policies/unseal and its data.",
)
@click.option(
    "--decision-log",
    type=click.Path(path_type=Path, dir_okay=False),
    help="Append the decision (one JSON line) here instead of standard error.",
)
@_engine_options
@click.pass_context
def unseal(
    ctx: click.Context,
    sealed_dir: Path,
    identities: tuple[str, ...],
    trust: Path,
    expect_name: str | None,
    expect_version: str | None,
    into: Path,
    allow_disk: bool,
    json_output: bool,
    environment: str | None,
    registry_url: str | None,
    policy_dir: Path,
    decision_log: Path | None,
    engine: str,
    opa_url: str | None,
    opa_push: bool,
) -> None:
    """Verify, decrypt and publish a sealed model into memory-backed storage."""
    from dataclasses import asdict

    from sealgate.runtime import unseal_model
    from sealgate.sealing import load_trust, parse_identity

    exec_argv: list[str] = ctx.meta.get("exec_argv", [])
    policy = load_trust(trust)
    parsed = [parse_identity(spec) for spec in identities]
    from sealgate.runtime._authorization import build_authorizer

    def log_decision(line: str) -> None:
        if decision_log is None:
            click.echo(line, err=True)
            return
        try:
            with decision_log.open("a", encoding="utf-8") as handle:
                handle.write(line + "\n")
        except OSError as exc:
            raise InputError(
                f"{decision_log}: cannot write the decision log: {exc.strerror}"
            ) from None

    authorize = build_authorizer(
        parsed,
        environment=environment,
        registry_url=registry_url,
        policy_dir=policy_dir,
        engine=engine,
        opa_url=opa_url,
        opa_push=opa_push,
        log=log_decision,
    )
    with _ProgressBars(_progress_enabled(json_output)) as bars:
        summary = unseal_model(
            sealed_dir,
            into,
            identities=parsed,
            trust=policy,
            expect_name=expect_name,
            expect_version=expect_version,
            allow_disk=allow_disk,
            authorize=authorize,
            progress=bars,
        )
    data = {**asdict(summary), "destination": str(summary.destination)}
    _emit_summary(
        data,
        json_output,
        f"unsealed {summary.model_name} {summary.model_version}: {summary.files} files, "
        f"{_human_bytes(summary.plaintext_bytes)} -> {summary.destination}",
        err=bool(exec_argv),
    )
    if exec_argv:
        sys.stdout.flush()
        sys.stderr.flush()
        try:
            os.execvp(exec_argv[0], exec_argv)  # noqa: S606 - the image entrypoint use case
        except OSError as exc:
            raise InputError(f"--exec {exec_argv[0]}: {exc.strerror}") from None


# --------------------------------------------------------------------------------------------
# promotion: registry, gate and audit trail


def _registry_option(function):  # type: ignore[no-untyped-def]
    return click.option(
        "--registry",
        "registry_url",
        required=True,
        envvar="SEALGATE_REGISTRY",
        help="file://PATH or azblob://ACCOUNT/CONTAINER[?endpoint=URL&audit_container=NAME].",
    )(function)


def _gate_options(function):  # type: ignore[no-untyped-def]
    options = [
        _registry_option,
        click.option(
            "--trust",
            required=True,
            type=click.Path(path_type=Path),
            help="Trust file (YAML) or PEM key of the signers whose sealed models may be promoted.",
        ),
        click.option(
            "--gate-key",
            required=True,
            envvar="SEALGATE_GATE_KEY",
            type=click.Path(path_type=Path),
            help="The gate's ECDSA P-256 private key: signs every audit record.",
        ),
        click.option(
            "--requester",
            required=True,
            envvar="SEALGATE_REQUESTER",
            help="Who asks for this (the audit actor; may not approve it).",
        ),
        click.option(
            "--policies",
            "policy_dir",
            type=click.Path(path_type=Path),
            default=Path("policies"),
            show_default=True,
            help="Policy tree (the promotion policies and policies/data/promotion.yaml).",
        ),
        _engine_options,
        click.option("--json", "json_output", is_flag=True, help="Print a JSON summary."),
    ]
    for option in reversed(options):
        function = option(function)
    return function


def _decision_exit(result: object, json_output: bool) -> None:
    import json

    request = result.request  # type: ignore[attr-defined]
    route = f"{request.source or '(new)'} -> {request.target}"
    if json_output:
        summary = {
            "decision": "allow" if result.allowed else "deny",  # type: ignore[attr-defined]
            "request": request.to_json(),
            "record": result.record,  # type: ignore[attr-defined]
            "reasons": result.reasons,  # type: ignore[attr-defined]
        }
        click.echo(json.dumps(summary, indent=2, sort_keys=True))
    elif result.allowed:  # type: ignore[attr-defined]
        click.echo(
            f"allowed: {request.name} {request.version} ({request.digest[:19]}) {route}; "
            f"audit record {result.record[:19]}"  # type: ignore[attr-defined]
        )
    else:
        click.echo(f"denied: {request.name} {request.version} {route}")
        for reason in result.reasons:  # type: ignore[attr-defined]
            click.echo(f"  {reason}")
        click.echo(f"audit record {result.record[:19]}; nothing was changed")  # type: ignore[attr-defined]
    sys.exit(int(ExitCode.OK if result.allowed else ExitCode.DENIED))  # type: ignore[attr-defined]


def _gate(options: dict[str, object]):  # type: ignore[no-untyped-def]
    from sealgate.promotion._service import GateOptions, open_gate

    return open_gate(GateOptions(**options))  # type: ignore[arg-type]


@cli.command()
@click.argument("sealed_dir", type=click.Path(path_type=Path))
@_gate_options
def push(
    sealed_dir: Path,
    registry_url: str,
    trust: Path,
    gate_key: Path,
    requester: str,
    policy_dir: Path,
    engine: str,
    opa_url: str | None,
    opa_push: bool,
    json_output: bool,
) -> None:
    """Store a sealed model in the registry and put it into the first stage, through the gate."""
    from sealgate.promotion._service import push as push_model

    context = _gate(
        {"registry": registry_url, "trust": trust, "gate_key": gate_key, "policy_dir": policy_dir}
        | {"engine": engine, "opa_url": opa_url, "opa_push": opa_push}
    )
    _decision_exit(push_model(context, sealed_dir, requester), json_output)


@cli.command()
@click.argument("name")
@click.argument("version")
@click.option("--to", "target", required=True, help="Stage to promote into.")
@click.option("--from", "source", help="Source stage  [default: the stage before --to]")
@click.option("--digest", help="Sealed model digest being promoted  [default: the source stage's]")
@click.option(
    "--approval",
    "approvals",
    multiple=True,
    type=click.Path(path_type=Path, dir_okay=False),
    help="A signed approval (`sealgate approve`); repeatable.",
)
@click.option(
    "--approvers",
    type=click.Path(path_type=Path),
    help="Approvers file: trust-file format, one entry per person and key.",
)
@click.option(
    "--evidence",
    multiple=True,
    type=click.Path(path_type=Path, dir_okay=False),
    help="Evidence JSON (kind metrics | scan | sbom, bound to the digest); repeatable.",
)
@_gate_options
def promote(
    name: str,
    version: str,
    target: str,
    source: str | None,
    digest: str | None,
    approvals: tuple[Path, ...],
    approvers: Path | None,
    evidence: tuple[Path, ...],
    registry_url: str,
    trust: Path,
    gate_key: Path,
    requester: str,
    policy_dir: Path,
    engine: str,
    opa_url: str | None,
    opa_push: bool,
    json_output: bool,
) -> None:
    """Promote NAME VERSION into the next stage if the promotion policies allow it."""
    from sealgate.promotion._service import promote as promote_model

    context = _gate(
        {"registry": registry_url, "trust": trust, "gate_key": gate_key, "policy_dir": policy_dir}
        | {"approvers": approvers, "engine": engine, "opa_url": opa_url, "opa_push": opa_push}
    )
    result = promote_model(
        context,
        name,
        version,
        target,
        requester,
        source=source,
        digest=digest,
        approvals=list(approvals),
        evidence=list(evidence),
    )
    _decision_exit(result, json_output)


@cli.command()
@click.argument("name")
@click.argument("version")
@click.option("--to", "target", required=True, help="Stage the promotion goes to.")
@click.option("--from", "source", help="Source stage  [default: the stage before --to]")
@click.option("--digest", required=True, help="Sealed model digest (sha256:...) being approved.")
@click.option("--requester", required=True, help="Who requests the promotion.")
@click.option(
    "--key",
    required=True,
    type=click.Path(path_type=Path),
    help="The approver's ECDSA P-256 private key.",
)
@click.option(
    "--out", required=True, type=click.Path(path_type=Path, dir_okay=False), help="Approval file."
)
@click.option(
    "--policies",
    "policy_dir",
    type=click.Path(path_type=Path),
    default=Path("policies"),
    show_default=True,
    help="Policy tree whose stage order gives the default --from.",
)
def approve(
    name: str,
    version: str,
    target: str,
    source: str | None,
    digest: str,
    requester: str,
    key: Path,
    out: Path,
    policy_dir: Path,
) -> None:
    """Sign an approval of exactly one promotion request."""
    from sealgate.promotion._service import approve as approve_request

    request = approve_request(
        name, version, target, digest, requester, key, out, source=source, policy_dir=policy_dir
    )
    click.echo(
        f"approved {name} {version} ({digest[:19]}) {request.source} -> {target} "
        f"requested by {requester}: {out}"
    )


@cli.command()
@_registry_option
@click.option("--json", "json_output", is_flag=True, help="Print JSON.")
def status(registry_url: str, json_output: bool) -> None:
    """Show each model's version and digest per stage."""
    import json

    from sealgate.promotion import open_registry

    pointers = open_registry(registry_url).pointers()
    if json_output:
        table: dict[str, dict[str, object]] = {}
        for stage, pointer in pointers:
            table.setdefault(pointer.name, {})[stage] = {
                "version": pointer.version,
                "digest": pointer.digest,
                "updated": pointer.updated,
            }
        click.echo(json.dumps(table, indent=2, sort_keys=True))
        return
    if not pointers:
        click.echo("no models in any stage")
        return
    click.echo(f"{'MODEL':<30} {'STAGE':<12} {'VERSION':<14} DIGEST")
    for stage, pointer in sorted(pointers, key=lambda p: (p[1].name, p[0])):
        click.echo(f"{pointer.name:<30} {stage:<12} {pointer.version:<14} {pointer.digest[:19]}")


@cli.group()
def audit() -> None:
    """The promotion audit trail."""


@audit.command("verify")
@_registry_option
@click.option(
    "--gate-pub",
    required=True,
    type=click.Path(path_type=Path),
    help="The gate's public key (PEM) that signed the records.",
)
@click.option("--json", "json_output", is_flag=True, help="Print JSON.")
def audit_verify(registry_url: str, gate_pub: Path, json_output: bool) -> None:
    """Check every record's signature and chain, the signed head and every stage pointer."""
    import json

    from sealgate._paths import read_bounded
    from sealgate.promotion import open_registry
    from sealgate.promotion._audit import verify_audit
    from sealgate.sealing._signing_keys import parse_signing_public_key

    public_key = parse_signing_public_key(
        read_bounded(gate_pub, 64 * 1024, "public key"), str(gate_pub)
    )
    report = verify_audit(open_registry(registry_url), public_key)
    if json_output:
        click.echo(
            json.dumps(
                {
                    "ok": report.ok,
                    "records": report.records,
                    "allow": report.allow,
                    "deny": report.deny,
                    "conflict": report.conflict,
                    "bad_record": report.problem.record if report.problem else None,
                    "problem": report.problem.message if report.problem else None,
                },
                indent=2,
            )
        )
    elif report.ok:
        click.echo(
            f"audit trail verified: {report.records} records ({report.allow} allow, "
            f"{report.deny} deny, {report.conflict} conflict)"
        )
    else:
        click.echo(f"audit trail BROKEN: {report.problem.message}")  # type: ignore[union-attr]
    sys.exit(int(ExitCode.OK if report.ok else ExitCode.DENIED))


# --------------------------------------------------------------------------------------------
# device: edge devices with a TPM


def _pcr_list(value: str) -> tuple[int, ...]:
    try:
        pcrs = tuple(int(p) for p in value.split(",") if p.strip())
    except ValueError:
        raise click.BadParameter(f"{value!r}: expected PCR indexes like 0,2,4,7") from None
    if any(not 0 <= p <= 23 for p in pcrs):
        raise click.BadParameter(f"{value!r}: PCR indexes are 0-23")
    return pcrs


@cli.group()
def device() -> None:
    """Enrol edge devices: keys inside their TPM, endorsement data for provisioning."""


@device.command("enroll")
@click.option(
    "--tcti",
    required=True,
    envvar="SEALGATE_TPM_TCTI",
    help="The TPM, in tpm2-tss TCTI syntax: device:/dev/tpmrm0, swtpm:host=127.0.0.1,port=2321.",
)
@click.option(
    "--out",
    "prefix",
    required=True,
    type=click.Path(path_type=Path),
    help="Writes PREFIX.pub (seal to it), PREFIX.json (enrolment), PREFIX.tpm (TPM key blobs).",
)
@click.option(
    "--pcr-policy",
    default="",
    help="Bind the device key's use to these sha256 PCRs' current values, e.g. 7.",
)
@click.option(
    "--pcrs",
    "report_pcrs",
    default="0,2,4,7",
    show_default=True,
    help="PCRs whose current sha256 values are reported (candidate golden values).",
)
@click.option("--json", "json_output", is_flag=True, help="Print a JSON summary.")
def device_enroll(
    tcti: str, prefix: Path, pcr_policy: str, report_pcrs: str, json_output: bool
) -> None:
    """Create (or reuse) the device key and attestation key in the TPM and export the enrolment."""
    from sealgate.devices._enrollment import enroll_device
    from sealgate.devices._tpm import open_tpm

    enrollment = enroll_device(tcti, prefix, _pcr_list(pcr_policy))
    with open_tpm(tcti) as tpm:
        values = tpm.read_pcrs(_pcr_list(report_pcrs))
    _emit_summary(
        {
            "device_id": enrollment.device_id,
            "ak_key_id": enrollment.ak_key_id,
            "registration_id": enrollment.record["dps"]["registration_id"],
            "public_key": f"{prefix}.pub",
            "enrollment": f"{prefix}.json",
            "pcr_policy": list(enrollment.keys.pcr_policy),
            "pcrs": {"sha256": {str(p): v.hex() for p, v in sorted(values.items())}},
        },
        json_output,
        f"enrolled device {enrollment.device_id} (AK {enrollment.ak_key_id[:16]}): "
        f"seal to tpm:{prefix}.pub; enrolment in {prefix}.json",
    )


# --------------------------------------------------------------------------------------------
# plan: the infrastructure program offline


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
    _write_atomically(out_path, json.dumps(plan, indent=2, sort_keys=True) + "\n")
    click.echo(f"plan of stack {stack}: {len(plan['steps'])} resources -> {out_path}")


# --------------------------------------------------------------------------------------------
# review: a preview for platform engineers


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
@_engine_options
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
    _write_atomically(out_path, text)
    if html_path is not None and page is not None:
        _write_atomically(html_path, page)
    verdict = "PASS" if result.passed else "FAIL"
    click.echo(f"review of {stack}: gate {verdict} -> {out_path}")
    if result.input_errors:
        sys.exit(int(ExitCode.INPUT))
    sys.exit(int(ExitCode.OK if result.passed else ExitCode.DENIED))


def main(argv: list[str] | None = None) -> None:
    """Console entry point: never lets a traceback reach the user."""
    debug = os.environ.get("SEALGATE_DEBUG") == "1"
    try:
        cli.main(args=argv, prog_name="sealgate", standalone_mode=False)
    except click.exceptions.Exit as exc:
        sys.exit(exc.exit_code)
    except click.ClickException as exc:
        exc.show()
        sys.exit(int(ExitCode.INPUT))
    except click.exceptions.Abort:
        _fail("aborted", ExitCode.INPUT)
    except SealgateError as exc:
        if debug:
            raise
        _fail(str(exc), exc.exit_code)
    except KeyboardInterrupt:
        _fail("interrupted", ExitCode.INPUT)
    except BrokenPipeError:
        sys.stderr.close()
        sys.exit(int(ExitCode.INPUT))
    except Exception as exc:  # fail closed: an unexpected fault is never a pass
        if debug:
            raise
        _fail(
            f"internal error: {type(exc).__name__}: {exc} (set SEALGATE_DEBUG=1 for a traceback)",
            ExitCode.INPUT,
        )
    sys.exit(0)


if __name__ == "__main__":
    main()
