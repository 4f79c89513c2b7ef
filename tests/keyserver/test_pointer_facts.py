"""Stage pointer facts from real gate-signed pointers (``sealgate push`` into a file
registry): the current pointer verifies; a forged, foreign, hand-written or copied-back
pointer is ``verified: false`` with its problem; high-water marks refuse an older counter
even where the log check is bypassed."""

from __future__ import annotations

import json
import shutil
from dataclasses import dataclass
from pathlib import Path

import pytest
from sealgate.keyserver._fs_state import FileStateStore
from sealgate.keyserver._pointers import HighWaterMarks, pointer_facts
from sealgate.promotion import open_registry, read_verified_pointer
from sealgate.promotion._registry import pointer_key
from sealgate.sealing._signing_keys import load_signing_private_key

from tests.keyserver.conftest import Estate, push, seal


@dataclass
class TwoVersions:
    """detector 1.0 then 2.0 pushed into dev; the 1.0 pointer's bytes kept."""

    estate: Estate
    old_pointer: bytes
    v1: str
    v2: str


@pytest.fixture(scope="module")
def two_versions(estate: Estate) -> TwoVersions:
    key = estate.registry / pointer_key("dev", "detector")
    old = key.read_bytes()
    estate.sealed["detector-2"], _ = seal(estate.root, "detector", "2.0", 7, "detector-2")
    push(estate.root, estate.registry, estate.sealed["detector-2"])
    return TwoVersions(estate, old, estate.digest("detector"), estate.digest("detector-2"))


def _gate_keys(estate: Estate) -> list:  # type: ignore[type-arg]
    return [load_signing_private_key(estate.root / "gate.key").public_key()]


def _copy(estate: Estate, tmp_path: Path) -> Path:
    copy = tmp_path / "registry"
    shutil.copytree(estate.registry, copy)
    return copy


def _facts(estate: Estate, registry: Path, state: Path, digest: str) -> dict:
    return pointer_facts(
        open_registry(f"file://{registry}"), "dev", "detector", digest,
        gate_keys=_gate_keys(estate), marks=HighWaterMarks(FileStateStore(state)),
    )  # fmt: skip


def _write_pointer(registry: Path, data: bytes) -> None:
    (registry / pointer_key("dev", "detector")).write_bytes(data)


def test_the_current_signed_pointer_is_a_verified_fact(
    two_versions: TwoVersions, tmp_path: Path
) -> None:
    estate = two_versions.estate
    facts = _facts(estate, estate.registry, tmp_path / "state", two_versions.v2)
    pointer = facts["pointer"]
    assert facts["stages"] == ["dev"]
    assert pointer["verified"] is True and pointer["rolled_back"] is False
    assert pointer["version"] == "2.0" and pointer["digest"] == two_versions.v2
    assert pointer["counter"] == pointer["high_water"] and pointer["counter"] >= 2
    # The superseded model is not current in dev, though the pointer verifies.
    facts = _facts(estate, estate.registry, tmp_path / "state", two_versions.v1)
    assert facts["stages"] == [] and facts["pointer"]["verified"] is True


def test_an_old_signed_pointer_copied_back_is_not_verified(
    two_versions: TwoVersions, tmp_path: Path
) -> None:
    estate = two_versions.estate
    registry = _copy(estate, tmp_path)
    _write_pointer(registry, two_versions.old_pointer)
    facts = _facts(estate, registry, tmp_path / "state", two_versions.v1)
    assert facts["stages"] == [] and facts["pointer"]["verified"] is False
    assert "not the latest allow" in facts["pointer"]["problems"][0]
    assert facts["pointer"]["counter"] is None  # nothing of it reached the high-water mark


