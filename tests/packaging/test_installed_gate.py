"""The gate as a user installs it: ``pip install 'sealgate[gate]'`` from the wheel into a fresh
virtualenv, run in a git repository of the user's that holds no sealgate files at all.

With no flags, ``sealgate check`` gates the repository it is run in, from its root or any folder
below it, names files relative to that repository with their lines, and reads the repository's
``.sealgate.yaml``: extra policy folders (rules with the user's own prefix), data merged over
the built-in data, and built-in rules switched off.
"""

from __future__ import annotations

import json
import re
import shlex
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.conftest import REPO
from tests.packaging.helpers import clean_env

pytestmark = pytest.mark.slow

DOCKERFILE = """\
FROM python:latest
RUN pip install flask
CMD ["python", "-m", "flask", "run"]
"""

DEPLOYMENT = """\
apiVersion: apps/v1
kind: Deployment
metadata:
  name: scorer
spec:
  replicas: 1
  selector:
    matchLabels:
      app: scorer
  template:
    metadata:
      labels:
        app: scorer
    spec:
      containers:
        - name: scorer
          image: registry.acme.example/scorer@sha256:3b8d1f6a0c2e4b7d9f1a3c5e7b0d2f4a6c8e1b3d5f7a9c0e2b4d6f8a1c3e5b7d
          securityContext:
            privileged: true
"""

# A rule of the user's own, in the built-in policies' conventions (Rego v1, METADATA).
ACME_POLICY = """\
# METADATA
# title: ACME workload conventions
# description: ACME's own rules for Kubernetes workloads.
# custom:
#   input: kubernetes
package acme.k8s.labels

import rego.v1

workload_kinds := {"Deployment", "StatefulSet", "DaemonSet", "Job", "CronJob"}

# METADATA
# title: Workload without an owning team
# description: >-
#   Every workload names the team that owns it in the label acme.example/team, so that its
#   alerts reach someone.
# custom:
#   id: ACME-K8S-001
#   severity: medium
#   remediation: Add the label `acme.example/team` to the workload's metadata.
deny contains finding if {
	input.kind in workload_kinds
	not input.metadata.labels["acme.example/team"]
	finding := {
		"id": "ACME-K8S-001",
		"msg": sprintf("%s %s names no owning team (label acme.example/team)", [input.kind, input.metadata.name]),
		"severity": "medium",
		"path": ["metadata"],
	}
}
"""

ACME_POLICY_TEST = """\
package acme.k8s.labels_test

import rego.v1

import data.acme.k8s.labels

test_a_workload_without_a_team_is_denied if {
	some f in labels.deny with input as {"kind": "Deployment", "metadata": {"name": "a"}}
	f.id == "ACME-K8S-001"
}

test_a_workload_with_a_team_passes if {
	count(labels.deny) == 0 with input as {
		"kind": "Deployment",
		"metadata": {"name": "a", "labels": {"acme.example/team": "fraud"}},
	}
}
"""

CONFIG = """\
policies: [policy/acme]
data: [policy/acme-data/registries.yaml]
disable: [SG-DOCKER-003]
# The policy's samples are inputs for `sealgate policy test`, not part of the repository gate.
extend_exclude: ["policy/acme/*/*/samples"]
"""

ACME_SAMPLES = {
    "suite.yaml": "cases:\n"
    "  - {input: denied/deployment.yaml, expect: [ACME-K8S-001]}\n"
    "  - {input: allowed/deployment.yaml, expect: []}\n",
    "denied/deployment.yaml": "apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: a}\n",
    "allowed/deployment.yaml": "apiVersion: apps/v1\nkind: Deployment\n"
    "metadata: {name: a, labels: {acme.example/team: fraud}}\n",
}

# Lists replace the built-in list: the two built-in registries, plus ACME's.
REGISTRIES = """\
allowed:
  - mcr.microsoft.com
  - sealgate.azurecr.io
  - registry.acme.example
"""


def line_of(text: str, needle: str) -> int:
    return next(n for n, line in enumerate(text.splitlines(), start=1) if needle in line)


