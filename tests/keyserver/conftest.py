"""Fixtures for the key release service: a test CA, a local OIDC issuer, a registry with
sealed models pushed through the gate, and the service itself on 127.0.0.1
(``sealgate keyserver serve``: gunicorn, TLS, two workers)."""

from __future__ import annotations

import hashlib
import json
import socket
import ssl
import subprocess
import sys
import time
import urllib.request
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import yaml
from sealgate.sealing import generate_recipient_key, generate_signing_key

from tests.conftest import Run, run_sealgate
from tests.keyserver.pki import Pki, make_pki
from tests.oidc_issuer import OidcIssuer
from tests.sealing.conftest import write_model

TENANT = "72f988bf-86f1-41af-91ab-2d7cd011db47"
AUDIENCE = "api://sealgate-keyserver"
DETECTOR_OID = "0d6f3a2b-5c4e-4f1a-9b8c-7d6e5f4a3b2c"
RANKER_SA = "system:serviceaccount:models:ranker-server"
SERVICE_ID = "https://keys.dev.test"


@dataclass
class Estate:
    """Keys, a registry with models pushed to dev, the unseal grants, a keyserver.yaml."""

    root: Path
    pki: Pki
    issuer: OidcIssuer
    config: Path
    registry: Path
    sealed: dict[str, Path] = field(default_factory=dict)
    files: dict[str, dict[str, bytes]] = field(default_factory=dict)

    def token(self, **claims: Any) -> Path:
        """A token file with a workload's claims (defaults: the detector's Entra identity)."""
        values = {
            "aud": AUDIENCE,
            "tid": TENANT,
            "oid": DETECTOR_OID,
            "sub": DETECTOR_OID,
            **claims,
        }
        minted = self.issuer.mint(values)
        return self.write_token(minted)

    def write_token(self, token: str) -> Path:
        path = self.root / f"token-{hashlib.sha256(token.encode()).hexdigest()[:12]}"
        path.write_text(token)
        return path

    def digest(self, name: str) -> str:
        return (
            "sha256:" + hashlib.sha256((self.sealed[name] / "seal.json").read_bytes()).hexdigest()
        )


def push(root: Path, registry: Path, sealed: Path) -> None:
    """`sealgate push` into dev through the gate (it signs the dev pointer)."""
    pushed = run_sealgate(
        "push", str(sealed), "--registry", f"file://{registry}", "--trust", "release.pub",
        "--gate-key", "gate.key", "--requester", "release-pipeline", cwd=root,
    )  # fmt: skip
    assert pushed.code == 0, pushed.stdout + pushed.stderr


def seal(
    root: Path, name: str, version: str, seed: int, label: str | None = None
) -> tuple[Path, dict[str, bytes]]:
    """Seal a small model to the dev KEK into ``sealed-<label>`` (default: the name)."""
    label = label or name
    files = write_model(root / f"model-{label}", seed=seed)
    out = root / f"sealed-{label}"
    sealed = run_sealgate(
        "seal", str(root / f"model-{label}"), "--name", name, "--version", version,
        "--sign-key", "release.key", "--recipient", "local:kek-dev.pub", "--out", str(out),
        "--chunk-size", "512", cwd=root,
    )  # fmt: skip
    assert sealed.code == 0, sealed.stderr
    return out, files


def unseal_grants(issuer: str) -> dict[str, Any]:
    return {
        "environments": {"dev": {"stage": "dev"}},
        "attestation": {"pcr_bank": "sha256", "pcrs": [0, 7]},
        "workloads": [
            {
                "name": "detector (Entra)",
                "tenant_id": TENANT,
                "object_id": DETECTOR_OID,
                "environments": ["dev"],
                "models": ["detector"],
            },
            {
                "name": "ranker (AKS)",
                "issuer": issuer,
                "subject": RANKER_SA,
                "environments": ["dev"],
                "models": ["ranker"],
            },
        ],
        "devices": [],
        "revoked": {"devices": [], "signer_key_ids": [], "workloads": []},
    }


