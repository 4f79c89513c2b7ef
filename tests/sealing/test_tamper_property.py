"""Property: any mutation of a sealed model is rejected and releases no plaintext."""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path

import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st
from sealgate.errors import VerificationError
from sealgate.runtime import unseal_model
from sealgate.sealing import verify_sealed

from tests.sealing.conftest import SHM, SMALL_CHUNK, leftovers, seal_with_library

CIPHERTEXT_CHUNK = SMALL_CHUNK + 16


def _files(root: Path) -> list[str]:
    return sorted(str(p.relative_to(root)) for p in root.rglob("*") if p.is_file())


def _snapshot(root: Path) -> dict[str, bytes]:
    return {name: (root / name).read_bytes() for name in _files(root)}


@st.composite
def mutations(draw: st.DrawFn, names: list[str], payloads: list[str]) -> tuple:
    kind = draw(
        st.sampled_from(
            [
                "flip",
                "truncate",
                "append",
                "delete",
                "swap_files",
                "swap_chunks",
                "swap_chunks_across_files",
                "extra_file",
                "foreign_file",
            ]
        )
    )
    if kind in ("swap_files", "swap_chunks_across_files"):
        pool = payloads if kind == "swap_chunks_across_files" else names
        first, second = draw(st.lists(st.sampled_from(pool), min_size=2, max_size=2, unique=True))
        return (kind, first, second, draw(st.integers(0, 10**6)), draw(st.integers(0, 10**6)))
    if kind == "swap_chunks":
        return (
            kind,
            draw(st.sampled_from(payloads)),
            draw(st.integers(0, 10**6)),
            draw(st.integers(0, 10**6)),
        )
    if kind == "extra_file":
        return (
            kind,
            draw(st.sampled_from(["payload/000099.enc", "notes.txt", "payload/x"])),
            draw(st.binary(max_size=32)),
        )
    return (
        kind,
        draw(st.sampled_from(names)),
        draw(st.integers(0, 10**6)),
        draw(st.integers(1, 255)),
        draw(st.binary(min_size=1, max_size=32)),
    )


def _chunk_bounds(data: bytes, pick: int) -> tuple[int, int]:
    count = max(1, len(data) // CIPHERTEXT_CHUNK)
    start = (pick % count) * CIPHERTEXT_CHUNK
    return start, min(len(data), start + CIPHERTEXT_CHUNK)


def _apply(root: Path, foreign: Path, mutation: tuple) -> None:
    kind = mutation[0]
    if kind == "flip":
        _, name, position, mask, _ = mutation
        data = bytearray((root / name).read_bytes())
        assume(data)
        data[position % len(data)] ^= mask
        (root / name).write_bytes(bytes(data))
    elif kind == "truncate":
        _, name, position, _, _ = mutation
        data = (root / name).read_bytes()
        assume(data)
        (root / name).write_bytes(data[: position % len(data)])
    elif kind == "append":
        _, name, _, _, extra = mutation
        with (root / name).open("ab") as handle:
            handle.write(extra)
    elif kind == "delete":
        (root / mutation[1]).unlink()
    elif kind == "swap_files":
        _, first, second, _, _ = mutation
        a, b = (root / first).read_bytes(), (root / second).read_bytes()
        (root / first).write_bytes(b)
        (root / second).write_bytes(a)
    elif kind == "swap_chunks":
        _, name, i, j = mutation
        data = bytearray((root / name).read_bytes())
        (a0, a1), (b0, b1) = _chunk_bounds(data, i), _chunk_bounds(data, j)
        assume(a1 - a0 == b1 - b0 and a0 != b0)
        data[a0:a1], data[b0:b1] = data[b0:b1], data[a0:a1]
        (root / name).write_bytes(bytes(data))
    elif kind == "swap_chunks_across_files":
        _, first, second, i, j = mutation
        a, b = bytearray((root / first).read_bytes()), bytearray((root / second).read_bytes())
        (a0, a1), (b0, b1) = _chunk_bounds(a, i), _chunk_bounds(b, j)
        assume(a1 - a0 == b1 - b0)
        a[a0:a1], b[b0:b1] = b[b0:b1], a[a0:a1]
        (root / first).write_bytes(bytes(a))
        (root / second).write_bytes(bytes(b))
    elif kind == "extra_file":
        _, name, content = mutation
        (root / name).write_bytes(content)
    elif kind == "foreign_file":
        # The same file from another seal of the same model with the same keys.
        _, name, _, _, _ = mutation
        shutil.copyfile(foreign / name, root / name)


@pytest.fixture(scope="module")
def pristine(tmp_path_factory: pytest.TempPathFactory, keyset) -> tuple[Path, Path]:
    from tests.sealing.conftest import write_model

    base = tmp_path_factory.mktemp("pristine")
    (base / "model").mkdir()
    write_model(base / "model")
    seal_with_library(base / "model", base / "sealed", keyset)
    seal_with_library(base / "model", base / "foreign", keyset)
    return base / "sealed", base / "foreign"


@settings(
    max_examples=120,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(data=st.data())
def test_every_mutation_is_rejected_before_any_plaintext_is_released(
    data: st.DataObject, pristine: tuple[Path, Path], trust, identity
) -> None:
    sealed, foreign = pristine
    names = _files(sealed)
    payloads = [n for n in names if n.startswith("payload/")]
    mutation = data.draw(mutations(names, payloads))
    with tempfile.TemporaryDirectory(dir=SHM) as scratch:
        work = Path(scratch) / "sealed"
        shutil.copytree(sealed, work)
        for path in work.rglob("*"):
            if path.is_file():
                path.chmod(0o644)
        _apply(work, foreign, mutation)
        assume(_snapshot(work) != _snapshot(sealed))

        with pytest.raises(VerificationError) as verify_error:
            verify_sealed(work, trust, workers=1)
        assert "\n" not in str(verify_error.value)

        destination = Path(scratch) / "unsealed"
        with pytest.raises(VerificationError):
            unseal_model(work, destination, identities=[identity], trust=trust, workers=1)
        assert not destination.exists()
        assert leftovers(destination) == []
        assert [p.name for p in Path(scratch).iterdir()] == ["sealed"]
