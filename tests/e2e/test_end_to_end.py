"""The whole product through the `sealgate` command line, as its users run it.

Release engineer: keys, seal, verify, push. Approvers: signed approvals. Release pipeline:
promote dev -> staging -> prod through the gate, and a denied promotion. Workload: unseal into
tmpfs in prod only where the unseal policy and the registry allow it, then exec the model
server. Edge device: unseal with its TPM key after attestation. Auditor: the signed trail
verifies and a forged record is named. CI: the pull-request gate on this repository.
The release (keys, device, sealed model) is made once; the registry flow runs on a filesystem
registry and on Blob Storage (Azurite).
"""

from __future__ import annotations

import hashlib
import json
import random
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest
import yaml
from azure.storage.blob import ContainerClient

from tests.conftest import REPO, Run, run_sealgate
from tests.keyrelease.conftest import Swtpm, unseal_policy_data
from tests.promotion.conftest import AZURITE_ACCOUNT, Azurite

MODEL = "fraud-detector"
VERSION = "1.0.0"
SEALED = f"{MODEL}-{VERSION}.sealed"
REQUESTER = "alice"  # signs her requests with alice.key (listed in requesters.yaml)
APPROVERS = ("bob", "carol")
# Evidence producers as the built-in promotion data trusts them, and their keys.
PRODUCERS = {"metrics": "evaluation-pipeline", "scan": "model-scanner", "sbom": "sbom-generator"}

# Runs as the "model server" the workload execs into: proves the model is there by hashing
# every file, writes the result where the test can read it, exits with a code of its own.
MODEL_SERVER = """\
import hashlib, json, pathlib, sys
model, marker = pathlib.Path(sys.argv[1]), pathlib.Path(sys.argv[2])
files = {
    p.relative_to(model).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
    for p in sorted(model.rglob("*")) if p.is_file()
}
marker.write_text(json.dumps({"files": files, "config": json.loads((model / "config.json").read_text())}))
sys.exit(7)
"""
SERVER_EXIT = 7


# --- registries -------------------------------------------------------------------------------


@dataclass(frozen=True)
class Backend:
    """A registry URL plus what a workload or an auditor does outside sealgate: fetch the stored
    sealed model, read (and, to test the auditor, forge) the raw audit log."""

    url: str
    env: dict[str, str]
    root: Path | None = None  # file registry folder
    azurite: Azurite | None = None
    containers: tuple[str, str] = ("", "")  # blob: models and pointers, audit trail

    def _container(self, which: int) -> ContainerClient:
        assert self.azurite is not None
        return ContainerClient.from_connection_string(
            self.azurite.connection_string, self.containers[which]
        )

    def fetch_model(self, digest: str, into: Path) -> Path:
        """The stored sealed model, as a workload's init step would download it."""
        prefix = f"models/{digest.removeprefix('sha256:')}"
        if self.root is not None:
            return self.root / prefix
        with self._container(0) as container:
            for blob in container.list_blobs(name_starts_with=prefix + "/"):
                target = into / blob.name.removeprefix(prefix + "/")
                target.parent.mkdir(parents=True, exist_ok=True)
                target.write_bytes(container.download_blob(blob.name).readall())
        return into

    def read_audit_log(self) -> bytes:
        if self.root is not None:
            return (self.root / "audit" / "log.jsonl").read_bytes()
        with self._container(1) as container:
            return container.download_blob("audit/log.jsonl").readall()

    def write_audit_log(self, data: bytes) -> None:
        if self.root is not None:
            (self.root / "audit" / "log.jsonl").write_bytes(data)
            return
        with self._container(1) as container:
            blob = container.get_blob_client("audit/log.jsonl")
            blob.delete_blob()
            blob.create_append_blob()
            blob.append_block(data)


@pytest.fixture(params=["file", "azblob"])
def backend(request: pytest.FixtureRequest, tmp_path: Path) -> Backend:
    if request.param == "file":
        root = tmp_path / "registry"
        return Backend(f"file://{root}", {}, root=root)
    emulator: Azurite = request.getfixturevalue("azurite")
    # As in production: the audit trail in its own (immutable) container.
    models, audit = emulator.new_container(), emulator.new_container()
    return Backend(
        f"azblob://{AZURITE_ACCOUNT}/{models}?audit_container={audit}",
        {"AZURE_STORAGE_CONNECTION_STRING": emulator.connection_string},
        azurite=emulator,
        containers=(models, audit),
    )


