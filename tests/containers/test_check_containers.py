"""`sealgate check` on container files and folders of every kind, as a user runs it."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

from tests.conftest import REPO, run_sealgate

PRIVILEGED_POD = """\
apiVersion: v1
kind: Pod
metadata:
  name: debug
  namespace: tools
spec:
  containers:
    - name: shell
      image: sealgate.azurecr.io/tools/shell@sha256:{digest}
      securityContext:
        privileged: true
""".format(digest="ab" * 32)


def test_privileged_pod_fails_with_sarif_on_the_privileged_line(tmp_path: Path) -> None:
    pod = tmp_path / "debug-pod.yaml"
    pod.write_text(PRIVILEGED_POD)
    run = run_sealgate("check", str(pod), "--format", "sarif", cwd=REPO)
    assert run.code == 1, run.stderr
    results = json.loads(run.stdout)["runs"][0]["results"]
    privileged = [r for r in results if r["ruleId"] == "SG-K8S-001"]
    assert len(privileged) == 1
    region = privileged[0]["locations"][0]["physicalLocation"]["region"]
    expected_line = PRIVILEGED_POD.splitlines().index("        privileged: true") + 1
    assert region["startLine"] == expected_line


def test_a_folder_of_every_kind_is_gated(tmp_path: Path) -> None:
    """Dockerfiles, Kubernetes and IoT Edge manifests in one folder, found by discovery."""
    shutil.copytree(REPO / "images", tmp_path / "images")
    (tmp_path / "images" / "debug-pod.yaml").write_text(PRIVILEGED_POD)
    run = run_sealgate("check", str(tmp_path / "images"), "--format", "json", cwd=REPO)
    assert run.code == 1, run.stderr
    report = json.loads(run.stdout)
    assert "SG-K8S-001" in {f["id"] for f in report["findings"]}
    assert {Path(f["file"]).name for f in report["findings"]} == {"debug-pod.yaml"}
    checked = {Path(f).name for f in _checked_files(tmp_path)}
    assert {"Dockerfile", "deployment.yaml", "deployment.json"} <= checked


def _checked_files(tmp_path: Path) -> set[str]:
    out = tmp_path / "gate.xml"
    run_sealgate(
        "check", str(tmp_path / "images"), "--format", "junit", "--output", str(out), cwd=REPO
    )
    text = out.read_text()
    return {part.split('"')[0] for part in text.split('file="')[1:]}


def test_the_repository_images_pass() -> None:
    run = run_sealgate("check", "images/", cwd=REPO)
    assert run.code == 0, run.stdout + run.stderr
