"""An unrecorded release is not a release: when the audit log cannot be appended to, the
service answers 503 and never touches the KEK."""

from __future__ import annotations

import base64

import pytest
from sealgate.errors import InputError
from sealgate.keyserver import ResponseKey, build_service, load_config
from sealgate.keyserver._release import Unavailable

from tests.keyserver.conftest import Estate


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
