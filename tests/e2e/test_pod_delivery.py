"""A sealed model reaches its pod: push, promotion to staging, then the staging stack's own
rendered model-server Deployment run as a simulated pod.

The pod is the offline plan of ``Pulumi.staging.yaml`` (with this test's release signer, gate
key and key release CA as the stack's trust inputs). Its init container command and its server
command run as subprocesses exactly as rendered, with only what a cluster provides mapped:
each volume mount path to a temporary folder (the memory-backed ``models`` volume to tmpfs),
the ConfigMap ``sealgate-trust`` written from the plan, the projected service account token
minted by a local OIDC issuer for the audience and subject the manifest names, the in-cluster
key release URL and the Blob account to the services on 127.0.0.1 (the key release service,
Azurite), the image's interpreter to this one with a stand-in ``model_server`` module.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import stat
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import yaml
from sealgate.sealing import generate_recipient_key, generate_signing_key
from sealgate.sealing._signing_keys import load_signing_private_key, signing_key_id

from tests.conftest import REPO, run_sealgate
from tests.keyserver.conftest import Server, start_keyserver, stop
from tests.keyserver.pki import Pki, make_pki
from tests.oidc_issuer import OidcIssuer
from tests.promotion.conftest import AZURITE_ACCOUNT, Azurite
from tests.sealing.conftest import write_model

STACK = "staging"
MODEL = "fraud-detector"
VERSION = "3.1.0"
SERVER_EXIT = 7
IMAGE_PYTHON = "/opt/sealgate/bin/python"
# The image's model server, as a stand-in: hashes every unsealed file, then exits.
MODEL_SERVER = """\
import argparse, hashlib, json, os, pathlib, sys
parser = argparse.ArgumentParser()
parser.add_argument("--model-dir", required=True)
parser.add_argument("--port", type=int, required=True)
args = parser.parse_args()
model = pathlib.Path(args.model_dir)
files = {
    p.relative_to(model).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
    for p in sorted(model.rglob("*")) if p.is_file()
}
pathlib.Path(os.environ["MODEL_SERVER_MARKER"]).write_text(
    json.dumps({"files": files, "port": args.port})
)
sys.exit(7)
"""


@dataclass
class Estate:
    root: Path
    pki: Pki
    issuer: OidcIssuer
    azurite: Azurite
    registry: str

    @property
    def env(self) -> dict[str, str]:
        return {"AZURE_STORAGE_CONNECTION_STRING": self.azurite.connection_string}

    def ok(self, *args: str) -> dict[str, Any]:
        run = run_sealgate(*args, "--json", cwd=self.root, env=self.env)
        assert run.code == 0, f"sealgate {' '.join(args)}: {run.stdout}{run.stderr}"
        return dict(json.loads(run.stdout))


@pytest.fixture
def estate(tmp_path: Path, azurite: Azurite) -> Iterator[Estate]:
    root = tmp_path / "release"
    root.mkdir()
    for name in ("release", "gate", "keyserver", "alice", "bob", "evaluator", "scanner"):
        generate_signing_key(root / name)
    generate_recipient_key(root / f"kek-{STACK}")
    pki = make_pki(tmp_path / "pki")
    issuer = OidcIssuer(pki)
    registry = f"azblob://{AZURITE_ACCOUNT}/{azurite.new_container()}"
    try:
        yield Estate(root, pki, issuer, azurite, registry)
    finally:
        issuer.close()


def key_identity(path: Path) -> str:
    return f"key:{signing_key_id(load_signing_private_key(path).public_key())}"


def release_to_staging(estate: Estate) -> str:
    """Seal to the staging KEK, push (dev), promote to staging with an approval and evidence."""
    root = estate.root
    write_model(root / "model", seed=31)
    estate.ok("seal", "model", "--name", MODEL, "--version", VERSION, "--sign-key",
              "release.key", "--recipient", f"local:kek-{STACK}.pub", "--out", "sealed")  # fmt: skip
    digest = "sha256:" + hashlib.sha256((root / "sealed" / "seal.json").read_bytes()).hexdigest()
    gate = ("--registry", estate.registry, "--trust", "release.pub", "--gate-key", "gate.key")
    assert estate.ok("push", "sealed", *gate, "--requester", "release-pipeline")["decision"] == (
        "allow"
    )
    signers = {
        "requesters.yaml": [("alice", "alice.pub")],
        "approvers.yaml": [("bob", "bob.pub")],
        "producers.yaml": [("evaluation-pipeline", "evaluator.pub"),
                           ("model-scanner", "scanner.pub")],
    }  # fmt: skip
    for file, entries in signers.items():
        listed = [{"name": name, "public_key_path": key} for name, key in entries]
        (root / file).write_text(yaml.safe_dump({"signers": listed}))
    evidence = []
    for kind, key, body in (
        ("metrics", "evaluator.key", {"metrics": {"accuracy": 0.93, "latency_p99_ms": 90}}),
        (
            "scan",
            "scanner.key",
            {"scanner": "modelscan", "findings": {"critical": 0, "high": 0, "medium": 0, "low": 0}},
        ),
    ):
        (root / f"{kind}.json").write_text(json.dumps(body))
        run = run_sealgate("evidence", "sign", "--type", kind, "--predicate", f"{kind}.json",
                           "--digest", digest, "--key", key, "--out", f"{kind}.dsse.json",
                           cwd=root)  # fmt: skip
        assert run.code == 0, run.stderr
        evidence += ["--evidence", f"{kind}.dsse.json"]
    requester = key_identity(root / "alice.key")
    run = run_sealgate("approve", MODEL, VERSION, "--to", STACK, "--digest", digest,
                       "--requester", requester, "--key", "bob.key", "--out", "bob.json",
                       cwd=root)  # fmt: skip
    assert run.code == 0, run.stderr
    promoted = estate.ok(
        "promote", MODEL, VERSION, "--to", STACK, *gate, "--requester-key", "alice.key",
        "--requesters", "requesters.yaml", "--approvers", "approvers.yaml",
        "--approval", "bob.json", "--producers", "producers.yaml", *evidence,
    )  # fmt: skip
    assert promoted["decision"] == "allow", promoted
    return digest


def rendered_stack(estate: Estate, project: Path) -> dict[str, Any]:
    """The offline plan of the staging stack with this estate's keys as its trust inputs."""
    document = yaml.safe_load((REPO / f"Pulumi.{STACK}.yaml").read_text())
    config = document["config"]
    config["sealgate:served_model"] = MODEL
    config["sealgate:release_signer_keys"] = [(estate.root / "release.pub").read_text()]
    config["sealgate:gate_public_keys"] = [(estate.root / "gate.pub").read_text()]
    config["sealgate:keyserver_ca"] = estate.pki.ca.read_text()
    project.mkdir()
    (project / f"Pulumi.{STACK}.yaml").write_text(yaml.safe_dump(document))
    from sealgate.platform._plan import build_plan

    return build_plan(project, STACK)


