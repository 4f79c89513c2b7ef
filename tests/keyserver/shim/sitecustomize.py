"""Test shim loaded by the key server processes of test_replicas.py (on their PYTHONPATH).

It stands in for what other packages provide, so the service's own replica logic can be
tested on its own: ``read_verified_pointer`` returns the pointer counters the test writes to
``$SEALGATE_TEST_POINTERS`` (the service's high-water marks are what is tested, not pointer
signatures), and, only where ``sealgate.attestation`` is not installed, a minimal
``DeviceRegistry`` whose nonces live in the service's StateStore.
"""

from __future__ import annotations

import base64
import json
import os
import secrets
import sys
import types
from dataclasses import dataclass
from pathlib import Path

if os.environ.get("SEALGATE_TEST_POINTERS"):
    import sealgate.promotion

    @dataclass(frozen=True)
    class _Pointer:
        stage: str
        name: str
        version: str
        digest: str
        counter: int
        record: str
        registry_id: str
        gate_key_id: str

    def read_verified_pointer(registry, stage, name, gate_keys):  # type: ignore[no-untyped-def]
        with Path(os.environ["SEALGATE_TEST_POINTERS"]).open() as handle:
            entry = json.load(handle).get(f"{stage}/{name}")
        if entry is None:
            return None
        return _Pointer(stage, name, entry["version"], entry["digest"], entry["counter"],
                        "", "registry-under-test", "gate")  # fmt: skip

    sealgate.promotion.read_verified_pointer = read_verified_pointer  # type: ignore[attr-defined]

try:
    import sealgate.attestation
except ImportError:

    class DeviceRegistry:
        def __init__(self, state, **options):  # type: ignore[no-untyped-def]
            self._state = state

        def issue_nonce(self, device_id):  # type: ignore[no-untyped-def]
            nonce = secrets.token_bytes(32)
            document = json.dumps({"device_id": device_id}).encode()
            assert self._state.create(f"nonces/{nonce.hex()}.json", document)
            return {"nonce": base64.b64encode(nonce).decode(), "expires": "2999-01-01T00:00:00Z"}

        def verify_device(self, device, *, pcrs, pcr_bank):  # type: ignore[no-untyped-def]
            nonce = base64.b64decode(device["nonce"])
            key = f"nonces/{nonce.hex()}.json"
            found = self._state.read(key)
            fresh = found is not None and self._state.delete(key, found[1])
            consumer = {"type": "device", "id": device["id"], "class": "gw", "enrolled": True}
            attestation = {"verified": True, "nonce_fresh": fresh, "device_id": device["id"],
                           "pcr_bank": pcr_bank, "pcrs": {}, "problems": []}  # fmt: skip
            return consumer, attestation

        def wrap_for_device(self, device_id, data_key, context):  # type: ignore[no-untyped-def]
            raise AssertionError("the fake device is never granted a key")

        def begin_enrolment(self, request, *, operator):  # type: ignore[no-untyped-def]
            raise NotImplementedError

        def finish_enrolment(self, enrolment_id, request):  # type: ignore[no-untyped-def]
            raise NotImplementedError

    module = types.ModuleType("sealgate.attestation")
    module.DeviceRegistry = DeviceRegistry  # type: ignore[attr-defined]
    module.FAKE = True  # type: ignore[attr-defined]
    sys.modules["sealgate.attestation"] = module