def edge_manifest() -> str:
    """The repository's IoT Edge deployment, with its model module made non-compliant."""
    manifest = json.loads((REPO / "images" / "edge-module" / "deployment.json").read_text())
    desired = manifest["modulesContent"]["$edgeAgent"]["properties.desired"]
    create_options = {
        "User": "65532:65532",
        "HostConfig": {"Privileged": True, "ReadonlyRootfs": True, "CapDrop": ["ALL"]},
    }
    desired["modules"]["model"]["settings"] = {
        "image": "acme/model-module:latest",
        "createOptions": json.dumps(create_options),
    }
    return json.dumps(manifest, indent=2) + "\n"


def git(root: Path, *args: str) -> None:
    subprocess.run(
        ["git", "-c", "user.name=sealgate tests", "-c", "user.email=tests@sealgate.invalid", *args],
        cwd=root,
        check=True,
        capture_output=True,
        timeout=60,
    )


def make_repository(root: Path) -> dict[tuple[str, str], int]:
    """A user's repository; returns the expected line of each (file, rule id) finding."""
    root.mkdir()
    git(root, "init", "-q", "-b", "main")
    (root / "Dockerfile").write_text(DOCKERFILE)
    (root / "deploy").mkdir()
    (root / "deploy" / "app.yaml").write_text(DEPLOYMENT)
    (root / "docs").mkdir()
    (root / "docs" / "README.md").write_text("How to deploy the scorer.\n")
    (root / ".gitignore").write_text("ignored/\n")
    (root / "ignored").mkdir()
    (root / "ignored" / "Dockerfile").write_text("FROM python:latest\n")
    git(root, "add", "-A")
    git(root, "commit", "-q", "-m", "scorer")
    # Untracked but not ignored: gated all the same.
    edge = edge_manifest()
    (root / "edge").mkdir()
    (root / "edge" / "deployment.json").write_text(edge)
    image_line = line_of(edge, '"acme/model-module:latest"')
    return {
        ("Dockerfile", "SG-DOCKER-002"): 1,  # docker.io is not an allowed registry
        ("Dockerfile", "SG-DOCKER-003"): 1,  # no USER: runs as root
        ("deploy/app.yaml", "SG-K8S-001"): line_of(DEPLOYMENT, "privileged: true"),
        ("deploy/app.yaml", "SG-K8S-017"): line_of(DEPLOYMENT, "image:"),  # registry
        ("edge/deployment.json", "SG-EDGE-001"): image_line + 1,  # Privileged in createOptions
        ("edge/deployment.json", "SG-EDGE-007"): image_line,  # docker.io
    }


def add_configuration(root: Path) -> None:
    (root / ".sealgate.yaml").write_text(CONFIG)
    policy = root / "policy" / "acme" / "k8s" / "labels"
    policy.mkdir(parents=True)
    (policy / "policy.rego").write_text(ACME_POLICY)
    (policy / "policy_test.rego").write_text(ACME_POLICY_TEST)
    for name, content in ACME_SAMPLES.items():
        (policy / "samples" / name).parent.mkdir(parents=True, exist_ok=True)
        (policy / "samples" / name).write_text(content)
    (root / "policy" / "acme-data").mkdir()
    (root / "policy" / "acme-data" / "registries.yaml").write_text(REGISTRIES)


def run(bin_dir: Path, *args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(bin_dir / "sealgate"), *args],
        cwd=cwd,
        env=clean_env(),
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )


def findings(result: subprocess.CompletedProcess[str]) -> list[dict[str, Any]]:
    report: dict[str, Any] = json.loads(result.stdout)
    return list(report["findings"])


def located(result: subprocess.CompletedProcess[str]) -> set[tuple[str, str, int]]:
    return {(f["file"], f["id"], f["line"]) for f in findings(result)}


def test_the_command_runs_from_the_virtualenv_not_this_checkout(installed: Path) -> None:
    shown = subprocess.run(
        [str(installed / "python"), "-c", "import sealgate; print(sealgate.__file__)"],
        cwd=installed,
        env=clean_env(),
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    ).stdout.strip()
    assert Path(shown).is_relative_to(installed.parent)
    assert not Path(shown).is_relative_to(REPO)


