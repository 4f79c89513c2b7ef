"""Fetch the sealed model that is current in a stage: what a workload's init step runs.

The stage pointer is read verified (gate signature, place, registry identity), so a pointer
that the gate did not sign delivers nothing. The copy's digest (of its ``seal.json``) must be
the pointer's: the signed header binds every other byte, and ``sealgate unseal`` verifies the
signature and every ciphertext before anything is decrypted.
"""

from __future__ import annotations

import contextlib
import shutil
from collections.abc import Iterable
from pathlib import Path

from cryptography.hazmat.primitives.asymmetric import ec

from sealgate._storage_errors import is_storage_refusal, storage_error
from sealgate.errors import DeniedError, InputError, VerificationError
from sealgate.promotion._digest import sealed_model_digest
from sealgate.promotion._pointers import VerifiedPointer, read_verified_pointer
from sealgate.promotion._registry import Registry, check_model_name, check_stage


def _empty_destination(into: Path) -> None:
    if into.is_symlink() or (into.exists() and not into.is_dir()):
        raise InputError(f"{into}: not a folder")
    if into.is_dir() and any(into.iterdir()):
        raise InputError(f"{into}: not empty")


def _copy_tree(source: Path, into: Path) -> None:
    """Like ``shutil.copytree`` but the first ``OSError`` is raised as itself (copytree
    gathers them into one ``shutil.Error``)."""
    into.mkdir(exist_ok=True)
    for path in sorted(source.rglob("*")):
        target = into / path.relative_to(source)
        if path.is_dir():
            target.mkdir(exist_ok=True)
        else:
            shutil.copyfile(path, target)


def _remove_partial_copy(into: Path, existed: bool) -> None:
    shutil.rmtree(into, ignore_errors=True)
    if existed:
        with contextlib.suppress(OSError):
            into.mkdir()


def _left(into: Path, existed: bool) -> str:
    if into.exists() and (not existed or any(into.iterdir())):
        return f"nothing was pulled, but the partial copy in {into} could not be removed"
    return f"nothing was pulled ({into} is {'empty' if existed else 'absent'} as before)"


def pull_model(
    registry: Registry,
    stage: str,
    name: str,
    gate_keys: Iterable[ec.EllipticCurvePublicKey],
    into: Path,
) -> VerifiedPointer:
    """Copy the sealed model that ``stage``'s gate-signed pointer names for ``name`` into
    ``into`` (absent or empty); return the pointer.

    ``DeniedError`` when the model is not in the stage, ``VerificationError`` for a pointer
    the gate did not sign or stored bytes that are not the pointer's digest (``into`` is
    then removed).
    """
    check_stage(stage)
    check_model_name(name)
    _empty_destination(into)
    pointer = read_verified_pointer(registry, stage, name, gate_keys)
    if pointer is None:
        raise DeniedError(f"{name} is not in stage {stage}: nothing to pull")
    existed = into.is_dir()
    with registry.open_model(pointer.digest) as stored:
        try:
            into.parent.mkdir(parents=True, exist_ok=True)
            _copy_tree(stored, into)
        except OSError as exc:
            if not is_storage_refusal(exc):
                raise
            _remove_partial_copy(into, existed)
            # The failed file's name is the registry copy's, not one the user gave.
            raise storage_error(str(into), exc, _left(into, existed), name_file=False) from None
    try:
        copied = sealed_model_digest(into)
    except InputError:
        copied = "(no seal.json)"
    if copied != pointer.digest:
        shutil.rmtree(into, ignore_errors=True)
        raise VerificationError(
            f"registry: the stored sealed model for {pointer.digest} has digest {copied}: refused"
        )
    return pointer
