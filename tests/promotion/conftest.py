"""Fixtures for promotion tests: keys, sealed models, the promotion policies, and registries
on both backends (a temporary folder, and Azurite started once per session on 127.0.0.1)."""

from __future__ import annotations

import os
import secrets
import socket
import subprocess
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, replace
from pathlib import Path

import pytest
import yaml
from sealgate.policy import builtin_policy_root
from sealgate.promotion import open_registry
from sealgate.promotion._evidence import create_attestation
from sealgate.promotion._registry import Registry
from sealgate.promotion._requester import RequesterProof
from sealgate.promotion._service import GateOptions, open_gate
from sealgate.sealing import (
    SealOptions,
    generate_recipient_key,
    generate_signing_key,
    load_signing_private_key,
    parse_recipient,
    seal_model,
)

from tests.conftest import REPO, Run, run_sealgate

AZURITE = REPO / "node_modules" / ".bin" / "azurite-blob"
AZURITE_ACCOUNT = "devstoreaccount1"
# Azurite's published development account key (not a secret).
AZURITE_KEY = (
    "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw=="
)
MODEL_NAME = "fraud-detector"
# Evidence producers (names as policies/data/promotion.yaml trusts them) and their keys.
PRODUCERS = {
    "metrics": ("evaluation-pipeline", "evaluator"),
    "scan": ("model-scanner", "scanner"),
    "sbom": ("sbom-generator", "sbomgen"),
}
PREDICATES: dict[str, dict[str, object]] = {
    "metrics": {"metrics": {"accuracy": 0.95, "latency_p99_ms": 120}},
    "scan": {"scanner": "modelscan", "findings": {"critical": 0, "high": 0, "medium": 1, "low": 2}},
    "sbom": {"format": "spdx", "components": [{"name": "torch", "version": "2.5.1"}]},
}


@dataclass(frozen=True)
class Workspace:
    """Keys, trust and approver files and sealed models (the gate runs the built-in policies)."""

    root: Path

    def path(self, name: str) -> Path:
        return self.root / name

    def sealed(self, version: str) -> Path:
        return self.root / f"sealed-{version}"

    def identity(self, who: str) -> str:
        """The requester identity of ``who``'s key (``key:<key id>``)."""
        from sealgate.sealing._signing_keys import signing_key_id

        key = load_signing_private_key(self.path(f"{who}.key"))
        return f"key:{signing_key_id(key.public_key())}"

    def requester(self, who: str = "dave") -> RequesterProof:
        """A request signed with ``who``'s key (dave is a requester and no approver)."""
        return RequesterProof(key=self.path(f"{who}.key"))

    @property
    def kek_policies(self) -> Path:
        """A policy folder whose data makes the workspace's recipient key prod's KEK."""
        return self.root / "kek-policies"


def attest(
    workspace: Workspace,
    kind: str,
    digest: str,
    out: str,
    predicate: dict[str, object] | None = None,
    signer: str | None = None,
) -> Path:
    """A signed attestation of ``kind`` about ``digest`` (by its trusted producer by default)."""
    path = workspace.path(out)
    path.unlink(missing_ok=True)
    key = load_signing_private_key(workspace.path(f"{signer or PRODUCERS[kind][1]}.key"))
    path.write_bytes(
        create_attestation(kind, predicate or PREDICATES[kind], digest, MODEL_NAME, key)
    )
    return path


def _kek_policies(root: Path) -> None:
    data = yaml.safe_load((builtin_policy_root() / "data" / "promotion.yaml").read_text())
    kek = parse_recipient(f"local:{root / 'rcpt.pub'}").key_id
    for stage in data["stages"]:
        if stage.get("enforced"):
            stage["recipients"] = [kek]
    (root / "kek-policies" / "data").mkdir(parents=True)
    (root / "kek-policies" / "data" / "promotion.yaml").write_text(
        yaml.safe_dump({"stages": data["stages"]})
    )


def _seal(root: Path, version: str, signer: str) -> Path:
    model = root / f"model-{version}"
    (model / "weights").mkdir(parents=True)
    (model / "config.json").write_text(f'{{"version": "{version}"}}\n')
    (model / "weights" / "model.safetensors").write_bytes(os.urandom(4096))
    out = root / (f"sealed-{version}" if signer == "release" else f"sealed-{version}-{signer}")
    seal_model(
        model,
        out,
        name=MODEL_NAME,
        version=version,
        signing_key=load_signing_private_key(root / f"{signer}.key"),
        recipients=[parse_recipient(f"local:{root / 'rcpt.pub'}")],
        options=SealOptions(chunk_size=1024, workers=1),
    )
    return out


