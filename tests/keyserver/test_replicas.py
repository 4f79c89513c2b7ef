"""Two key server processes against ONE Azurite account, over real gate-signed pointers.

The StateStore is the only state replicas share; these tests run two real
`sealgate keyserver serve` processes whose state is one Blob container, with the registry's
dev pointer moved by `sealgate push` (detector 1.0, then 2.0). The high-water marks alone
(the log check bypassed) are unit-tested in test_pointer_facts.py. Nonces across replicas:
tests/attestation/test_device_registry.py.
"""

from __future__ import annotations

import base64
import json
import ssl
import urllib.error
import urllib.request
from collections.abc import Iterator

import pytest
import yaml
from sealgate.promotion._registry import pointer_key

from tests.keyserver.conftest import Estate, Server, push, seal, start_keyserver, stop
from tests.promotion.conftest import AZURITE_ACCOUNT, Azurite, azurite  # noqa: F401 (fixture)


@pytest.fixture(scope="module")
def replicas(estate: Estate, azurite: Azurite) -> Iterator[tuple[Server, Server]]:  # noqa: F811
    config = yaml.safe_load(estate.config.read_text())
    config["state"] = f"azblob://{AZURITE_ACCOUNT}/{azurite.new_container()}"
    replica_config = estate.root / "keyserver-replicas.yaml"
    replica_config.write_text(yaml.safe_dump(config))
    env = {"AZURE_STORAGE_CONNECTION_STRING": azurite.connection_string}
    first = start_keyserver(replica_config, estate.pki.ca, estate.root / "replica-1.log", env)
    second = start_keyserver(replica_config, estate.pki.ca, estate.root / "replica-2.log", env)
    try:
        yield first, second
    finally:
        stop(first.process)
        stop(second.process)


def _post(
    server: Server, estate: Estate, path: str, body: dict, token: str | None = None
) -> tuple[int, dict]:
    headers = {"Content-Type": "application/json"}
    if token:
        headers["Authorization"] = f"Bearer {token}"
    request = urllib.request.Request(  # noqa: S310 - https to the test server
        server.url + path, data=json.dumps(body).encode(), headers=headers
    )
    context = ssl.create_default_context(cafile=str(estate.pki.ca))
    try:
        with urllib.request.urlopen(request, context=context, timeout=30) as answer:  # noqa: S310
            return answer.status, json.loads(answer.read())
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read())


def _release_body(estate: Estate, name: str) -> dict:
    from sealgate.keyserver import ResponseKey

    seal = base64.b64encode((estate.sealed[name] / "seal.json").read_bytes()).decode()
    return {
        "environment": "dev",
        "seal": seal,
        "response_key": ResponseKey.generate().public_document(),
    }


def _rolled_back(body: dict) -> bool:
    return any(
        r.startswith("SG-UNSEAL-012") and "not the latest allow" in r for r in body["reasons"]
    )


def test_an_old_signed_pointer_copied_back_is_refused_at_both_replicas(
    estate: Estate, replicas: tuple[Server, Server]
) -> None:
    first, second = replicas
    token = estate.token().read_text()
    status, body = _post(first, estate, "/v1/release", _release_body(estate, "detector"), token)
    assert status == 200, body  # 1.0 is current in dev
    pointer = estate.registry / pointer_key("dev", "detector")
    old = pointer.read_bytes()
    estate.sealed["detector-2"], _ = seal(estate.root, "detector", "2.0", 7, "detector-2")
    push(estate.root, estate.registry, estate.sealed["detector-2"])
    current = pointer.read_bytes()
    status, body = _post(first, estate, "/v1/release", _release_body(estate, "detector-2"), token)
    assert status == 200, body
    status, body = _post(second, estate, "/v1/release", _release_body(estate, "detector"), token)
    assert status == 403 and any(r.startswith("SG-UNSEAL-008") for r in body["reasons"])
    # Someone with registry storage write access copies the signed 1.0 pointer back.
    pointer.write_bytes(old)
    try:
        for replica in (first, second):
            status, body = _post(
                replica, estate, "/v1/release", _release_body(estate, "detector"), token
            )
            assert status == 403 and "wrapped_key" not in body, body
            assert _rolled_back(body), body
            # Nor does the pointer release the current model any more.
            status, body = _post(
                replica, estate, "/v1/release", _release_body(estate, "detector-2"), token
            )
            assert status == 403 and _rolled_back(body), body
    finally:
        pointer.write_bytes(current)
    for replica in (second, first):
        status, body = _post(
            replica, estate, "/v1/release", _release_body(estate, "detector-2"), token
        )
        assert status == 200, body
    # Each replica's decisions are in the audit log (allow and deny, signed by the service).
    records = [
        json.loads(line)
        for line in (estate.registry / "audit" / "log.jsonl").read_bytes().splitlines()
    ]
    releases = [r for r in records if r["action"] == "release"]
    assert {r["decision"] for r in releases} == {"allow", "deny"}
    assert all(r["actor"] == "keyserver:https://keys.dev.test" for r in releases)