def manifest(plan: dict[str, Any], kind: str, name: str) -> dict[str, Any]:
    [found] = [
        step["newState"]["inputs"]
        for step in plan["steps"]
        if step["newState"]["type"] == kind
        and step["newState"]["inputs"]["metadata"]["name"] == name
    ]
    return dict(found)


def start_service(estate: Estate, audience: str, subject: str) -> Server:
    """The key release service over the promotion registry: staging's KEK, this pod's grant."""
    root = estate.root
    (root / "unseal-data" / "data").mkdir(parents=True)
    grants = {
        "environments": {STACK: {"stage": STACK}},
        "attestation": {"pcr_bank": "sha256", "pcrs": [0, 7]},
        "workloads": [
            {
                "name": "model-server (AKS OIDC issuer)",
                "issuer": estate.issuer.issuer,
                "subject": subject,
                "environments": [STACK],
                "models": [MODEL],
            }
        ],
        "devices": [],
        "revoked": {"devices": [], "signer_key_ids": [], "workloads": []},
    }
    (root / "unseal-data" / "data" / "unseal.yaml").write_text(yaml.safe_dump(grants))
    config = {
        "service_id": audience,
        "registry": estate.registry,
        "trust": "release.pub",
        "gate_keys": ["gate.pub"],
        "signing_key": "keyserver.key",
        "policies": ["unseal-data"],
        "environments": {STACK: {"kek": f"local:kek-{STACK}.key"}},
        "issuers": [
            {"issuer": estate.issuer.issuer, "audiences": [audience],
             "ca_bundle": str(estate.pki.ca)}
        ],
        "tls": {"certificate": str(estate.pki.certificate), "key": str(estate.pki.key)},
    }  # fmt: skip
    path = root / "keyserver.yaml"
    path.write_text(yaml.safe_dump(config, sort_keys=False))
    return start_keyserver(path, estate.pki.ca, root / "keyserver.log", env=estate.env)


@dataclass
class Pod:
    """Volumes as folders, the cluster's names mapped to the local services."""

    spec: dict[str, Any]
    volumes: dict[str, Path]
    addresses: dict[str, str]
    env: dict[str, str]

    def _path(self, value: str, mounts: dict[str, Path]) -> str:
        for mount_path in sorted(mounts, key=len, reverse=True):
            if value == mount_path or value.startswith(mount_path + "/"):
                return str(mounts[mount_path]) + value[len(mount_path) :]
        return value

    def argv(self, container: dict[str, Any]) -> list[str]:
        mounts = {m["mountPath"]: self.volumes[m["name"]] for m in container["volumeMounts"]}
        argv: list[str] = []
        for arg in container["command"]:
            arg = self.addresses.get(arg, arg)
            if arg == "sealgate":
                argv += [sys.executable, "-m", "sealgate"]
            elif arg == IMAGE_PYTHON:
                argv.append(sys.executable)
            else:
                argv.append(self._path(arg, mounts))
        return argv

    def run(self, name: str, **extra_env: str) -> subprocess.CompletedProcess[str]:
        containers = self.spec.get("initContainers", []) + self.spec["containers"]
        [container] = [c for c in containers if c["name"] == name]
        mounts = {m["mountPath"]: self.volumes[m["name"]] for m in container["volumeMounts"]}
        env = {e["name"]: self._path(e["value"], mounts) for e in container.get("env", [])}
        return subprocess.run(
            self.argv(container),
            env={**os.environ, **self.env, **env, **extra_env},
            capture_output=True,
            text=True,
            timeout=300,
            check=False,
        )


