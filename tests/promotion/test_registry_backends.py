"""Registry backends by URL scheme: dispatch, registration, and the interface a backend implements."""

from __future__ import annotations

from pathlib import Path

import pytest
import sealgate.promotion as promotion
from sealgate.errors import InputError
from sealgate.promotion import _backends
from sealgate.promotion._fs_registry import FileRegistry
from sealgate.promotion._registry import StagePointer


def test_file_urls_and_plain_paths_open_the_folder_backend(tmp_path: Path) -> None:
    by_url = promotion.open_registry(f"file://{tmp_path / 'a'}")
    by_path = promotion.open_registry(str(tmp_path / "b"))
    assert isinstance(by_url, FileRegistry) and by_url.root == tmp_path / "a"
    assert isinstance(by_path, FileRegistry) and by_path.url == f"file://{tmp_path / 'b'}"
    with pytest.raises(InputError, match="needs a path"):
        promotion.open_registry("file://")


def test_an_unknown_scheme_names_every_registered_one() -> None:
    with pytest.raises(InputError) as raised:
        promotion.open_registry("s3://bucket/models")
    message = str(raised.value)
    assert "unknown scheme 's3://'" in message
    assert "file://PATH" in message and "azblob://ACCOUNT/CONTAINER" in message
    assert "\n" not in message
    assert set(promotion.registry_schemes()) >= {"file", "azblob"}


class _MemoryRegistry(promotion.Registry):
    """A complete backend: every abstract method of the three stores implemented."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.stages: dict[tuple[str, str], StagePointer] = {}

    def has_model(self, digest: str) -> bool:
        return False

    def store_model(self, digest: str, sealed_dir: Path) -> None:
        raise NotImplementedError

    def open_model(self, digest: str):  # type: ignore[no-untyped-def]
        raise NotImplementedError

    def read_pointer(self, stage: str, name: str) -> tuple[StagePointer | None, str | None]:
        pointer = self.stages.get((stage, name))
        return pointer, (pointer.digest if pointer else None)

    def set_pointer(self, stage: str, pointer: StagePointer, expected_tag: str | None) -> None:
        self.stages[(stage, pointer.name)] = pointer

    def pointers(self) -> list[tuple[str, StagePointer]]:
        return [(stage, p) for (stage, _), p in sorted(self.stages.items())]

    def append_audit(self, make_line):  # type: ignore[no-untyped-def]
        raise NotImplementedError

    def read_audit(self) -> bytes:
        return b""

    def read_audit_head(self) -> bytes | None:
        return None

    def write_audit_head(self, head: bytes, count: int) -> None:
        raise NotImplementedError

    def truncate_audit(self, size: int, expected_size: int) -> None:
        raise NotImplementedError

    def read_document(self, key: str) -> bytes | None:
        return None

    def create_document(self, key: str, data: bytes) -> bool:
        raise NotImplementedError


def test_a_registered_scheme_is_dispatched_to_its_factory(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(_backends, "_BACKENDS", dict(_backends._BACKENDS))
    opened: list[str] = []

    def factory(url: str) -> promotion.Registry:
        opened.append(url)
        return _MemoryRegistry(url)

    promotion.register_backend("memory", factory, usage="memory://NAME")
    registry = promotion.open_registry("memory://test")
    assert opened == ["memory://test"] and isinstance(registry, _MemoryRegistry)
    registry.set_pointer("dev", StagePointer("m", "1", "sha256:" + "a" * 64), None)
    assert registry.current("dev", "m") == StagePointer("m", "1", "sha256:" + "a" * 64)
    with pytest.raises(ValueError, match="already registered"):
        promotion.register_backend("memory", factory)
    with pytest.raises(ValueError, match="lowercase"):
        promotion.register_backend("Bad Scheme", factory)
    with pytest.raises(InputError, match="memory://NAME"):
        promotion.open_registry("nope://x")


@pytest.mark.parametrize(
    ("store", "method"),
    [
        (promotion.ModelStore, "open_model"),
        (promotion.PointerStore, "set_pointer"),
        (promotion.AuditStore, "append_audit"),
    ],
)
def test_a_backend_missing_one_store_method_cannot_be_made(store: type, method: str) -> None:
    assert method in store.__abstractmethods__
    methods = {k: v for k, v in vars(_MemoryRegistry).items() if k != method}
    incomplete = type("Incomplete", (promotion.Registry,), methods)
    with pytest.raises(TypeError, match=method):
        incomplete("memory://x")
