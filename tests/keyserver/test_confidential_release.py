"""Confidential workloads through the served key release service and the CLI.

The service verifies the workload token and the Microsoft Azure Attestation token (a local
provider on 127.0.0.1 over HTTPS, keys made here, claims in the recorded SEV-SNP container
shape), the confidential policy requires a TEE in ``dev``, and the data key comes back wrapped
to the runtime key the attestation token binds: only the holder of that key's private half
(the TEE) can open it.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from http.server import ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
import yaml
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from tests.conftest import Run, run_sealgate
from tests.keyrelease.keyvault_standin import self_signed_certificate
from tests.keyserver.conftest import (
    Estate,
    Server,
    start_keyserver,
    stop,
    unseal_grants,
    write_config,
)
from tests.keyserver.test_tee import Provider, _handler, claims_from

CLAIMS = "maa-sevsnp-container.json"


class LocalProvider:
    def __init__(self, folder: Path) -> None:
        import ssl

        folder.mkdir()
        self.cert, key = self_signed_certificate(folder)
        self.provider = Provider()
        self.provider.add_key()
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(self.provider))
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(self.cert, key)
        self.server.socket = context.wrap_socket(self.server.socket, server_side=True)
        self.provider.issuer = f"https://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, args=(0.05,), daemon=True).start()

    def token(self, runtime_key: rsa.RSAPublicKey, **changes: Any) -> str:
        claims = claims_from(CLAIMS, self.provider.issuer, runtime_key)
        now = int(time.time())
        claims.update(iat=now - 60, nbf=now - 60, exp=now + 3600, **changes)
        return self.provider.token(claims)

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture(scope="module")
def provider(estate: Estate) -> Iterator[LocalProvider]:
    running = LocalProvider(estate.root / "maa")
    try:
        yield running
    finally:
        running.close()


@pytest.fixture(scope="module")
def keyserver(estate: Estate, provider: LocalProvider) -> Iterator[Server]:
    """The estate's service with a TEE required in dev and the local provider trusted."""
    claims = claims_from(CLAIMS, provider.provider.issuer, None)
    data = unseal_grants(estate.issuer.issuer)
    data["tee"] = {
        "environments": {
            "dev": {
                "require_tee": True,
                "attestation_types": [claims["x-ms-attestation-type"]],
                "compliance_status": [claims["x-ms-compliance-status"]],
                "policy_hashes": [claims["x-ms-policy-hash"]],
                "host_data": [claims["x-ms-sevsnpvm-hostdata"]],
            }
        }
    }
    (estate.root / "unseal-data" / "data" / "unseal.yaml").write_text(yaml.safe_dump(data))
    config = write_config(
        estate.root,
        estate.pki,
        estate.issuer,
        attestation_providers=[
            {"issuer": provider.provider.issuer, "ca_bundle": str(provider.cert)}
        ],
    )
    server = start_keyserver(config, estate.pki.ca, estate.root / "keyserver-tee.log")
    try:
        yield server
    finally:
        stop(server.process)


def _runtime_key(folder: Path) -> tuple[rsa.RSAPrivateKey, Path]:
    key = rsa.generate_private_key(65537, 2048)
    path = folder / "runtime.pem"
    path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return key, path


def _unseal(estate: Estate, server: Server, into: Path, *extra: str) -> Run:
    return run_sealgate(
        "unseal", str(estate.sealed["detector"]), "--keyserver", server.url,
        "--environment", "dev", "--token-file", str(estate.token()),
        "--ca-bundle", str(estate.pki.ca), "--trust", str(estate.root / "release.pub"),
        "--into", str(into), "--allow-disk", *extra, cwd=estate.root,
    )  # fmt: skip


def test_attested_tee_gets_the_key_wrapped_to_its_runtime_key(
    estate: Estate, keyserver: Server, provider: LocalProvider, tmp_path: Path
) -> None:
    key, key_file = _runtime_key(tmp_path)
    token = tmp_path / "maa.jwt"
    token.write_text(provider.token(key.public_key()))
    done = _unseal(
        estate, keyserver, tmp_path / "out",
        "--attestation-token", str(token), "--runtime-key", str(key_file),
    )  # fmt: skip
    assert done.code == 0, done.stderr
    for name, data in estate.files["detector"].items():
        assert (tmp_path / "out" / name).read_bytes() == data


def test_a_replayed_token_is_useless_without_the_tee_runtime_key(
    estate: Estate, keyserver: Server, provider: LocalProvider, tmp_path: Path
) -> None:
    tee_key, _ = _runtime_key(tmp_path)
    token = tmp_path / "maa.jwt"
    token.write_text(provider.token(tee_key.public_key()))
    (tmp_path / "mine").mkdir()
    _, my_key_file = _runtime_key(tmp_path / "mine")
    done = _unseal(
        estate, keyserver, tmp_path / "out",
        "--attestation-token", str(token), "--runtime-key", str(my_key_file),
    )  # fmt: skip
    # The service wrapped the key to the token's runtime key, not to the replayer's.
    assert done.code == 1 and "Traceback" not in done.stderr, done.stderr
    assert "runtime key" in done.stderr
    assert not (tmp_path / "out").exists()


def test_without_a_tee_or_with_a_debuggable_one_the_release_is_denied(
    estate: Estate, keyserver: Server, provider: LocalProvider, tmp_path: Path
) -> None:
    plain = _unseal(estate, keyserver, tmp_path / "plain")
    assert plain.code == 1 and "SG-UNSEAL-101" in plain.stderr, plain.stderr
    key, key_file = _runtime_key(tmp_path)
    token = tmp_path / "maa.jwt"
    token.write_text(provider.token(key.public_key(), **{"x-ms-sevsnpvm-is-debuggable": True}))
    debuggable = _unseal(
        estate, keyserver, tmp_path / "debug",
        "--attestation-token", str(token), "--runtime-key", str(key_file),
    )  # fmt: skip
    assert debuggable.code == 1 and "SG-UNSEAL-105" in debuggable.stderr, debuggable.stderr
    assert not (tmp_path / "plain").exists() and not (tmp_path / "debug").exists()
