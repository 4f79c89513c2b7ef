"""The Key Vault recipient through the real SDK against a local HTTPS stand-in of the REST API.

Not run against Azure: the stand-in speaks the documented contract (bearer challenge, get
key, unwrapKey RSA-OAEP-256, release); Entra ID tokens are static test tokens.
"""

from __future__ import annotations

import hashlib
import json
import socket
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from azure.core.credentials import AccessToken
from sealgate import cli
from sealgate.errors import DeniedError, UnavailableError
from sealgate.policy._engine import create_engine
from sealgate.policy._loader import load_policy_set
from sealgate.runtime._authorization import UnsealAuthorizer
from sealgate.runtime._unseal import unseal_model
from sealgate.sealing import (
    SealOptions,
    generate_signing_key,
    load_signing_private_key,
    load_trust,
    seal_model,
)
from sealgate.sealing.recipients import _keyvault as keyvault

from tests.keyrelease.conftest import FakeRegistry, unseal_policy_tree
from tests.keyrelease.keyvault_standin import (
    StandInServer,
    StandInVault,
    make_token,
    self_signed_certificate,
)
from tests.sealing.conftest import write_model

TENANT = "72f988bf-86f1-41af-91ab-2d7cd011db47"
ALLOWED_OID = "0d6f3a2b-5c4e-4f1a-9b8c-7d6e5f4a3b2c"


class StaticCredential:
    def __init__(self, oid: str) -> None:
        self.token = make_token({"tid": TENANT, "oid": oid, "appid": "app-1", "sub": oid})

    def get_token(self, *scopes: str, **kwargs: object) -> AccessToken:
        return AccessToken(self.token, int(time.time()) + 3600)


@pytest.fixture
def vault(tmp_path: Path) -> Iterator[StandInVault]:
    cert, key = self_signed_certificate(tmp_path)
    standin = StandInVault(allowed_object_ids={ALLOWED_OID})
    with StandInServer(standin, cert, key):
        standin.ca = cert  # type: ignore[attr-defined]
        yield standin


def access(vault: StandInVault, oid: str) -> keyvault.KeyVaultAccess:
    return keyvault.KeyVaultAccess(
        credential_factory=lambda: StaticCredential(oid),
        client_options={
            "connection_verify": str(vault.ca),  # type: ignore[attr-defined]
            "verify_challenge_resource": False,
        },
    )


def _seal(tmp_path: Path, recipient: keyvault.KeyVaultRecipient) -> tuple[Path, dict[str, bytes]]:
    files = write_model(tmp_path / "model")
    generate_signing_key(tmp_path / "signer")
    seal_model(
        tmp_path / "model",
        tmp_path / "sealed",
        name="ranker",
        version="1.4",
        signing_key=load_signing_private_key(tmp_path / "signer.key"),
        recipients=[recipient],
        options=SealOptions(chunk_size=512),
    )
    return tmp_path / "sealed", files


def _authorizer(tmp_path: Path, identity: keyvault.KeyVaultIdentity, sealed: Path, log: list[str]):  # type: ignore[no-untyped-def]
    config = {
        "environments": {"prod": {"stage": "prod"}},
        "attestation": {"pcr_bank": "sha256", "pcrs": [0]},
        "workloads": [
            {
                "tenant_id": TENANT,
                "object_id": ALLOWED_OID,
                "environments": ["prod"],
                "models": ["ranker"],
            },
            {
                "tenant_id": TENANT,
                "object_id": "not-in-vault-rbac",
                "environments": ["prod"],
                "models": ["ranker"],
            },
        ],
        "revoked": {},
    }
    policy_set = load_policy_set([unseal_policy_tree(tmp_path / "tree", config)])
    registry = FakeRegistry()
    digest = "sha256:" + hashlib.sha256((sealed / "seal.json").read_bytes()).hexdigest()
    registry.promote("prod", "ranker", "1.4", digest)
    return UnsealAuthorizer(
        policy_set,
        create_engine("embedded", policy_set),
        identities=[identity],
        environment="prod",
        registry=registry,
        log=log.append,
    )