# --- helpers ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class User:
    """Someone running `sealgate` in the release workspace."""

    workspace: Path
    backend: Backend

    def __call__(self, *args: str) -> Run:
        # The unseal policy counts only stages whose pointer the gate signed.
        env = {**self.backend.env, "SEALGATE_GATE_PUB": "gate.pub"}
        return run_sealgate(*args, cwd=self.workspace, env=env)

    def ok(self, *args: str) -> Run:
        run = self(*args)
        assert run.code == 0, f"sealgate {' '.join(args)}: {run.code}\n{run.stdout}{run.stderr}"
        assert "Traceback" not in run.stderr
        return run

    def json(self, *args: str) -> dict:
        return json.loads(self.ok(*args, "--json").stdout)

    @property
    def gate(self) -> tuple[str, ...]:
        return (
            "--registry", self.backend.url, "--trust", "trust.yaml",
            "--gate-key", "gate.key", "--requester-key", f"{REQUESTER}.key",
            "--requesters", "requesters.yaml",
        )  # fmt: skip

    @property
    def requester_identity(self) -> str:
        return (self.workspace / "requester.id").read_text()


def write_model(root: Path) -> dict[str, bytes]:
    """A small model: config, tokenizer, two weight shards in a subfolder."""
    rng = random.Random(20)
    files = {
        "config.json": b'{"architecture": "gbdt", "features": 42}\n',
        "tokenizer/vocab.txt": b"\n".join(b"token-%d" % i for i in range(200)),
        "weights/model-00001-of-00002.safetensors": rng.randbytes(150_000),
        "weights/model-00002-of-00002.safetensors": rng.randbytes(33_333),
    }
    for relative, content in files.items():
        (root / relative).parent.mkdir(parents=True, exist_ok=True)
        (root / relative).write_bytes(content)
    return files


def write_evidence(user: User, digest: str) -> list[str]:
    """Signed metrics, scan and SBOM attestations for ``digest`` within every stage's limits."""
    documents = {
        "metrics": {"metrics": {"accuracy": 0.94, "latency_p99_ms": 140}},
        "scan": {"scanner": "modelscan", "findings": {"critical": 0, "high": 0, "medium": 0, "low": 1}},
        "sbom": {"format": "spdx", "components": [{"name": "lightgbm", "version": "4.5.0"}]},
    }  # fmt: skip
    args = ["--producers", "producers.yaml"]
    for kind, body in documents.items():
        (user.workspace / f"{kind}.json").write_text(json.dumps(body))
        user.ok("evidence", "sign", "--type", kind, "--predicate", f"{kind}.json",
                "--digest", digest, "--key", f"{PRODUCERS[kind]}.key",
                "--out", f"{kind}.dsse.json")  # fmt: skip
        args += ["--evidence", f"{kind}.dsse.json"]
    return args


def approvals(user: User, digest: str, to: str, who: tuple[str, ...]) -> list[str]:
    args = []
    for approver in who:
        out = f"{approver}-{to}.approval.json"
        user.ok(
            "approve", MODEL, VERSION, "--to", to, "--digest", digest,
            "--requester", user.requester_identity, "--key", f"{approver}.key", "--out", out,
        )  # fmt: skip
        args += ["--approval", out]
    return args


def stages_of(user: User) -> dict[str, tuple[str, str]]:
    """`sealgate status`: stage -> (version, digest) of the model."""
    status = user.json("status", "--registry", user.backend.url)
    return {stage: (e["version"], e["digest"]) for stage, e in status.get(MODEL, {}).items()}


def records(backend: Backend) -> list[dict]:
    return [json.loads(line) for line in backend.read_audit_log().splitlines()]


def tree_digests(root: Path) -> dict[str, str]:
    return {
        p.relative_to(root).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(root.rglob("*"))
        if p.is_file()
    }


# --- the release: keys, device, sealed model (once for both registries) ------------------


@dataclass(frozen=True)
class Release:
    workspace: Path
    files: dict[str, bytes]
    digest: str
    serving_key_id: str
    device: dict