@pytest.fixture(scope="session")
def workspace(tmp_path_factory: pytest.TempPathFactory) -> Workspace:
    root = tmp_path_factory.mktemp("promotion")
    producers = [key for _, key in PRODUCERS.values()]
    for name in (
        "release",
        "rogue",
        "gate",
        "bob",
        "carol",
        "alice",
        "mallory",
        "dave",
        *producers,
    ):
        generate_signing_key(root / name)
    generate_recipient_key(root / "rcpt")
    (root / "approvers.yaml").write_text(
        "signers:\n"
        + "".join(f"  - name: {who}\n    public_key_path: {who}.pub\n" for who in ("bob", "carol"))
        + "  - name: alice\n    public_key_path: alice.pub\n"
    )
    (root / "requesters.yaml").write_text(
        "signers:\n"
        + "".join(f"  - name: {who}\n    public_key_path: {who}.pub\n" for who in ("alice", "dave"))
    )
    (root / "producers.yaml").write_text(
        "signers:\n"
        + "".join(
            f"  - name: {name}\n    public_key_path: {key}.pub\n"
            for name, key in PRODUCERS.values()
        )
    )
    _kek_policies(root)
    for version in ("1.0.0", "1.1.0", "0.9.0"):
        _seal(root, version, "release")
    _seal(root, "1.2.0", "rogue")
    return Workspace(root)


# --- Azurite ------------------------------------------------------------------------------


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@dataclass(frozen=True)
class Azurite:
    port: int

    @property
    def connection_string(self) -> str:
        return (
            f"DefaultEndpointsProtocol=http;AccountName={AZURITE_ACCOUNT};"
            f"AccountKey={AZURITE_KEY};"
            f"BlobEndpoint=http://127.0.0.1:{self.port}/{AZURITE_ACCOUNT};"
        )

    def new_container(self) -> str:
        from azure.storage.blob import BlobServiceClient

        name = f"registry-{secrets.token_hex(6)}"
        with BlobServiceClient.from_connection_string(self.connection_string) as service:
            service.create_container(name)
        return name


@pytest.fixture(scope="session")
def azurite(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Azurite]:
    if not AZURITE.exists():
        pytest.fail(
            f"{AZURITE} is missing: the registry tests need Azurite (npm `azurite`); "
            "run `make test` (it runs `npm ci`) or `npm ci` in the repository"
        )
    port = _free_port()
    location = tmp_path_factory.mktemp("azurite")
    process = subprocess.Popen(
        [
            str(AZURITE),
            "--silent",
            "--skipApiVersionCheck",
            "--blobHost",
            "127.0.0.1",
            "--blobPort",
            str(port),
            "--location",
            str(location),
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    deadline = time.monotonic() + 30
    while True:
        if process.poll() is not None:
            pytest.fail(f"Azurite exited: {process.stderr.read().decode()[-500:]}")  # type: ignore[union-attr]
        with socket.socket() as probe:
            if probe.connect_ex(("127.0.0.1", port)) == 0:
                break
        if time.monotonic() > deadline:
            process.kill()
            pytest.fail("Azurite did not start listening within 30 s")
        time.sleep(0.1)
    try:
        yield Azurite(port)
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        process.stderr.close()  # type: ignore[union-attr]


# --- registries on both backends -------------------------------------------------------------


@dataclass(frozen=True)
class RegistryTarget:
    url: str
    env: dict[str, str]

    def open(self) -> Registry:
        return open_registry(self.url)


@pytest.fixture(params=["file", "azblob"])
def registry_target(
    request: pytest.FixtureRequest, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> RegistryTarget:
    if request.param == "file":
        return RegistryTarget(f"file://{tmp_path / 'registry'}", {})
    emulator: Azurite = request.getfixturevalue("azurite")
    env = {"AZURE_STORAGE_CONNECTION_STRING": emulator.connection_string}
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    return RegistryTarget(f"azblob://{AZURITE_ACCOUNT}/{emulator.new_container()}", env)


@pytest.fixture
def file_registry(tmp_path: Path) -> RegistryTarget:
    return RegistryTarget(f"file://{tmp_path / 'registry'}", {})


def gate_options(workspace: Workspace, url: str, **changes: object) -> GateOptions:
    options = GateOptions(
        registry=url,
        trust=workspace.path("release.pub"),
        gate_key=workspace.path("gate.key"),
        approvers=workspace.path("approvers.yaml"),
        requesters=workspace.path("requesters.yaml"),
        producers=workspace.path("producers.yaml"),
    )
    return replace(options, **changes)  # type: ignore[arg-type]


def gate(workspace: Workspace, target: RegistryTarget):  # type: ignore[no-untyped-def]
    return open_gate(gate_options(workspace, target.url))


CliRunner = Callable[..., Run]


@pytest.fixture
def cli(workspace: Workspace, registry_target: RegistryTarget) -> CliRunner:
    return make_cli(workspace, registry_target)


def make_cli(workspace: Workspace, target: RegistryTarget) -> CliRunner:
    """`sealgate ARGS` in the workspace, with the registry, gate key and requester set."""

    def run(*args: str, requester: str = "alice", **env: str) -> Run:
        return run_sealgate(
            *args,
            cwd=workspace.root,
            env={
                "SEALGATE_REGISTRY": target.url,
                "SEALGATE_GATE_KEY": str(workspace.path("gate.key")),
                "SEALGATE_REQUESTER": requester,
                "SEALGATE_REQUESTERS": str(workspace.path("requesters.yaml")),
                "SEALGATE_PRODUCERS": str(workspace.path("producers.yaml")),
                **target.env,
                **env,
            },
        )

    return run


def snapshot(target: RegistryTarget) -> tuple[object, ...]:
    """Every pointer and the set of stored models: what a denial must leave untouched."""
    registry = target.open()
    pointers = sorted((stage, p.name, p.version, p.digest) for stage, p in registry.pointers())
    return tuple(pointers)