def write_config(
    root: Path, pki: Pki, issuer: OidcIssuer, *, filename: str = "keyserver.yaml", **changes: Any
) -> Path:
    config = {
        "service_id": SERVICE_ID,
        "registry": f"file://{root / 'registry'}",
        "trust": "release.pub",
        "gate_keys": ["gate.pub"],
        "signing_key": "keyserver.key",
        "policies": ["unseal-data"],
        "environments": {"dev": {"kek": "local:kek-dev.key"}},
        "issuers": [{"issuer": issuer.issuer, "audiences": [AUDIENCE], "ca_bundle": str(pki.ca)}],
        "enrolment": {"operators": ["operator-1"]},
        "tls": {"certificate": str(pki.certificate), "key": str(pki.key)},
        **changes,
    }
    path = root / filename
    path.write_text(yaml.safe_dump(config, sort_keys=False))
    return path


@pytest.fixture(scope="module")
def estate(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Estate]:
    root = tmp_path_factory.mktemp("keyserver")
    pki = make_pki(root / "pki")
    issuer = OidcIssuer(pki)
    for name in ("release", "gate", "keyserver"):
        generate_signing_key(root / name)
    generate_recipient_key(root / "kek-dev")
    (root / "unseal-data" / "data").mkdir(parents=True)
    (root / "unseal-data" / "data" / "unseal.yaml").write_text(
        yaml.safe_dump(unseal_grants(issuer.issuer))
    )
    estate = Estate(root, pki, issuer, write_config(root, pki, issuer), root / "registry")
    for seed, name in enumerate(("detector", "ranker")):
        estate.sealed[name], estate.files[name] = seal(root, name, "1.0", seed)
        push(root, estate.registry, estate.sealed[name])
    try:
        yield estate
    finally:
        issuer.close()


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@dataclass
class Server:
    url: str
    process: subprocess.Popen[bytes]
    log: Path


def wait_healthy(
    url: str, ca: Path, process: subprocess.Popen[bytes] | None, log: Path | None
) -> None:
    context = ssl.create_default_context(cafile=str(ca))
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if process is not None and process.poll() is not None:
            pytest.fail(f"the key server exited: {log.read_text()[-2000:] if log else ''}")
        try:
            health = url + "/v1/health"
            with urllib.request.urlopen(health, context=context, timeout=2) as answer:  # noqa: S310
                if json.loads(answer.read())["status"] == "ok":
                    return
        except OSError:
            time.sleep(0.1)
    pytest.fail("the key server did not become healthy within 60 s")


def start_keyserver(config: Path, ca: Path, log: Path, env: dict[str, str] | None = None) -> Server:
    port = _free_port()
    with log.open("wb") as output:
        process = subprocess.Popen(
            [sys.executable, "-m", "sealgate", "keyserver", "serve", "--config", str(config),
             "--host", "127.0.0.1", "--port", str(port), "--workers", "2"],
            stdout=output, stderr=subprocess.STDOUT, env={**__import__("os").environ, **(env or {})},
        )  # fmt: skip
    url = f"https://127.0.0.1:{port}"
    wait_healthy(url, ca, process, log)
    return Server(url, process, log)


def stop(process: subprocess.Popen[bytes]) -> None:
    process.terminate()
    try:
        process.wait(timeout=15)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


@pytest.fixture(scope="module")
def keyserver(estate: Estate) -> Iterator[Server]:
    server = start_keyserver(estate.config, estate.pki.ca, estate.root / "keyserver.log")
    try:
        yield server
    finally:
        stop(server.process)


UnsealRunner = Callable[..., Run]


@pytest.fixture
def unseal(estate: Estate, keyserver: Server, tmp_path: Path) -> UnsealRunner:
    """`sealgate unseal MODEL --keyserver URL --environment dev` with a token file."""

    def run(name: str, token: Path, *extra: str, into: Path | None = None) -> Run:
        return run_sealgate(
            "unseal", str(estate.sealed[name]), "--keyserver", keyserver.url,
            "--environment", "dev", "--token-file", str(token), "--ca-bundle", str(estate.pki.ca),
            "--trust", str(estate.root / "release.pub"), "--into", str(into or tmp_path / "out"),
            "--allow-disk", *extra, cwd=estate.root,
        )  # fmt: skip

    return run
