"""``sealgate keys | seal | verify | unseal``: sealed models."""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import TYPE_CHECKING

import click

from sealgate.cli._app import cli
from sealgate.cli._options import (
    engine_options,
    opa_limits,
    policies_option,
    policy_roots,
    trust_option,
)
from sealgate.cli._output import (
    ProgressBars,
    emit_summary,
    human_bytes,
    progress_enabled,
)
from sealgate.errors import InputError

if TYPE_CHECKING:
    from sealgate.runtime import UnsealSummary
    from sealgate.runtime._keyserver_release import TeeProof
    from sealgate.sealing import TrustPolicy


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
    emit_summary(
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
@click.option(
    "--hashing",
    type=click.Choice(["sha256", "sha256-shards", "blake3"]),
    default="sha256",
    show_default=True,
    help="OMS serialization of model.sig: sha256 per file (model_signing's CLI verifies it), "
    "sha256 shards or blake3 per file (one large file hashed on several cores).",
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
    hashing: str,
    json_output: bool,
) -> None:
    """Sign and encrypt MODEL_DIR in one streaming pass into a sealed directory."""
    from dataclasses import asdict

    from sealgate.sealing import SealOptions, load_signing_private_key, parse_recipient, seal_model
    from sealgate.sealing._oms import Hashing

    signing_key = load_signing_private_key(sign_key)
    parsed = [parse_recipient(spec) for spec in recipients]
    with ProgressBars(progress_enabled(json_output)) as bars:
        summary = seal_model(
            model_dir,
            out_dir,
            name=name,
            version=model_version,
            signing_key=signing_key,
            recipients=parsed,
            options=SealOptions(
                chunk_size=chunk_size,
                ciphertext_digest=ciphertext_digest,
                hashing=Hashing.named(hashing),
            ),
            progress=bars,
        )
    from sealgate.promotion import sealed_model_digest

    digest = sealed_model_digest(summary.sealed_dir)
    from sealgate.cli._scan import scan_summary
    from sealgate.scanning import scan_facts

    data = {**asdict(summary), "sealed_dir": str(summary.sealed_dir), "digest": digest}
    data["scan"] = scan_facts(summary.scan)
    emit_summary(
        data,
        json_output,
        f"{scan_summary(summary.scan)}\n"  # the digest stays the last word printed
        f"sealed {summary.model_name} {summary.model_version}: {summary.files} files, "
        f"{human_bytes(summary.plaintext_bytes)} -> {summary.sealed_dir} "
        f"(signer {summary.signer_key_id[:16]}, {len(summary.recipients)} recipient(s)); "
        f"digest {digest}",
    )


@cli.command()
@click.argument("sealed_dir", type=click.Path(path_type=Path))
@trust_option
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
    with ProgressBars(progress_enabled(json_output)) as bars:
        verified = verify_sealed(
            sealed_dir,
            policy,
            expect_name=expect_name,
            expect_version=expect_version,
            progress=bars,
        )
    header = verified.header
    from sealgate.cli._scan import scan_lines
    from sealgate.scanning import scan_facts

    emit_summary(
        {
            "sealed_dir": str(sealed_dir),
            "verified": True,
            "model_name": header.model_name,
            "model_version": header.model_version,
            "seal_id": header.seal_id.hex(),
            "digest": verified.digest,
            "signer": verified.signer.name,
            "signer_key_id": verified.signer.key_id,
            "files": len(header.files),
            "plaintext_bytes": header.total_size,
            "recipients": [f"{r.type}:{r.key_id}" for r in header.recipients],
            "scan": scan_facts(header.scan),
        },
        json_output,
        f"{scan_lines(header.scan)}\n"  # the digest stays the last word printed
        f"verified {header.model_name} {header.model_version}: {len(header.files)} files, "
        f"signed by {verified.signer.name!r} ({verified.signer.key_id[:16]}); "
        f"digest {verified.digest}",
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
    metavar="TYPE:VALUE",
    help="Development: a key that unwraps the data key itself (local:rcpt.key, tpm:PREFIX); "
    "outside the enforcement boundary. Enforced environments use --keyserver.",
)
@click.option(
    "--keyserver",
    "keyserver_url",
    envvar="SEALGATE_KEYSERVER",
    metavar="URL",
    help="The key release service (https://...): it decides with the unseal policy and "
    "answers with the data key wrapped to this process or device.",
)
@click.option(
    "--token-file",
    type=click.Path(path_type=Path, dir_okay=False),
    help="The workload identity token for --keyserver (default: $AZURE_FEDERATED_TOKEN_FILE).",
)
@click.option(
    "--device",
    "device_prefix",
    type=click.Path(path_type=Path),
    help="Release to this enrolled TPM device (PREFIX of its enrolment) instead of a token.",
)
@click.option(
    "--ca-bundle",
    type=click.Path(path_type=Path, dir_okay=False),
    help="CA certificates that verify the key server's TLS certificate (default: system roots).",
)
@click.option(
    "--attestation-token",
    type=click.Path(path_type=Path, dir_okay=False),
    help="A confidential workload's attestation token (Microsoft Azure Attestation JWT) for "
    "--keyserver; the key is then wrapped to the runtime key the token binds.",
)
@click.option(
    "--runtime-key",
    type=click.Path(path_type=Path, dir_okay=False),
    help="The TEE's runtime key (PEM RSA private key) bound in --attestation-token.",
)
@trust_option
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
    "Required with --keyserver and for tpm identities.",
)
@click.option(
    "--registry",
    "registry_url",
    envvar="SEALGATE_REGISTRY",
    help="Promotion registry (file://PATH, azblob://ACCOUNT/CONTAINER) that says where the model is current.",
)
@policies_option
@click.option(
    "--decision-log",
    type=click.Path(path_type=Path, dir_okay=False),
    help="Append the decision (one JSON line) here instead of standard error.",
)
@engine_options
@click.pass_context
def unseal(
    ctx: click.Context,
    sealed_dir: Path,
    identities: tuple[str, ...],
    keyserver_url: str | None,
    token_file: Path | None,
    device_prefix: Path | None,
    ca_bundle: Path | None,
    attestation_token: Path | None,
    runtime_key: Path | None,
    trust: Path,
    expect_name: str | None,
    expect_version: str | None,
    into: Path,
    allow_disk: bool,
    json_output: bool,
    environment: str | None,
    registry_url: str | None,
    policies: tuple[Path, ...],
    decision_log: Path | None,
    engine: str,
    opa_url: str | None,
    opa_timeout: float | None,
    opa_deadline: float | None,
    opa_max_answer: int | None,
    opa_push: bool,
) -> None:
    """Verify, decrypt and publish a sealed model into memory-backed storage.

    Exit codes: 0 unsealed, 1 denied (policy, token, signature), 2 bad input, 3 the key
    server could not be reached or did not answer usably (retry later)."""
    from sealgate.runtime import unseal_model
    from sealgate.sealing import load_trust, parse_identity

    exec_argv: list[str] = ctx.meta.get("exec_argv", [])
    policy = load_trust(trust)
    if (attestation_token is None) != (runtime_key is None):
        raise InputError("--attestation-token and --runtime-key go together")
    tee = None
    if attestation_token is not None and runtime_key is not None:
        from sealgate.runtime._keyserver_release import TeeProof

        tee = TeeProof(attestation_token, runtime_key)
    if keyserver_url is not None:
        summary = _unseal_through_keyserver(
            sealed_dir, into, keyserver_url, environment, token_file, device_prefix, ca_bundle,
            tee=tee, identities=identities, trust=policy, expect_name=expect_name,
            expect_version=expect_version, allow_disk=allow_disk, json_output=json_output,
        )  # fmt: skip
        _report_and_exec(summary, json_output, exec_argv)
        return
    if token_file is not None or device_prefix is not None or ca_bundle is not None or tee:
        raise InputError(
            "--token-file, --device, --ca-bundle and --attestation-token go with --keyserver URL"
        )
    for spec in identities:
        if spec.partition(":")[0] == "keyvault":
            raise InputError(
                f"--identity {spec}: Key Vault keys are unwrapped only by the key release "
                "service; use --keyserver URL --environment ENV"
            )
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
        policies=policy_roots(policies),
        engine=engine,
        opa_url=opa_url,
        opa_push=opa_push,
        opa_limits=opa_limits(opa_timeout, opa_deadline, opa_max_answer),
        log=log_decision,
    )
    with ProgressBars(progress_enabled(json_output)) as bars:
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
    _report_and_exec(summary, json_output, exec_argv)


