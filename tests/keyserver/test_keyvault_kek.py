"""The production key hierarchy: an environment KEK in Key Vault that only the service's
identity may use (the Key Vault REST stand-in enforces that by the token's object id).

Replays the attack of the security review: a workload holding a Key Vault credential was
denied ``ranker`` by the policy, then unwrapped it itself, skipping the hook. Now the
consumer's identity has no ``unwrapKey`` on the KEK and the CLI has no Key Vault path.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import yaml
from sealgate.errors import DeniedError
from sealgate.keyserver import build_service, create_app, load_config
from sealgate.runtime import unseal_model
from sealgate.sealing import load_trust
from sealgate.sealing.recipients import _keyvault as keyvault
from werkzeug.serving import make_server

from tests.conftest import run_sealgate
from tests.keyrelease.keyvault_standin import StandInServer, StandInVault
from tests.keyrelease.test_keyvault_keyrelease import access
from tests.keyserver.conftest import DETECTOR_OID, Estate, wait_healthy
from tests.sealing.conftest import write_model

SERVICE_OID = "5e1c0b7a-9d8f-4e6a-b5c4-d3e2f1a0b9c8"


@dataclass
class VaultEstate:
    vault: StandInVault
    url: str
    sealed: dict[str, Path]
    files: dict[str, dict[str, bytes]]


@pytest.fixture(scope="module")
def vault_estate(estate: Estate) -> Iterator[VaultEstate]:
    root = estate.root / "vault"
    root.mkdir()
    vault = StandInVault(allowed_object_ids={SERVICE_OID})
    with StandInServer(vault, estate.pki.certificate, estate.pki.key):
        vault.ca = estate.pki.ca  # type: ignore[attr-defined]
        (root / "kek-prod.pem").write_bytes(vault.public_pem())
        sealed: dict[str, Path] = {}
        files: dict[str, dict[str, bytes]] = {}
        for seed, name in enumerate(("detector", "ranker")):
            files[name] = write_model(root / f"model-{name}", seed=seed)
            sealed[name] = root / f"sealed-{name}"
            done = run_sealgate(
                "seal", str(root / f"model-{name}"), "--name", name, "--version", "2.0",
                "--sign-key", str(estate.root / "release.key"),
                "--recipient", f"keyvault:{vault.key_id}#{root / 'kek-prod.pem'}",
                "--out", str(sealed[name]), "--chunk-size", "512", cwd=root,
            )  # fmt: skip
            assert done.code == 0, done.stderr
            pushed = run_sealgate(
                "push", str(sealed[name]), "--registry", f"file://{root / 'registry'}",
                "--trust", str(estate.root / "release.pub"), "--gate-key",
                str(estate.root / "gate.key"), "--requester", "release-pipeline", cwd=root,
            )  # fmt: skip
            assert pushed.code == 0, pushed.stderr
        config = yaml.safe_load(estate.config.read_text())
        config["registry"] = f"file://{root / 'registry'}"
        config["environments"] = {"dev": {"kek": f"keyvault:{vault.key_id}"}}
        path = estate.root / "keyserver-vault.yaml"
        path.write_text(yaml.safe_dump(config))
        # The service's own managed identity is the one Key Vault lets unwrap.
        service = build_service(load_config(path), keyvault_access=access(vault, SERVICE_OID))
        app = create_app(service)
        server = make_server(
            "127.0.0.1", 0, app, threaded=True,
            ssl_context=(str(estate.pki.certificate), str(estate.pki.key)),
        )  # fmt: skip
        thread = threading.Thread(target=server.serve_forever, daemon=True)
        thread.start()
        url = f"https://127.0.0.1:{server.server_port}"
        wait_healthy(url, estate.pki.ca, None, None)
        try:
            yield VaultEstate(vault, url, sealed, files)
        finally:
            server.shutdown()
            service.close()


def _unseal(estate: Estate, vault_estate: VaultEstate, name: str, into: Path):  # type: ignore[no-untyped-def]
    return run_sealgate(
        "unseal", str(vault_estate.sealed[name]), "--keyserver", vault_estate.url,
        "--environment", "dev", "--token-file", str(estate.token()),
        "--ca-bundle", str(estate.pki.ca), "--trust", str(estate.root / "release.pub"),
        "--into", str(into), "--allow-disk", cwd=estate.root,
    )  # fmt: skip


def _unwraps(vault: StandInVault) -> int:
    return sum(1 for m, p in vault.requests if m == "POST" and "/unwrapkey" in p)


def test_granted_workload_gets_its_model_through_the_service_kek(
    estate: Estate, vault_estate: VaultEstate, tmp_path: Path
) -> None:
    before = _unwraps(vault_estate.vault)
    done = _unseal(estate, vault_estate, "detector", tmp_path / "out")
    assert done.code == 0, done.stderr
    for relative, content in vault_estate.files["detector"].items():
        assert (tmp_path / "out" / relative).read_bytes() == content
    assert _unwraps(vault_estate.vault) == before + 1


def test_replay_workload_with_a_vault_credential_cannot_skip_the_policy(
    estate: Estate, vault_estate: VaultEstate, tmp_path: Path
) -> None:
    vault = vault_estate.vault
    before = _unwraps(vault)
    # 1. Through the service: the policy denies ranker to this workload; the KEK is not used.
    denied = _unseal(estate, vault_estate, "ranker", tmp_path / "out")
    assert denied.code == 1 and "SG-UNSEAL-009" in denied.stderr, denied.stderr
    assert _unwraps(vault) == before
    # 2. Skipping the hook with the workload's own credential through the library: the vault
    #    refuses, because only the service's identity holds unwrapKey on the KEK.
    workload_identity = keyvault.KeyVaultIdentity(vault.key_id, access(vault, DETECTOR_OID))
    with pytest.raises(DeniedError, match=r"denied the request to unwrap the data key .*HTTP 403"):
        unseal_model(
            vault_estate.sealed["ranker"],
            tmp_path / "skipped",
            identities=[workload_identity],
            trust=load_trust(estate.root / "release.pub"),
            allow_disk=True,
        )
    assert not (tmp_path / "skipped").exists()
    # 3. And the command line has no Key Vault identity path at all any more.
    direct = run_sealgate(
        "unseal", str(vault_estate.sealed["ranker"]), "--identity", f"keyvault:{vault.key_id}",
        "--environment", "dev", "--trust", str(estate.root / "release.pub"),
        "--into", str(tmp_path / "direct"), "--allow-disk", cwd=estate.root,
    )  # fmt: skip
    assert direct.code == 2 and "unwrapped only by the key release service" in direct.stderr
    assert not (tmp_path / "direct").exists()


def test_a_vault_that_refuses_the_service_is_an_outage_and_releases_nothing(
    estate: Estate, vault_estate: VaultEstate, tmp_path: Path
) -> None:
    vault = vault_estate.vault
    vault.allowed_object_ids.discard(SERVICE_OID)
    try:
        done = _unseal(estate, vault_estate, "detector", tmp_path / "out")
    finally:
        vault.allowed_object_ids.add(SERVICE_OID)
    assert done.code == 3, done.stderr
    assert "HTTP 503" in done.stderr and "KEK of dev" in done.stderr
    assert not (tmp_path / "out").exists()