def test_keyvault_roundtrip_through_the_sdk(tmp_path: Path, vault: StandInVault) -> None:
    allowed = access(vault, ALLOWED_OID)
    recipient = keyvault.KeyVaultRecipient(vault.key_id, allowed)  # public key via get_key
    sealed, files = _seal(tmp_path, recipient)
    identity = keyvault.KeyVaultIdentity(vault.key_id, allowed)
    log: list[str] = []
    into = tmp_path / "out"
    unseal_model(
        sealed,
        into,
        identities=[identity],
        trust=load_trust(tmp_path / "signer.pub"),
        allow_disk=True,
        authorize=_authorizer(tmp_path, identity, sealed, log),
    )
    for relative, content in files.items():
        assert (into / relative).read_bytes() == content
    [record] = [json.loads(line) for line in log]
    assert record["decision"] == "allow"
    assert record["consumer"]["object_id"] == ALLOWED_OID
    unwrap_path = f"/keys/{vault.name}/{vault.version}/unwrapkey?"
    assert any(m == "POST" and p.startswith(unwrap_path) for m, p in vault.requests)


def test_keyvault_offline_public_key_and_403_is_a_clear_denial(
    tmp_path: Path, vault: StandInVault
) -> None:
    (tmp_path / "kek.pem").write_bytes(vault.public_pem())
    recipient = keyvault.KeyVaultRecipient(f"{vault.key_id}#{tmp_path / 'kek.pem'}")
    sealed, _ = _seal(tmp_path, recipient)
    assert vault.requests == []  # sealing with the exported public key needs no vault
    # The policy grants this identity, but Key Vault's RBAC does not: the vault's 403 denies.
    identity = keyvault.KeyVaultIdentity(vault.key_id, access(vault, "not-in-vault-rbac"))
    log: list[str] = []
    with pytest.raises(DeniedError) as denied:
        unseal_model(
            sealed,
            tmp_path / "out",
            identities=[identity],
            trust=load_trust(tmp_path / "signer.pub"),
            allow_disk=True,
            authorize=_authorizer(tmp_path, identity, sealed, log),
        )
    message = str(denied.value)
    assert (
        f"Key Vault {vault.url} denied the request to unwrap the data key with key "
        f"{vault.name} version {vault.version} (HTTP 403)"
    ) in message
    assert "HTTP 403" in message and "\n" not in message
    assert not (tmp_path / "out").exists()


def test_the_cli_has_no_key_vault_consumer_path(
    tmp_path: Path,
    vault: StandInVault,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """A workload unseals through the key release service (tests/keyserver); the command
    line refuses a Key Vault identity before any vault is asked, with one line, exit 2."""
    (tmp_path / "kek.pem").write_bytes(vault.public_pem())
    sealed, _ = _seal(
        tmp_path, keyvault.KeyVaultRecipient(f"{vault.key_id}#{tmp_path / 'kek.pem'}")
    )
    monkeypatch.setattr(keyvault, "DEFAULT_ACCESS", access(vault, ALLOWED_OID))
    argv = [
        "unseal", str(sealed), "--identity", f"keyvault:{vault.key_id}",
        "--trust", str(tmp_path / "signer.pub"), "--into", str(tmp_path / "out"), "--allow-disk",
        "--environment", "prod",
    ]  # fmt: skip
    with pytest.raises(SystemExit) as exited:
        cli.main(argv)
    err = capsys.readouterr().err
    assert exited.value.code == 2 and err.count("\n") == 1 and "Traceback" not in err
    assert "Key Vault keys are unwrapped only by the key release service" in err
    assert vault.requests == []
    assert not (tmp_path / "out").exists()


def test_keyvault_public_key_errors_name_the_key_in_one_line(
    vault: StandInVault, tmp_path: Path
) -> None:
    with pytest.raises(DeniedError) as denied:
        keyvault.KeyVaultRecipient(vault.key_id, access(vault, "nobody"))
    assert str(denied.value) == (
        f"Key Vault {vault.url} denied the request to read the public key of key {vault.name} "
        f"version {vault.version} (HTTP 403): this identity is not allowed to use the key"
    )
    # A vault that does not answer: the key and what was asked of it, then the SDK's reason.
    with socket.socket() as closed:
        closed.bind(("127.0.0.1", 0))
        port = closed.getsockname()[1]
    unreachable = keyvault.KeyVaultAccess(
        credential_factory=lambda: StaticCredential(ALLOWED_OID),
        client_options={"retry_total": 0, "verify_challenge_resource": False},
    )
    with pytest.raises(UnavailableError) as failed:  # an outage: exit code 3
        keyvault.KeyVaultRecipient(f"https://127.0.0.1:{port}/keys/model-kek/v1", unreachable)
    message = str(failed.value)
    assert message.startswith(
        f"Key Vault https://127.0.0.1:{port}: cannot read the public key of key model-kek "
        "version v1: "
    ), message
    assert "\n" not in message and " of with " not in message