@pytest.fixture(scope="module")
def release(tmp_path_factory: pytest.TempPathFactory, edge_tpm: Swtpm) -> Release:
    workspace = tmp_path_factory.mktemp("release")
    user = User(workspace, Backend("", {}))

    # 1. Keys: release signer, gate, approvers, the serving workload's recipient key, a device.
    release = user.json("keys", "generate", "signing", "--out", "release")
    for name in ("gate", *APPROVERS, *PRODUCERS.values()):
        user.ok("keys", "generate", "signing", "--out", name)
    requester = user.json("keys", "generate", "signing", "--out", REQUESTER)
    (workspace / "requester.id").write_text(f"key:{requester['key_id']}")
    serving = user.json("keys", "generate", "recipient", "--out", "serving")
    assert (workspace / "serving.key").stat().st_mode & 0o777 == 0o600
    device = user.json("device", "enroll", "--tcti", edge_tpm.tcti, "--out", "gw01")
    (workspace / "trust.yaml").write_text(
        yaml.safe_dump({"signers": [{"name": "release-pipeline", "key_id": release["key_id"],
                                     "public_key_path": "release.pub"}]})
    )  # fmt: skip
    (workspace / "approvers.yaml").write_text(
        yaml.safe_dump({"signers": [{"name": a, "public_key_path": f"{a}.pub"} for a in APPROVERS]})
    )
    (workspace / "requesters.yaml").write_text(
        yaml.safe_dump({"signers": [{"name": REQUESTER, "public_key_path": f"{REQUESTER}.pub"}]})
    )
    (workspace / "producers.yaml").write_text(
        yaml.safe_dump({"signers": [{"name": p, "public_key_path": f"{p}.pub"}
                                    for p in PRODUCERS.values()]})
    )  # fmt: skip

    # 2. Seal a multi-file model for the workload and the device; verify it.
    files = write_model(workspace / "model")
    sealed = user.json(
        "seal", "model", "--name", MODEL, "--version", VERSION, "--sign-key", "release.key",
        "--recipient", "local:serving.pub", "--recipient", "tpm:gw01.pub",
        "--chunk-size", "65536", "--out", SEALED,
    )  # fmt: skip
    assert sealed["files"] == len(files)
    verified = user.json(
        "verify", SEALED, "--trust", "trust.yaml", "--name", MODEL, "--version", VERSION
    )
    assert verified["files"] == len(files)
    digest = "sha256:" + hashlib.sha256((workspace / SEALED / "seal.json").read_bytes()).hexdigest()
    return Release(workspace, files, digest, serving["key_id"], device)


# --- the test ---------------------------------------------------------------------------------


def test_seal_promote_gate_unseal_and_audit(
    release: Release, backend: Backend, tmp_path: Path, memory_dir: Path
) -> None:
    workspace = tmp_path / "release"
    shutil.copytree(release.workspace, workspace)
    user = User(workspace, backend)
    files, digest = release.files, release.digest
    current = (VERSION, digest)

    # 3. Push into the registry's first stage.
    pushed = user.json("push", SEALED, *user.gate)
    assert pushed["decision"] == "allow" and pushed["request"]["digest"] == digest
    assert stages_of(user) == {"dev": current}

    # 4. Promote to staging: one approver, metrics and scan evidence.
    evidence = write_evidence(user, digest)
    staged = user.json(
        "promote", MODEL, VERSION, "--to", "staging", *user.gate, "--approvers", "approvers.yaml",
        *approvals(user, digest, "staging", APPROVERS[:1]), *evidence[:6],
    )  # fmt: skip
    assert staged["decision"] == "allow"

    # 5. Denied: prod without approvals; nothing moves, the denial is a signed audit record.
    denied = user("promote", MODEL, VERSION, "--to", "prod", *user.gate,
                  "--approvers", "approvers.yaml", *evidence)  # fmt: skip
    assert denied.code == 1, denied.stdout + denied.stderr
    assert "SG-PROMO-020" in denied.stdout and "Traceback" not in denied.stderr
    assert stages_of(user) == {"dev": current, "staging": current}
    denial = records(backend)[-1]
    assert (denial["action"], denial["decision"], denial["actor"]) == (
        "promote",
        "deny",
        user.requester_identity,
    )
    assert denial["request"]["to"] == "prod" and denial["request"]["digest"] == digest
    assert any(reason.startswith("SG-PROMO-020") for reason in denial["reasons"])

    # 6. The unseal policy consults the registry: prod does not hold this model yet.
    policies = unseal_policy(tmp_path, release.serving_key_id, release.device)
    workload_sealed = backend.fetch_model(digest, tmp_path / "fetched")
    into = memory_dir / "model"
    unseal = ("unseal", str(workload_sealed), "--identity", "local:serving.key",
              "--trust", "trust.yaml", "--name", MODEL, "--version", VERSION,
              "--into", str(into), "--environment", "prod", "--registry", backend.url,
              "--policies", str(policies), "--decision-log", "decisions.jsonl")  # fmt: skip
    too_early = user(*unseal)
    assert too_early.code == 1, too_early.stderr
    assert "SG-UNSEAL-008" in too_early.stderr and "Traceback" not in too_early.stderr
    assert not into.exists() and list(memory_dir.iterdir()) == []

    # 7. Promote to prod: two distinct approvers, metrics, scan and SBOM evidence.
    # This model is sealed to consumer-held keys (the offline development path, outside the
    # enforcement boundary): prod is configured here as a stage that is not enforced.
    released = user.json(
        "promote", MODEL, VERSION, "--to", "prod", *user.gate, "--approvers", "approvers.yaml",
        *approvals(user, digest, "prod", APPROVERS), *evidence,
        "--policies", str(unenforced_prod(tmp_path)),
    )  # fmt: skip
    assert released["decision"] == "allow"
    assert stages_of(user) == {"dev": current, "staging": current, "prod": current}

    # 8. The prod workload unseals into tmpfs and execs its model server.
    marker = tmp_path / "server-started.json"
    started = user(*unseal, "--exec", sys.executable, "-c", MODEL_SERVER, str(into), str(marker))
    assert started.code == SERVER_EXIT, started.stderr  # the server replaced sealgate
    served = json.loads(marker.read_text())
    assert served["files"] == {p: hashlib.sha256(c).hexdigest() for p, c in files.items()}
    assert served["config"]["features"] == 42
    decisions = [
        json.loads(line) for line in (workspace / "decisions.jsonl").read_text().splitlines()
    ]
    assert [d["decision"] for d in decisions] == ["deny", "allow"]
    allow = decisions[-1]
    assert allow["environment"] == "prod" and allow["model"]["digest"] == digest
    assert allow["consumer"]["key_id"] == release.serving_key_id
    assert allow["registry"] == {"checked": True, "stages": ["dev", "prod", "staging"]}
    # The standard OpenSSF tool accepts the unsealed model with the release key.
    oms = run_model_signing(workspace / SEALED / "model.sig", workspace / "release.pub", into)
    assert oms.returncode == 0, oms.stdout + oms.stderr

    # 9. The edge device unseals with its TPM key after a verified quote.
    on_device = memory_dir / "device-model"
    user.ok("unseal", SEALED, "--identity", "tpm:gw01", "--trust", "trust.yaml",
            "--into", str(on_device), "--environment", "edge-prod", "--registry", backend.url,
            "--policies", str(policies), "--decision-log", "device.jsonl")  # fmt: skip
    assert tree_digests(on_device) == served["files"]
    [attested] = [
        json.loads(line) for line in (workspace / "device.jsonl").read_text().splitlines()
    ]
    assert attested["decision"] == "allow" and attested["attestation"]["verified"] is True

    # 10. The audit trail verifies; a denial rewritten as an allow is named.
    audit = ("audit", "verify", "--registry", backend.url, "--gate-pub", "gate.pub")
    report = user.json(*audit)
    assert (report["ok"], report["records"], report["allow"], report["deny"]) == (True, 4, 3, 1)
    lines = backend.read_audit_log().split(b"\n")
    denied_at = next(i for i, line in enumerate(lines) if b'"decision":"deny"' in line)
    lines[denied_at] = lines[denied_at].replace(b'"decision":"deny"', b'"decision":"allow"')
    backend.write_audit_log(b"\n".join(lines))
    forged = user(*audit)
    assert forged.code == 1, forged.stdout + forged.stderr
    assert f"record {denied_at}" in forged.stdout + forged.stderr
    assert "signature" in forged.stdout + forged.stderr


