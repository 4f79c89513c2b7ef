"""``sealgate push | promote | approve | status | pull | audit``: the promotion registry."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import TYPE_CHECKING

import click

from sealgate.cli._app import cli
from sealgate.cli._options import (
    gate_options,
    opa_limits,
    policies_option,
    policy_roots,
    registry_option,
)
from sealgate.errors import ExitCode

if TYPE_CHECKING:
    from cryptography.hazmat.primitives.asymmetric.ec import EllipticCurvePublicKey

    from sealgate.policy._opa_limits import OpaLimits
    from sealgate.promotion._gate import GateContext, PromotionResult


def _report_scan(result: PromotionResult) -> None:
    """Findings of the signed scan that the target stage allows are still reported."""
    scan = result.facts.get("model", {}).get("scan") or {}
    for file in scan.get("files", []):
        for item in file.get("findings", []):
            click.echo(f"  scan (allowed here): {file['path']} [{item['severity']}] {item['id']}")


def _decision_exit(result: PromotionResult, json_output: bool) -> None:
    import json

    request = result.request
    route = f"{request.source or '(new)'} -> {request.target}"
    if json_output:
        summary = {
            "decision": "allow" if result.allowed else "deny",
            "request": request.to_json(),
            "record": result.record,
            "reasons": result.reasons,
        }
        click.echo(json.dumps(summary, indent=2, sort_keys=True))
    elif result.allowed:
        click.echo(
            f"allowed: {request.name} {request.version} ({request.digest}) {route}; "
            f"audit record {result.record}"
        )
        _report_scan(result)
    else:
        click.echo(f"denied: {request.name} {request.version} ({request.digest}) {route}")
        for reason in result.reasons:
            click.echo(f"  {reason}")
        click.echo(f"audit record {result.record}; nothing was changed")
    sys.exit(int(ExitCode.OK if result.allowed else ExitCode.DENIED))


def _gate(
    registry_url: str,
    trust: Path,
    gate_key: Path,
    policies: tuple[Path, ...],
    engine: str,
    opa_url: str | None,
    opa_push: bool,
    limits: OpaLimits,
    approvers: Path | None = None,
    requesters: Path | None = None,
    producers: Path | None = None,
) -> GateContext:
    """The promotion gate over the built-in policies and the --policies folders."""
    from sealgate.promotion._service import GateOptions, open_gate

    options = GateOptions(
        registry=registry_url,
        trust=trust,
        gate_key=gate_key,
        approvers=approvers,
        requesters=requesters,
        producers=producers,
        policies=tuple(policy_roots(policies)),
        engine=engine,
        opa_url=opa_url,
        opa_push=opa_push,
        opa_limits=limits,
    )
    return open_gate(options)


@cli.command()
@click.argument("sealed_dir", type=click.Path(path_type=Path))
@gate_options
def push(
    sealed_dir: Path,
    registry_url: str,
    trust: Path,
    gate_key: Path,
    requester_key: Path | None,
    oidc_token: Path | None,
    requesters: Path | None,
    requester: str | None,
    policies: tuple[Path, ...],
    engine: str,
    opa_url: str | None,
    opa_timeout: float | None,
    opa_deadline: float | None,
    opa_max_answer: int | None,
    opa_push: bool,
    json_output: bool,
) -> None:
    """Store a sealed model in the registry and put it into the first stage, through the gate."""
    from sealgate.promotion._requester import RequesterProof
    from sealgate.promotion._service import push as push_model

    limits = opa_limits(opa_timeout, opa_deadline, opa_max_answer)
    context = _gate(
        registry_url,
        trust,
        gate_key,
        policies,
        engine,
        opa_url,
        opa_push,
        limits,
        requesters=requesters,
    )
    proof = RequesterProof(requester_key, oidc_token, requester)
    _decision_exit(push_model(context, sealed_dir, proof), json_output)


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
    help="A signed evidence attestation (`sealgate evidence sign`: an in-toto statement about "
    "the model digest); repeatable.",
)
@click.option(
    "--producers",
    envvar="SEALGATE_PRODUCERS",
    type=click.Path(path_type=Path, dir_okay=False),
    help="Evidence producers file (trust-file format): the keys that may sign attestations.",
)
@gate_options
def promote(
    name: str,
    version: str,
    target: str,
    source: str | None,
    digest: str | None,
    approvals: tuple[Path, ...],
    approvers: Path | None,
    evidence: tuple[Path, ...],
    producers: Path | None,
    registry_url: str,
    trust: Path,
    gate_key: Path,
    requester_key: Path | None,
    oidc_token: Path | None,
    requesters: Path | None,
    requester: str | None,
    policies: tuple[Path, ...],
    engine: str,
    opa_url: str | None,
    opa_timeout: float | None,
    opa_deadline: float | None,
    opa_max_answer: int | None,
    opa_push: bool,
    json_output: bool,
) -> None:
    """Promote NAME VERSION into the next stage if the promotion policies allow it."""
    from sealgate.promotion._requester import RequesterProof
    from sealgate.promotion._service import promote as promote_model

    context = _gate(
        registry_url,
        trust,
        gate_key,
        policies,
        engine,
        opa_url,
        opa_push,
        opa_limits(opa_timeout, opa_deadline, opa_max_answer),
        approvers=approvers,
        requesters=requesters,
        producers=producers,
    )
    result = promote_model(
        context,
        name,
        version,
        target,
        RequesterProof(requester_key, oidc_token, requester),
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
@click.option(
    "--requester",
    required=True,
    help="The requester's identity: key:<key id> (`sealgate trust show`) or "
    "oidc:<issuer>#<subject>; the approval counts only for a request proven by it.",
)
@click.option(
    "--key",
    required=True,
    type=click.Path(path_type=Path),
    help="The approver's ECDSA P-256 private key.",
)
@click.option(
    "--out", required=True, type=click.Path(path_type=Path, dir_okay=False), help="Approval file."
)
@policies_option
def approve(
    name: str,
    version: str,
    target: str,
    source: str | None,
    digest: str,
    requester: str,
    key: Path,
    out: Path,
    policies: tuple[Path, ...],
) -> None:
    """Sign an approval of exactly one promotion request."""
    from sealgate.promotion._service import approve as approve_request

    request = approve_request(
        name,
        version,
        target,
        digest,
        requester,
        key,
        out,
        source=source,
        policies=policy_roots(policies),
    )
    click.echo(
        f"approved {name} {version} ({digest}) {request.source} -> {target} "
        f"requested by {requester}: {out}"
    )


@cli.group()
def evidence() -> None:
    """Signed evidence attestations (in-toto statements about a sealed model)."""


@evidence.command("sign")
@click.option(
    "--type",
    "kind",
    required=True,
    type=click.Choice(["metrics", "scan", "sbom"]),
    help="Evidence type (its in-toto predicate type).",
)
@click.option(
    "--predicate",
    required=True,
    type=click.Path(path_type=Path, dir_okay=False),
    help="The predicate: a JSON object in the type's documented shape.",
)
@click.option("--digest", required=True, help="The sealed model digest (sha256:...) attested.")
@click.option("--subject", "subject_name", default="sealed-model", show_default=True,
              help="Subject name in the statement (informational; the digest binds).")  # fmt: skip
@click.option(
    "--key",
    required=True,
    type=click.Path(path_type=Path, dir_okay=False),
    help="The producer's ECDSA P-256 private key (listed in the gate's --producers file).",
)
@click.option(
    "--out", required=True, type=click.Path(path_type=Path, dir_okay=False), help="Output file."
)
def evidence_sign(
    kind: str, predicate: Path, digest: str, subject_name: str, key: Path, out: Path
) -> None:
    """Sign a DSSE envelope of an in-toto Statement: this model digest has this predicate."""

    from sealgate._json import loads_unique
    from sealgate._limits import LimitExceeded
    from sealgate._paths import read_bounded
    from sealgate.errors import InputError
    from sealgate.promotion._digest import check_digest
    from sealgate.promotion._evidence import MAX_EVIDENCE_BYTES, create_attestation
    from sealgate.sealing._signing_keys import load_signing_private_key

    try:
        document = loads_unique(
            read_bounded(predicate, MAX_EVIDENCE_BYTES, "predicate"), source=predicate
        )
    except LimitExceeded:
        raise
    except (UnicodeDecodeError, ValueError):
        raise InputError(f"{predicate}: not JSON") from None
    envelope = create_attestation(
        kind,
        document,
        check_digest(digest, "--digest"),
        subject_name,
        load_signing_private_key(key),
    )
    try:
        with out.open("xb") as handle:
            handle.write(envelope)
    except FileExistsError:
        raise InputError(f"{out}: already exists; attestations are never overwritten") from None
    except OSError as exc:
        raise InputError(f"{out}: cannot write: {exc.strerror}") from None
    click.echo(f"signed {kind} attestation for {digest}: {out}")


@cli.command()
@registry_option
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
    # Full digests: they are what `promote --digest` and `approve --digest` take.
    click.echo(f"{'MODEL':<30} {'STAGE':<12} {'VERSION':<14} DIGEST")
    for stage, pointer in sorted(pointers, key=lambda p: (p[1].name, p[0])):
        click.echo(f"{pointer.name:<30} {stage:<12} {pointer.version:<14} {pointer.digest}")


@cli.command()
@click.argument("name")
@click.option("--stage", required=True, help="Stage whose current version of NAME to fetch.")
@registry_option
@click.option(
    "--gate-pub",
    "gate_pubs",
    required=True,
    multiple=True,
    type=click.Path(path_type=Path),
    help="A gate public key (PEM) that signs stage pointers; repeatable.",
)
@click.option(
    "--into",
    required=True,
    type=click.Path(path_type=Path, file_okay=False),
    help="Folder to create (must not exist, or be empty) for the sealed model.",
)
@click.option("--json", "json_output", is_flag=True, help="Print JSON.")
def pull(
    name: str,
    stage: str,
    registry_url: str,
    gate_pubs: tuple[Path, ...],
    into: Path,
    json_output: bool,
) -> None:
    """Fetch the sealed model NAME that is current in --stage (by its gate-signed pointer)."""
    import json

    from sealgate.promotion import open_registry
    from sealgate.promotion._pull import pull_model

    registry = open_registry(registry_url)
    try:
        pointer = pull_model(registry, stage, name, _public_keys(gate_pubs), into)
    finally:
        registry.close()
    if json_output:
        summary = {
            "name": pointer.name,
            "version": pointer.version,
            "digest": pointer.digest,
            "stage": pointer.stage,
            "into": str(into),
        }
        click.echo(json.dumps(summary, indent=2, sort_keys=True))
        return
    click.echo(f"pulled {pointer.name} {pointer.version} ({pointer.digest}) from {stage}: {into}")


@cli.group()
def audit() -> None:
    """The promotion audit trail."""


def _public_keys(paths: tuple[Path, ...]) -> list[EllipticCurvePublicKey]:
    from sealgate._paths import read_bounded
    from sealgate.sealing._signing_keys import parse_signing_public_key

    return [
        parse_signing_public_key(read_bounded(path, 64 * 1024, "public key"), str(path))
        for path in paths
    ]


_WITNESS_HELP = (
    "Where the audit heads are also kept (a folder, file://PATH, or azblob://ACCOUNT/CONTAINER "
    "with an immutability policy); a log shorter than a witnessed head fails."
)


@audit.command("verify")
@registry_option
@click.option(
    "--gate-pub",
    "gate_pubs",
    required=True,
    multiple=True,
    type=click.Path(path_type=Path),
    help="A gate public key (PEM): signs records, stage pointers and the registry identity; "
    "repeatable (gate replicas).",
)
@click.option(
    "--writer-pub",
    "writer_pubs",
    multiple=True,
    type=click.Path(path_type=Path),
    help="Another trusted record signer's public key (a key release service replica); repeatable.",
)
@click.option("--witness", envvar="SEALGATE_AUDIT_WITNESS", help=_WITNESS_HELP)
@click.option("--json", "json_output", is_flag=True, help="Print JSON.")
def audit_verify(
    registry_url: str,
    gate_pubs: tuple[Path, ...],
    writer_pubs: tuple[Path, ...],
    witness: str | None,
    json_output: bool,
) -> None:
    """Check every record's signature and chain, the signed and witnessed heads, and that
    every stage pointer is gate-signed and the latest allow for its stage."""
    import json

    from sealgate.promotion import open_registry
    from sealgate.promotion._audit_verify import verify_audit

    gate_keys = _public_keys(gate_pubs)
    report = verify_audit(
        open_registry(registry_url, witness=witness),
        [*gate_keys, *_public_keys(writer_pubs)],
        gate_keys=gate_keys,
    )
    if json_output:
        click.echo(
            json.dumps(
                {
                    "ok": report.ok,
                    "records": report.records,
                    "allow": report.allow,
                    "deny": report.deny,
                    "conflict": report.conflict,
                    "aborted": report.aborted,
                    "bad_record": report.problem.record if report.problem else None,
                    "problem": report.problem.message if report.problem else None,
                    "torn_offset": report.torn.offset if report.torn else None,
                },
                indent=2,
            )
        )
    elif report.ok:
        click.echo(
            f"audit trail verified: {report.records} records ({report.allow} allow, "
            f"{report.deny} deny, {report.conflict} conflict"
            + (f", {report.aborted} aborted)" if report.aborted else ")")
        )
    else:
        click.echo(f"audit trail BROKEN: {report.problem.message if report.problem else '?'}")
        if report.torn:
            click.echo("  a torn final record: `sealgate audit repair` shows and removes it")
    sys.exit(int(ExitCode.OK if report.ok else ExitCode.DENIED))


@audit.command("repair")
@registry_option
@click.option("--yes", is_flag=True, help="Cut the torn record (without it: only show it).")
def audit_repair(registry_url: str, yes: bool) -> None:
    """Show a torn final record (a short write, a full disk) and, with --yes, cut exactly it;
    a complete record is never removed."""
    from sealgate.promotion import open_registry
    from sealgate.promotion._audit_repair import repair_audit

    repair = repair_audit(open_registry(registry_url), apply=yes)
    if repair.torn is None:
        click.echo(f"audit log: no torn record ({repair.size} bytes); nothing to repair")
        return
    click.echo(f"audit log: {repair.torn.describe()}")
    click.echo(f"  torn bytes: {repair.torn.preview()}")
    if repair.cut:
        click.echo(f"cut the log to {repair.torn.offset} bytes; run `sealgate audit verify` next")
    else:
        click.echo(f"dry run: pass --yes to cut the log to {repair.torn.offset} bytes")
