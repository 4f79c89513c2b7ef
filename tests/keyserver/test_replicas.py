"""Two key server processes against ONE Azurite account agree on high-water marks and nonces.

The StateStore is the only state replicas share; these tests run two real
`sealgate keyserver serve` processes whose state is one Blob container.
"""

from __future__ import annotations

import base64
import json
import ssl
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml

from tests.keyserver.conftest import Estate, Server, start_keyserver, stop
from tests.promotion.conftest import AZURITE_ACCOUNT, Azurite, azurite  # noqa: F401 (fixture)

SHIM = Path(__file__).parent / "shim"


@pytest.fixture(scope="module")
def replicas(estate: Estate, azurite: Azurite) -> Iterator[tuple[Server, Server, Path]]:  # noqa: F811
    pointers = estate.root / "replica-pointers.json"
    pointers.write_text("{}")
    config = yaml.safe_load(estate.config.read_text())
    config["state"] = f"azblob://{AZURITE_ACCOUNT}/{azurite.new_container()}"
    replica_config = estate.root / "keyserver-replicas.yaml"
    replica_config.write_text(yaml.safe_dump(config))
    env = {
        "AZURE_STORAGE_CONNECTION_STRING": azurite.connection_string,
        "SEALGATE_TEST_POINTERS": str(pointers),
        "PYTHONPATH": f"{SHIM}:{__import__('os').environ.get('PYTHONPATH', '')}",
    }
    first = start_keyserver(replica_config, estate.pki.ca, estate.root / "replica-1.log", env)
    second = start_keyserver(replica_config, estate.pki.ca, estate.root / "replica-2.log", env)
    try:
        yield first, second, pointers
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


def test_a_pointer_older_than_one_seen_at_replica_1_is_refused_at_replica_2(
    estate: Estate, replicas: tuple[Server, Server, Path]
) -> None:
    first, second, pointers = replicas
    digest = estate.digest("detector")
    token = estate.token().read_text()
    pointers.write_text(
        json.dumps({"dev/detector": {"version": "1.0", "digest": digest, "counter": 5}})
    )
    status, body = _post(first, estate, "/v1/release", _release_body(estate, "detector"), token)
    assert status == 200, body
    # Someone copies an older pointer back (counter 4): the other replica has seen 5.
    pointers.write_text(
        json.dumps({"dev/detector": {"version": "1.0", "digest": digest, "counter": 4}})
    )
    status, body = _post(second, estate, "/v1/release", _release_body(estate, "detector"), token)
    assert status == 403 and "wrapped_key" not in body
    assert any(
        r.startswith("SG-UNSEAL-012") and "older than one already seen" in r
        for r in body["reasons"]
    )
    # A newer pointer is accepted by either replica.
    pointers.write_text(
        json.dumps({"dev/detector": {"version": "1.0", "digest": digest, "counter": 6}})
    )
    status, _ = _post(second, estate, "/v1/release", _release_body(estate, "detector"), token)
    assert status == 200
    status, body = _post(first, estate, "/v1/release", _release_body(estate, "detector"), token)
    assert status == 200, body


def test_a_nonce_used_at_one_replica_is_refused_at_the_other(
    estate: Estate, replicas: tuple[Server, Server, Path]
) -> None:
    import importlib.util

    if importlib.util.find_spec("sealgate.attestation") is not None:
        pytest.skip("sealgate.attestation is installed: its own tests cover nonces across replicas")
    first, second, pointers = replicas
    pointers.write_text(
        json.dumps(
            {"dev/detector": {"version": "1.0", "digest": estate.digest("detector"), "counter": 9}}
        )
    )
    status, challenge = _post(first, estate, "/v1/challenges", {"device_id": "gw-1"})
    assert status == 200 and challenge["pcrs"] == [0, 7]
    seal = base64.b64encode((estate.sealed["detector"] / "seal.json").read_bytes()).decode()
    request = {"environment": "dev", "seal": seal,
               "device": {"id": "gw-1", "nonce": challenge["nonce"], "quote": {}}}  # fmt: skip
    status, body = _post(second, estate, "/v1/release", request)
    # The fake device is granted nothing (SG-UNSEAL-009), but its nonce was fresh.
    assert status == 403 and not any(r.startswith("SG-UNSEAL-006") for r in body["reasons"])
    status, body = _post(first, estate, "/v1/release", request)
    assert status == 403 and any(r.startswith("SG-UNSEAL-006") for r in body["reasons"])