def test_a_signed_pointer_with_an_edited_digest_is_not_verified(
    two_versions: TwoVersions, tmp_path: Path
) -> None:
    estate = two_versions.estate
    registry = _copy(estate, tmp_path)
    stored = json.loads((registry / pointer_key("dev", "detector")).read_bytes())
    # Point the signed v2 pointer at v1's digest (what a storage writer would do).
    _write_pointer(registry, json.dumps({**stored, "digest": two_versions.v1}).encode())
    facts = _facts(estate, registry, tmp_path / "state", two_versions.v1)
    assert facts["stages"] == [] and facts["pointer"]["verified"] is False
    assert "signature does not verify" in facts["pointer"]["problems"][0]


def test_a_hand_written_pointer_is_not_verified(two_versions: TwoVersions, tmp_path: Path) -> None:
    estate = two_versions.estate
    registry = _copy(estate, tmp_path)
    stored = json.loads((registry / pointer_key("dev", "detector")).read_bytes())
    unsigned = {k: v for k, v in stored.items() if k != "sig"} | {"sig": ""}
    _write_pointer(registry, json.dumps(unsigned).encode())
    facts = _facts(estate, registry, tmp_path / "state", two_versions.v2)
    assert facts["stages"] == [] and facts["pointer"]["verified"] is False
    assert "has no signature" in facts["pointer"]["problems"][0]


def test_a_pointer_of_another_registry_is_not_verified(
    two_versions: TwoVersions, tmp_path: Path
) -> None:
    """Signed by the same gate key, for the same place, but in another registry."""
    estate = two_versions.estate
    other = tmp_path / "other-registry"
    push(estate.root, other, estate.sealed["detector"])
    registry = _copy(estate, tmp_path)
    _write_pointer(registry, (other / pointer_key("dev", "detector")).read_bytes())
    facts = _facts(estate, registry, tmp_path / "state", two_versions.v1)
    assert facts["stages"] == [] and facts["pointer"]["verified"] is False
    assert "belongs to another registry" in facts["pointer"]["problems"][0]


def test_without_a_pointer_there_is_no_pointer_fact(
    two_versions: TwoVersions, tmp_path: Path
) -> None:
    estate = two_versions.estate
    facts = pointer_facts(
        open_registry(f"file://{estate.registry}"), "dev", "nobody", "sha256:00",
        gate_keys=_gate_keys(estate), marks=HighWaterMarks(FileStateStore(tmp_path / "state")),
    )  # fmt: skip
    assert facts == {"checked": True, "stages": [], "pointer": None}


def test_a_replica_that_saw_v2_refuses_v1_even_without_the_log_check(
    two_versions: TwoVersions, tmp_path: Path
) -> None:
    """Defence in depth: the high-water mark alone refuses the copied-back v1 pointer."""
    estate = two_versions.estate
    gate_keys = _gate_keys(estate)
    marks = HighWaterMarks(FileStateStore(tmp_path / "state"))
    current = read_verified_pointer(
        open_registry(f"file://{estate.registry}"), "dev", "detector", gate_keys
    )
    assert current is not None and current.digest == two_versions.v2
    assert marks.observe(
        current.registry_id, "dev", "detector", current.counter, current.digest
    ) == (False, current.counter)
    registry = _copy(estate, tmp_path)
    _write_pointer(registry, two_versions.old_pointer)
    # Signature, place and registry verify: only the log check (bypassed here) or the mark
    # catches it.
    old = read_verified_pointer(open_registry(f"file://{registry}"), "dev", "detector", gate_keys)
    assert old is not None and old.digest == two_versions.v1 and old.counter < current.counter
    assert marks.observe(old.registry_id, "dev", "detector", old.counter, old.digest) == (
        True,
        current.counter,
    )
    # The same counter with another digest is refused too; the current one still passes.
    assert marks.observe(current.registry_id, "dev", "detector", current.counter, "sha256:x")[0]
    assert not marks.observe(
        current.registry_id, "dev", "detector", current.counter, current.digest
    )[0]
    # Another registry's pointer under the same name is never comparable.
    assert marks.observe("f" * 32, "dev", "detector", current.counter + 1, current.digest)[0]