def _unseal_through_keyserver(
    sealed_dir: Path,
    into: Path,
    url: str,
    environment: str | None,
    token_file: Path | None,
    device_prefix: Path | None,
    ca_bundle: Path | None,
    *,
    tee: TeeProof | None,
    identities: tuple[str, ...],
    trust: TrustPolicy,
    expect_name: str | None,
    expect_version: str | None,
    allow_disk: bool,
    json_output: bool,
) -> UnsealSummary:
    from sealgate.runtime import unseal_model
    from sealgate.runtime._client import KeyserverClient
    from sealgate.runtime._keyserver_release import KeyserverRelease, open_release_device

    if identities:
        raise InputError("--keyserver replaces --identity: give one or the other")
    if environment is None:
        raise InputError("--keyserver needs --environment ENV (the environment unsealing)")
    if device_prefix is not None and token_file is not None:
        raise InputError("--device and --token-file exclude each other")
    release = KeyserverRelease(
        KeyserverClient(url, ca_bundle),
        environment,
        token_file=token_file,
        device=open_release_device(device_prefix) if device_prefix is not None else None,
        tee=tee,
    )
    with ProgressBars(progress_enabled(json_output)) as bars:
        return unseal_model(
            sealed_dir,
            into,
            identities=[],
            trust=trust,
            expect_name=expect_name,
            expect_version=expect_version,
            allow_disk=allow_disk,
            key_release=release,
            progress=bars,
        )


def _report_and_exec(summary: UnsealSummary, json_output: bool, exec_argv: list[str]) -> None:
    from dataclasses import asdict

    data = {**asdict(summary), "destination": str(summary.destination)}
    emit_summary(
        data,
        json_output,
        f"unsealed {summary.model_name} {summary.model_version}: {summary.files} files, "
        f"{human_bytes(summary.plaintext_bytes)} -> {summary.destination}",
        err=bool(exec_argv),
    )
    if exec_argv:
        sys.stdout.flush()
        sys.stderr.flush()
        try:
            os.execvp(exec_argv[0], exec_argv)  # noqa: S606 - the image entrypoint use case
        except OSError as exc:
            raise InputError(f"--exec {exec_argv[0]}: {exc.strerror}") from None