def test_pull_request_gate_passes_on_this_repository() -> None:
    """What CI runs on every pull request: `sealgate check` at the repository root."""
    gate = run_sealgate("check", cwd=REPO)
    assert gate.code == 0, gate.stdout + gate.stderr
    assert "PASS" in gate.stdout and "Traceback" not in gate.stderr


def unenforced_prod(root: Path) -> Path:
    """A policy folder whose promotion data does not enforce key release in prod."""
    config = yaml.safe_load((REPO / "policies" / "data" / "promotion.yaml").read_text())
    for stage in config["stages"]:
        stage["enforced"] = False
    folder = root / "unenforced-prod"
    (folder / "data").mkdir(parents=True, exist_ok=True)
    (folder / "data" / "promotion.yaml").write_text(yaml.safe_dump({"stages": config["stages"]}))
    return folder


def unseal_policy(root: Path, serving_key_id: str, device: dict) -> Path:
    """Unseal policy data over the built-in policies: the repository's data plus grants for
    this test's serving key in prod and its device (with the golden PCRs it reported) in
    edge-prod."""
    config = yaml.safe_load((REPO / "policies" / "data" / "unseal.yaml").read_text())
    config["keys"] = [{"key_id": serving_key_id, "environments": ["prod"], "models": [MODEL]}]
    config["device_classes"]["e2e-gateway"] = {"golden_pcrs": device["pcrs"]["sha256"]}
    config["devices"].append(
        {
            "id": device["device_id"],
            "class": "e2e-gateway",
            "ak_key_id": device["ak_key_id"],
            "environments": ["edge-prod"],
            "models": [MODEL],
        }
    )
    return unseal_policy_data(root, config)


def run_model_signing(
    signature: Path, public_key: Path, model: Path
) -> subprocess.CompletedProcess[str]:
    """The standard OpenSSF tool, `model_signing verify key`."""
    return subprocess.run(
        [str(Path(sys.executable).parent / "model_signing"), "verify", "key",
         "--signature", str(signature), "--public_key", str(public_key), str(model)],
        capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip
