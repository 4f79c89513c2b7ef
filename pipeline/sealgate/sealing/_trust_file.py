"""Writing trust files, so that nobody hand-writes the YAML: add a signer, revoke one, list them.

The same format serves approver files (``--approvers``): one entry per person and key.

Every change reads the whole file, checks that it is a valid trust file (``load_trust``),
applies the change, checks the result the same way and replaces the file atomically. The
file is rewritten canonically (``signers`` then ``revoked_key_ids``; each entry ``name``,
``key_id``, its key, ``not_before``, ``not_after``, ``revoked``), so comments in a
hand-written file are not kept; ``EditResult.dropped_comments`` says when there were some.
A new entry embeds the signer's public key (``public_key``, PEM) and pins its ``key_id``,
so the file does not depend on where the key file was.
"""

from __future__ import annotations

import contextlib
import os
import re
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import yaml

from sealgate._paths import read_bounded
from sealgate._yaml import load_yaml
from sealgate.errors import InputError
from sealgate.sealing._signing_keys import (
    parse_signing_public_key,
    public_key_pem,
    signing_key_id,
)
from sealgate.sealing._trust import (
    MAX_TRUST_FILE_BYTES,
    TrustedSigner,
    TrustPolicy,
    _timestamp,
    load_trust,
)

HEADER = (
    "# Trust file (signers, or approvers): written by `sealgate trust add|revoke`, which\n"
    "# rewrite it canonically; comments are not kept.\n"
)
_FIELD_ORDER = ("name", "key_id", "public_key_path", "public_key", "not_before", "not_after")
_COMMENT = re.compile(r"(^|\s)#")
_NAME = re.compile(r"^\S(?:[^\x00-\x1f\x7f]*\S)?$")


@dataclass(frozen=True)
class EditResult:
    path: Path
    signers: tuple[TrustedSigner, ...]  # the entries added or revoked (empty: nothing changed)
    created: bool = False
    dropped_comments: bool = False


@dataclass(frozen=True)
class _Document:
    path: Path
    signers: list[dict[str, Any]]
    revoked_key_ids: list[str]
    policy: TrustPolicy | None  # None for a file that does not exist yet
    had_comments: bool


class _Dumper(yaml.SafeDumper):
    """Block style, PEM keys as literal blocks."""


def _represent_str(dumper: yaml.SafeDumper, value: str) -> yaml.ScalarNode:
    style = "|" if "\n" in value else None
    return dumper.represent_scalar("tag:yaml.org,2002:str", value, style=style)


_Dumper.add_representer(str, _represent_str)


def _iso(value: datetime) -> str:
    return value.astimezone(UTC).isoformat().replace("+00:00", "Z")


def _read(path: Path) -> _Document:
    if not path.exists():
        return _Document(path, [], [], None, False)
    if path.is_dir():
        raise InputError(f"{path}: is a directory, not a trust file")
    policy = load_trust(path)  # the file must be valid before it is changed
    text = read_bounded(path, MAX_TRUST_FILE_BYTES, "trust file").decode("utf-8", "replace")
    if text.lstrip().startswith("-----BEGIN PUBLIC KEY-----"):
        raise InputError(
            f"{path}: is a PEM public key, not a trust file; start a trust file with "
            f"`sealgate trust add --file trust.yaml --name NAME --key {path}`"
        )
    document = load_yaml(text, str(path))
    own_header = set(HEADER.splitlines())
    had_comments = any(
        _COMMENT.search(line) for line in text.splitlines() if line not in own_header
    )
    return _Document(
        path,
        [dict(entry) for entry in document["signers"]],
        list(document.get("revoked_key_ids") or []),
        policy,
        had_comments,
    )


def _entry(raw: dict[str, Any], signer: TrustedSigner) -> dict[str, Any]:
    """One signer in canonical field order, with its key id and timestamps as text."""
    entry: dict[str, Any] = {}
    for field in _FIELD_ORDER:
        if field == "key_id":
            entry["key_id"] = signer.key_id
        elif field == "not_before" and signer.not_before is not None:
            entry["not_before"] = _iso(signer.not_before)
        elif field == "not_after" and signer.not_after is not None:
            entry["not_after"] = _iso(signer.not_after)
        elif field in raw and field not in ("not_before", "not_after"):
            entry[field] = raw[field]
    if signer.revoked:
        entry["revoked"] = True
    return entry


def render(signers: list[dict[str, Any]], revoked_key_ids: list[str]) -> str:
    document: dict[str, Any] = {"signers": signers}
    if revoked_key_ids:
        document["revoked_key_ids"] = sorted({k.lower() for k in revoked_key_ids})
    body = yaml.dump(
        document, Dumper=_Dumper, sort_keys=False, default_flow_style=False, allow_unicode=True
    )
    return HEADER + body


def _write(path: Path, text: str) -> None:
    """Check the new content as a trust file, then replace ``path`` with it atomically."""
    target = path.resolve() if path.is_symlink() else path
    target.parent.mkdir(parents=True, exist_ok=True)
    mode = target.stat().st_mode & 0o777 if target.exists() else 0o644
    # A sibling, so that public_key_path entries resolve as they will in the file itself.
    temporary = target.with_name(f".{target.name}.tmp-{secrets.token_hex(6)}")
    try:
        fd = os.open(
            temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC, mode
        )
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(text)
            handle.flush()
            os.fsync(handle.fileno())
        load_trust(temporary)
        temporary.replace(target)
    except OSError as exc:
        raise InputError(f"{path}: cannot write: {exc.strerror or exc}") from None
    finally:
        with contextlib.suppress(FileNotFoundError):
            temporary.unlink()