def read_only(root: Path) -> None:
    for folder, _, files in os.walk(root):
        for file in files:
            Path(folder, file).chmod(stat.S_IRUSR)
        Path(folder).chmod(stat.S_IRUSR | stat.S_IXUSR)


def writable(root: Path) -> None:
    for folder, _, _ in os.walk(root):
        Path(folder).chmod(stat.S_IRWXU)


def test_a_promoted_sealed_model_is_delivered_into_the_rendered_pod_and_unsealed(
    estate: Estate, tmp_path: Path, memory_dir: Path
) -> None:
    plan = rendered_stack(estate, tmp_path / "project")
    deployment = manifest(plan, "kubernetes:apps/v1:Deployment", "model-server")
    pod_spec = deployment["spec"]["template"]["spec"]
    trust_map = manifest(plan, "kubernetes:core/v1:ConfigMap", "sealgate-trust")
    [token_volume] = [v for v in pod_spec["volumes"] if v["name"] == "keyserver-token"]
    [projected] = token_volume["projected"]["sources"]
    audience = projected["serviceAccountToken"]["audience"]
    namespace = deployment["metadata"]["namespace"]
    subject = f"system:serviceaccount:{namespace}:{pod_spec['serviceAccountName']}"

    # The cluster: volumes, the projected token, the trust ConfigMap, names -> local services.
    volumes = {v["name"]: tmp_path / "volumes" / v["name"] for v in pod_spec["volumes"]}
    volumes["models"] = memory_dir  # emptyDir medium: Memory
    for folder in volumes.values():
        folder.mkdir(parents=True, exist_ok=True)
    trust_volume = next(v for v in pod_spec["volumes"] if v["name"] == "trust")
    assert trust_volume["configMap"]["name"] == trust_map["metadata"]["name"]
    for key, text in trust_map["data"].items():
        (volumes["trust"] / key).write_text(text)
    token = estate.issuer.mint({"aud": audience, "sub": subject})
    (volumes["keyserver-token"] / projected["serviceAccountToken"]["path"]).write_text(token)
    stub = tmp_path / "image"
    stub.mkdir()
    (stub / "model_server.py").write_text(MODEL_SERVER)

    server = start_service(estate, audience, subject)
    try:
        init = pod_spec["initContainers"][0]
        main = pod_spec["containers"][0]
        in_cluster = {
            "keyserver": next(a for a in main["command"] if a.startswith("https://")),
            "registry": next(a for a in init["command"] if a.startswith("azblob://")),
        }
        pod = Pod(
            spec=pod_spec,
            volumes=volumes,
            addresses={
                in_cluster["keyserver"]: server.url,
                in_cluster["registry"]: estate.registry,
            },
            env={**estate.env, "PYTHONPATH": os.pathsep.join([str(stub), *sys.path])},
        )

        # Before the promotion, staging holds no such model: the init container fails closed.
        early = pod.run(init["name"])
        assert early.returncode == 1, early.stdout + early.stderr
        assert f"{MODEL} is not in stage {STACK}" in early.stderr
        assert "Traceback" not in early.stderr
        assert not (volumes["sealed"] / "current").exists()

        digest = release_to_staging(estate)

        fetched = pod.run(init["name"])
        assert fetched.returncode == 0, fetched.stdout + fetched.stderr
        assert digest in fetched.stdout
        sealed = volumes["sealed"] / "current"
        stored = hashlib.sha256((sealed / "seal.json").read_bytes()).hexdigest()
        assert f"sha256:{stored}" == digest
        assert not [p for p in volumes["sealed"].iterdir() if p.name != "current"]  # no scratch

        read_only(volumes["sealed"])  # the server mounts it readOnly
        marker = tmp_path / "served.json"
        served = pod.run(main["name"], MODEL_SERVER_MARKER=str(marker))
        assert served.returncode == SERVER_EXIT, served.stdout + served.stderr
    finally:
        stop(server.process)
        writable(volumes["sealed"])

    files = write_model(tmp_path / "expected", seed=31)
    report = json.loads(marker.read_text())
    assert report["files"] == {p: hashlib.sha256(c).hexdigest() for p, c in files.items()}
    assert report["port"] == 8080
    assert "Traceback" not in (estate.root / "keyserver.log").read_text()
    shutil.rmtree(tmp_path / "volumes", ignore_errors=True)
