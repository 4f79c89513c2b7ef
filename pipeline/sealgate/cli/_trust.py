"""``sealgate trust add | revoke | show``: write and read trust files and approver files."""

from __future__ import annotations

from pathlib import Path

import click

from sealgate.cli._app import cli
from sealgate.cli._options import F
from sealgate.cli._output import emit_summary

_FILE_HELP = (
    "The trust file (who may sign sealed models: --trust) or approvers file (who may approve "
    "promotions: --approvers); both have this format."
)


def _file_option(function: F) -> F:
    return click.option(
        "--file",
        "path",
        required=True,
        type=click.Path(path_type=Path, dir_okay=False),
        help=_FILE_HELP,
    )(function)


def _json_option(function: F) -> F:
    return click.option("--json", "json_output", is_flag=True, help="Print JSON.")(function)


def _comments_note(path: Path, dropped: bool) -> None:
    if dropped:
        click.echo(
            f"note: {path} was rewritten canonically; the comments it had are not kept",
            err=True,
        )


@cli.group(
    epilog="An approvers file (`sealgate promote --approvers`) has the trust-file format: "
    "manage it with the same commands, e.g. `sealgate trust add --file approvers.yaml "
    "--name bob --key bob.pub` (one entry per person and key)."
)
def trust() -> None:
    """Write and read trust files: the signers `--trust` accepts, or the approvers
    `--approvers` accepts. The commands rewrite the file canonically (comments are not kept)."""


@trust.command("add")
@_file_option
@click.option("--name", required=True, help="Who holds the key (the signer, or the approver).")
@click.option(
    "--key",
    required=True,
    type=click.Path(path_type=Path, dir_okay=False, exists=True),
    help="Their ECDSA P-256 public key (PEM, the .pub of `sealgate keys generate signing`).",
)
@click.option("--not-before", help="Trusted from this time on, e.g. 2026-01-01T00:00:00Z.")
@click.option("--not-after", help="Trusted until this time, e.g. 2027-01-01T00:00:00Z.")
@_json_option
def trust_add(
    path: Path,
    name: str,
    key: Path,
    not_before: str | None,
    not_after: str | None,
    json_output: bool,
) -> None:
    """List a public key under NAME, creating the file if missing.

    Refuses a key that is already listed or revoked, and a name already listed with a key in
    force (revoke that first to give the name a new key).
    """
    from sealgate.sealing._trust_file import add_signer

    result = add_signer(path, name, key, not_before=not_before, not_after=not_after)
    [signer] = result.signers
    _comments_note(path, result.dropped_comments)
    emit_summary(
        {
            "file": str(path),
            "created": result.created,
            "name": signer.name,
            "key_id": signer.key_id,
        },
        json_output,
        f"{'created' if result.created else 'updated'} {path}: {signer.name} "
        f"(key id {signer.key_id}) is trusted",
    )


@trust.command("revoke")
@_file_option
@click.option("--name", required=True, help="Whose keys to revoke (every key listed under it).")
@_json_option
def trust_revoke(path: Path, name: str, json_output: bool) -> None:
    """Revoke every key listed under NAME.

    The entries stay, marked revoked, and their key ids go to revoked_key_ids, so the keys
    cannot be listed again.
    """
    from sealgate.sealing._trust_file import revoke_signer

    result = revoke_signer(path, name)
    _comments_note(path, result.dropped_comments)
    key_ids = [s.key_id for s in result.signers]
    line = (
        f"updated {path}: revoked {name} (key id {', '.join(key_ids)})"
        if key_ids
        else f"{path}: {name} is already revoked; nothing changed"
    )
    emit_summary({"file": str(path), "name": name, "revoked_key_ids": key_ids}, json_output, line)


@trust.command("show")
@_file_option
@_json_option
def trust_show(path: Path, json_output: bool) -> None:
    """List the signers, their key ids and states.

    A state is trusted, revoked, expired or not yet valid (now).
    """
    import json

    from sealgate.sealing import load_trust
    from sealgate.sealing._trust_file import describe

    summary = describe(load_trust(path))
    if json_output:
        click.echo(json.dumps(summary, indent=2))
        return
    click.echo(f"{'NAME':<24} {'STATE':<14} {'NOT BEFORE':<21} {'NOT AFTER':<21} KEY ID")
    for signer in summary["signers"]:
        click.echo(
            f"{signer['name']:<24} {signer['state']:<14} {signer['not_before'] or '-':<21} "
            f"{signer['not_after'] or '-':<21} {signer['key_id']}"
        )
    for key_id in summary["revoked_key_ids"]:
        click.echo(f"{'(not listed)':<24} {'revoked':<14} {'-':<21} {'-':<21} {key_id}")