def test_check_with_no_flags_gates_the_repository_from_any_folder(
    installed: Path, tmp_path: Path
) -> None:
    root = tmp_path / "scorer"
    expected = make_repository(root)

    text_at_root = run(installed, "check", cwd=root)
    text_below = run(installed, "check", cwd=root / "docs")
    assert text_at_root.returncode == 1, text_at_root.stderr
    assert text_below.returncode == 1, text_below.stderr
    assert text_at_root.stdout == text_below.stdout
    for (file, rule), line in expected.items():
        assert re.search(rf"^{re.escape(file)}:{line}: \w+ {rule} ", text_at_root.stdout, re.M), (
            file,
            rule,
            text_at_root.stdout,
        )

    json_at_root = run(installed, "check", "--format", "json", cwd=root)
    json_below = run(installed, "check", "--format", "json", cwd=root / "docs")
    assert json_at_root.stdout == json_below.stdout
    got = located(json_at_root)
    assert {(file, rule, line) for (file, rule), line in expected.items()} <= got
    files = {file for file, _, _ in got}
    assert files == {"Dockerfile", "deploy/app.yaml", "edge/deployment.json"}  # not ignored/


def test_the_repository_configuration_takes_effect(installed: Path, tmp_path: Path) -> None:
    root = tmp_path / "scorer"
    expected = make_repository(root)
    before = located(run(installed, "check", "--format", "json", cwd=root))
    assert ("deploy/app.yaml", "SG-K8S-017", expected[("deploy/app.yaml", "SG-K8S-017")]) in before
    assert not any(rule == "ACME-K8S-001" for _, rule, _ in before)

    add_configuration(root)
    at_root = run(installed, "check", "--format", "json", cwd=root)
    below = run(installed, "check", "--format", "json", cwd=root / "docs")
    assert at_root.returncode == 1, at_root.stderr
    assert at_root.stdout == below.stdout
    after = located(at_root)

    # The user's policy folder: its rule applies, with its own prefix, located in the file.
    assert ("deploy/app.yaml", "ACME-K8S-001", line_of(DEPLOYMENT, "metadata:")) in after
    # The disabled built-in rule: its findings are gone, the rest of its policy still applies.
    assert not any(rule == "SG-DOCKER-003" for _, rule, _ in after)
    assert ("Dockerfile", "SG-DOCKER-002", 1) in after
    # The data override: ACME's registry is allowed now; docker.io still is not.
    assert not any(rule == "SG-K8S-017" for _, rule, _ in after)
    edge_registry = expected[("edge/deployment.json", "SG-EDGE-007")]
    assert ("edge/deployment.json", "SG-EDGE-007", edge_registry) in after

    tested = run(installed, "policy", "test", "policy/acme", cwd=root)
    assert tested.returncode == 0, tested.stdout + tested.stderr


def test_the_pre_commit_entry_gates_the_changed_files(installed: Path, tmp_path: Path) -> None:
    root = tmp_path / "scorer"
    make_repository(root)
    workflow = root / ".github" / "workflows" / "ci.yml"
    workflow.parent.mkdir(parents=True)
    workflow.write_text("on: push\njobs: {}\n")
    [hook] = yaml.safe_load((REPO / ".pre-commit-hooks.yaml").read_text())
    entry = shlex.split(hook["entry"])
    changed = ["Dockerfile", "deploy/app.yaml", "docs/README.md", ".github/workflows/ci.yml"]
    selected = [name for name in changed if re.search(hook["files"], name)]
    assert selected == ["Dockerfile", "deploy/app.yaml", ".github/workflows/ci.yml"]

    gated = run(installed, *entry[1:], "--format", "json", *selected, cwd=root)
    assert gated.returncode == 1, gated.stderr
    assert {file for file, _, _ in located(gated)} == {"Dockerfile", "deploy/app.yaml"}

    # A commit that changes only YAML the gate does not check passes: nothing to gate.
    only_workflow = run(installed, *entry[1:], ".github/workflows/ci.yml", cwd=root)
    assert only_workflow.returncode == 0, only_workflow.stdout + only_workflow.stderr