def _canonical_entries(document: _Document) -> list[dict[str, Any]]:
    if document.policy is None:
        return []
    return [
        _entry(raw, s) for raw, s in zip(document.signers, document.policy.signers, strict=True)
    ]


def _check_name(name: str) -> str:
    if not _NAME.match(name):
        raise InputError(
            f"--name {name!r}: give a name without control characters or surrounding spaces"
        )
    return name


def _read_public_key(key: Path) -> tuple[str, TrustedSigner]:
    data = read_bounded(key, MAX_TRUST_FILE_BYTES, "public key")
    if b"PRIVATE KEY" in data:
        raise InputError(f"--key {key}: is a private key; pass the public key (the .pub file)")
    public_key = parse_signing_public_key(data, f"--key {key}")
    pem = public_key_pem(public_key).decode("ascii")
    return pem, TrustedSigner("", signing_key_id(public_key), public_key)


def add_signer(
    path: Path,
    name: str,
    key: Path,
    *,
    not_before: str | None = None,
    not_after: str | None = None,
) -> EditResult:
    """List ``key`` (a signer's PEM public key) under ``name``; create ``path`` if missing.

    Refused: a key that is already listed or revoked, and a name that a signer still in
    force has (revoke it first to list a new key under the same name).
    """
    _check_name(name)
    document = _read(path)
    pem, candidate = _read_public_key(key)
    key_id = candidate.key_id
    listed = document.policy.signers if document.policy else ()
    revoked = document.policy.revoked_key_ids if document.policy else frozenset()
    for signer in listed:
        if signer.key_id == key_id:
            raise InputError(f"{path}: key {key_id} is already listed, as {signer.name!r}")
    if key_id in revoked:
        raise InputError(f"{path}: key {key_id} is revoked (revoked_key_ids)")
    in_force = [s for s in listed if s.name == name and not s.revoked]
    if in_force:
        raise InputError(
            f"{path}: {name!r} is already listed with key {in_force[0].key_id}; "
            f"revoke it first (`sealgate trust revoke --file {path} --name {name}`) "
            "to list another key under that name"
        )
    start = _timestamp(not_before, "--not-before")
    end = _timestamp(not_after, "--not-after")
    if start and end and end <= start:
        raise InputError("--not-after is not after --not-before")
    entry: dict[str, Any] = {"name": name, "key_id": key_id, "public_key": pem}
    if start:
        entry["not_before"] = _iso(start)
    if end:
        entry["not_after"] = _iso(end)
    _write(path, render([*_canonical_entries(document), entry], document.revoked_key_ids))
    added = next(s for s in load_trust(path).signers if s.key_id == key_id)
    return EditResult(path, (added,), document.policy is None, document.had_comments)


def revoke_signer(path: Path, name: str) -> EditResult:
    """Revoke every key listed under ``name`` that is still in force (``revoked: true`` on
    the entry, and its key id in ``revoked_key_ids``, so re-adding the key is refused too)."""
    if not path.exists():
        raise InputError(f"{path}: no such trust file")
    document = _read(path)
    assert document.policy is not None
    entries = _canonical_entries(document)
    named = [i for i, s in enumerate(document.policy.signers) if s.name == name]
    if not named:
        listed = ", ".join(sorted({s.name for s in document.policy.signers}))
        raise InputError(f"{path}: no signer named {name!r} (listed: {listed})")
    revoking = [i for i in named if not document.policy.signers[i].revoked]
    if not revoking:
        return EditResult(path, ())
    for index in revoking:
        entries[index]["revoked"] = True
    key_ids = [document.policy.signers[i].key_id for i in revoking]
    _write(path, render(entries, [*document.revoked_key_ids, *key_ids]))
    revoked = tuple(s for s in load_trust(path).signers if s.key_id in key_ids)
    return EditResult(path, revoked, dropped_comments=document.had_comments)


def signer_state(signer: TrustedSigner, revoked_key_ids: frozenset[str], now: datetime) -> str:
    """``revoked``, ``expired``, ``not yet valid`` or ``trusted`` at ``now``."""
    if signer.revoked or signer.key_id in revoked_key_ids:
        return "revoked"
    if signer.not_after is not None and now > signer.not_after:
        return "expired"
    if signer.not_before is not None and now < signer.not_before:
        return "not yet valid"
    return "trusted"


def describe(policy: TrustPolicy, now: datetime | None = None) -> dict[str, Any]:
    """Every signer with its state, and revoked key ids that no listed signer has."""
    when = now or datetime.now(UTC)
    listed = {s.key_id for s in policy.signers}
    return {
        "file": policy.source,
        "signers": [
            {
                "name": s.name,
                "key_id": s.key_id,
                "state": signer_state(s, policy.revoked_key_ids, when),
                "not_before": _iso(s.not_before) if s.not_before else None,
                "not_after": _iso(s.not_after) if s.not_after else None,
            }
            for s in policy.signers
        ],
        "revoked_key_ids": sorted(k for k in policy.revoked_key_ids if k not in listed),
    }
