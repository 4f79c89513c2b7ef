"""Shared fixtures: run the real `sealgate` command, build policy trees in temporary folders."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent


@dataclass(frozen=True)
class Run:
    code: int
    stdout: str
    stderr: str


def run_sealgate(*args: str, cwd: Path, env: dict[str, str] | None = None) -> Run:
    """The installed command line, as a user runs it (a fresh process, real exit code)."""
    completed = subprocess.run(
        [sys.executable, "-m", "sealgate", *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        env={**os.environ, "RUST_BACKTRACE": "1", **(env or {})},
        timeout=300,
        check=False,
    )
    return Run(completed.returncode, completed.stdout, completed.stderr)


@pytest.fixture
def sealgate() -> Callable[..., Run]:
    return run_sealgate


@pytest.fixture
def policy_workspace(tmp_path: Path) -> Path:
    """A project folder with the real gate policies and one demo policy reading `demo` inputs,
    configured (`.sealgate.yaml`) to load only its own policies."""
    (tmp_path / ".sealgate.yaml").write_text("policies: [policies]\nbuiltin_policies: false\n")
    policies = tmp_path / "policies"
    shutil.copytree(REPO / "policies" / "sealgate" / "gate", policies / "gate")
    (policies / "lib").mkdir(parents=True, exist_ok=True)
    shutil.copy(
        REPO / "policies" / "sealgate" / "lib" / "findings" / "findings.rego", policies / "lib"
    )  # the findings helper
    (policies / "data").mkdir(parents=True)
    shutil.copy(REPO / "policies" / "data" / "gate.yaml", policies / "data" / "gate.yaml")
    (policies / "data" / "waivers.yaml").write_text("waivers: []\n")
    demo = policies / "demo" / "privileged"
    demo.mkdir(parents=True)
    (demo / "policy.rego").write_text(DEMO_POLICY)
    (demo / "policy_test.rego").write_text(DEMO_TEST)
    (demo / "samples" / "denied").mkdir(parents=True)
    (demo / "samples" / "allowed").mkdir(parents=True)
    (demo / "samples" / "denied" / "privileged.yaml").write_text(PRIVILEGED_POD)
    (demo / "samples" / "allowed" / "plain.yaml").write_text(PLAIN_POD)
    (demo / "samples" / "suite.yaml").write_text(
        "cases:\n"
        "  - input: denied/privileged.yaml\n    expect: [SG-DEMO-001]\n"
        "  - input: allowed/plain.yaml\n    expect: []\n"
    )
    return tmp_path


DEMO_POLICY = """\
# METADATA
# title: Demo container checks
# custom:
#   input: demo
package sealgate.demo.privileged

import rego.v1

# METADATA
# title: Container runs privileged
# description: A privileged container has every capability of the host.
# custom:
#   id: SG-DEMO-001
#   severity: high
#   remediation: Set securityContext.privileged to false.
deny contains finding if {
	some i, container in input.spec.containers
	container.securityContext.privileged == true
	finding := {
		"id": "SG-DEMO-001",
		"msg": sprintf("container %s runs privileged", [container.name]),
		"severity": "high",
		"path": ["spec", "containers", i, "securityContext", "privileged"],
	}
}
"""

DEMO_TEST = """\
package sealgate.demo.privileged_test

import rego.v1

import data.sealgate.demo.privileged

test_privileged_container_is_denied if {
	some f in privileged.deny with input as {"spec": {"containers": [
		{"name": "a", "securityContext": {"privileged": true}},
	]}}
	f.id == "SG-DEMO-001"
}

test_plain_container_passes if {
	count(privileged.deny) == 0 with input as {"spec": {"containers": [{"name": "a"}]}}
}
"""

PRIVILEGED_POD = """\
apiVersion: v1
kind: Pod
metadata:
  name: model-server
spec:
  containers:
    - name: server
      image: registry.example/model@sha256:0000
      securityContext:
        privileged: true
"""

PLAIN_POD = """\
apiVersion: v1
kind: Pod
metadata:
  name: model-server
spec:
  containers:
    - name: server
      image: registry.example/model@sha256:0000
"""
