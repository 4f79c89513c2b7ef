"""Stage pointer facts: signed pointers through ``read_verified_pointer`` (a stand-in here
for the promotion package's), high-water marks, and the unsigned fallback."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pytest
import sealgate.promotion
from sealgate.errors import VerificationError
from sealgate.keyserver._fs_state import FileStateStore
from sealgate.keyserver._pointers import HighWaterMarks, pointer_facts


@dataclass(frozen=True)
class Signed:
    stage: str
    name: str
    version: str
    digest: str
    counter: int
    record: str = ""
    registry_id: str = "reg-1"
    gate_key_id: str = "gate"


@dataclass(frozen=True)
class Unsigned:
    name: str
    version: str
    digest: str


class Registry:
    def __init__(self, pointer: Unsigned | None) -> None:
        self.pointer = pointer

    def current(self, stage: str, name: str) -> Unsigned | None:
        return self.pointer


def _facts(tmp_path: Path, registry: object, digest: str = "sha256:a") -> dict:
    marks = HighWaterMarks(FileStateStore(tmp_path / "state"))
    return pointer_facts(registry, "prod", "ranker", digest, gate_keys=[], marks=marks)


def test_signed_pointers_and_their_high_water_mark(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    answers: list[object] = [Signed("prod", "ranker", "2.0", "sha256:a", 7)]

    def reader(registry: object, stage: str, name: str, gate_keys: list[object]) -> object:
        answer = answers[0]
        if isinstance(answer, Exception):
            raise answer
        return answer

    monkeypatch.setattr(sealgate.promotion, "read_verified_pointer", reader, raising=False)
    facts = _facts(tmp_path, Registry(None))
    assert facts["stages"] == ["prod"]
    assert facts["pointer"] | {"problems": []} == {
        "stage": "prod", "version": "2.0", "digest": "sha256:a", "counter": 7, "verified": True,
        "rolled_back": False, "high_water": 7, "problems": [],
    }  # fmt: skip
    # The old pointer copied back: verifies, but is older than what was seen.
    answers[0] = Signed("prod", "ranker", "1.0", "sha256:old", 3)
    facts = _facts(tmp_path, Registry(None), "sha256:old")
    assert facts["stages"] == [] and facts["pointer"]["rolled_back"] is True
    assert facts["pointer"]["high_water"] == 7
    # A forged or unsigned pointer: not verified, with the reason.
    answers[0] = VerificationError("stage pointer prod/ranker: signature does not verify")
    facts = _facts(tmp_path, Registry(None))
    assert facts["stages"] == [] and facts["pointer"]["verified"] is False
    assert "signature does not verify" in facts["pointer"]["problems"][0]
    answers[0] = None
    assert _facts(tmp_path, Registry(None)) == {"checked": True, "stages": [], "pointer": None}


def test_without_signed_pointers_the_pointer_is_reported_unverified(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delattr(sealgate.promotion, "read_verified_pointer", raising=False)
    facts = _facts(tmp_path, Registry(Unsigned("ranker", "2.0", "sha256:a")))
    assert facts["stages"] == ["prod"]
    assert facts["pointer"]["verified"] is False and facts["pointer"]["counter"] is None
    assert facts["pointer"]["problems"] == ["the registry's stage pointers are not signed"]
