"""An unrecorded release is not a release: when the audit log cannot be appended to, the
service answers 503 and never touches the KEK."""

from __future__ import annotations

import base64
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from sealgate.errors import InputError
from sealgate.keyserver import ResponseKey, build_service, load_config
from sealgate.keyserver._release import ReleaseService, Unavailable
from sealgate.promotion._registry import AUDIT_LOG, REGISTRY_FILE

from tests.keyserver.conftest import Estate, write_config


class SpyKek:
    def __init__(self, inner: object) -> None:
        self.inner = inner
        self.unwraps = 0

    def matches(self, wrapped: object) -> bool:
        return self.inner.matches(wrapped)  # type: ignore[attr-defined,no-any-return]

    def unwrap(self, wrapped: object, context: bytes) -> bytes:
        self.unwraps += 1
        return self.inner.unwrap(wrapped, context)  # type: ignore[attr-defined,no-any-return]


def test_a_failing_audit_log_releases_nothing(estate: Estate) -> None:
    service = build_service(load_config(estate.config))
    try:
        spy = SpyKek(service.keks["dev"])
        service.keks = {"dev": spy}  # type: ignore[dict-item]
        body = {
            "environment": "dev",
            "seal": base64.b64encode(
                (estate.sealed["detector"] / "seal.json").read_bytes()
            ).decode(),
            "response_key": ResponseKey.generate().public_document(),
        }
        token = estate.token().read_text()
        assert service.release(body, token)["wrapped_key"]  # the path works when it can record
        assert spy.unwraps == 1

        def full_disk(make_line: object) -> bytes:
            raise InputError("registry: audit/log.jsonl: No space left on device")

        service.registry.append_audit = full_disk
        with pytest.raises(Unavailable, match=r"audit log: .*No space left"):
            service.release(body, token)
        assert spy.unwraps == 1
    finally:
        service.close()


@pytest.fixture
def own_registry(estate: Estate, tmp_path: Path) -> Iterator[tuple[ReleaseService, SpyKek, Path]]:
    """A service over a copy of the estate's registry (to damage), with a spy on its KEK."""
    registry = tmp_path / "registry"
    shutil.copytree(estate.registry, registry)
    config = write_config(
        estate.root, estate.pki, estate.issuer, filename=f"keyserver-{tmp_path.name}.yaml",
        registry=f"file://{registry}", state=f"file://{tmp_path / 'state'}",
    )  # fmt: skip
    service = build_service(load_config(config))
    spy = SpyKek(service.keks["dev"])
    service.keks = {"dev": spy}  # type: ignore[dict-item]
    try:
        yield service, spy, registry
    finally:
        service.close()


def _body(estate: Estate) -> dict[str, object]:
    return {
        "environment": "dev",
        "seal": base64.b64encode((estate.sealed["detector"] / "seal.json").read_bytes()).decode(),
        "response_key": ResponseKey.generate().public_document(),
    }


def test_a_torn_audit_log_is_an_outage_with_no_record_and_no_key(
    estate: Estate, own_registry: tuple[ReleaseService, SpyKek, Path]
) -> None:
    service, spy, registry = own_registry
    token = estate.token().read_text()
    assert service.release(_body(estate), token)["record"].startswith("sha256:")
    log = registry / AUDIT_LOG
    log.write_bytes(log.read_bytes() + b'{"seq": 99, "torn')  # a short write
    damaged = log.read_bytes()
    with pytest.raises(Unavailable, match=r"audit log: audit log damaged: .*torn"):
        service.release(_body(estate), token)
    assert spy.unwraps == 1 and log.read_bytes() == damaged


def test_a_cut_audit_log_is_an_outage(
    estate: Estate, own_registry: tuple[ReleaseService, SpyKek, Path]
) -> None:
    """The signed head counts more records than the log holds (records cut from its end)."""
    service, spy, registry = own_registry
    token = estate.token().read_text()
    service.release(_body(estate), token)
    log = registry / AUDIT_LOG
    log.write_bytes(b"".join(log.read_bytes().splitlines(keepends=True)[:-1]))
    with pytest.raises(Unavailable, match=r"audit log: audit log damaged: .*cut"):
        service.release(_body(estate), token)
    assert spy.unwraps == 1


def test_a_registry_without_its_identity_is_an_outage(
    estate: Estate, own_registry: tuple[ReleaseService, SpyKek, Path]
) -> None:
    service, spy, registry = own_registry
    log = registry / AUDIT_LOG
    before = log.read_bytes()
    (registry / REGISTRY_FILE).unlink()
    with pytest.raises(Unavailable, match=r"registry\.json"):
        service.release(_body(estate), estate.token().read_text())
    assert spy.unwraps == 0 and log.read_bytes() == before
