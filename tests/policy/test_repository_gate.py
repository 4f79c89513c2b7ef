"""The whole-repository gate: every stack's offline plan, every image and manifest, waivers.

A clean copy passes; one weakened Dockerfile, one weakened manifest and one weakened stack
setting give exactly three findings, each naming its file and line.
"""

from __future__ import annotations

import json
import shutil
import subprocess
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.conftest import REPO, Run

Sealgate = Callable[..., Run]


@pytest.fixture(scope="module")
def repository_copy(tmp_path_factory: pytest.TempPathFactory) -> Path:
    copy = tmp_path_factory.mktemp("repository")
    tracked = subprocess.run(
        ["git", "ls-files", "-z"], cwd=REPO, capture_output=True, check=True
    ).stdout.decode()
    for name in filter(None, tracked.split("\0")):
        source = REPO / name
        if source.is_file():
            (copy / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, copy / name)
    return copy


def line_of(path: Path, text: str) -> int:
    return path.read_text().splitlines().index(text) + 1


def test_repository_passes_and_weakening_three_files_gives_three_findings(
    repository_copy: Path, sealgate: Sealgate
) -> None:
    clean = sealgate("check", "--format", "json", cwd=repository_copy)
    assert clean.code == 0, clean.stdout[-2000:] + clean.stderr
    report = json.loads(clean.stdout)
    assert report["summary"]["inputs"] > 300  # three stacks, images, manifests, waivers

    dockerfile = repository_copy / "images" / "model-server" / "Dockerfile"
    manifest = repository_copy / "images" / "model-server" / "deployment.yaml"
    stack = repository_copy / "Pulumi.prod.yaml"
    dockerfile.write_text(dockerfile.read_text().replace("HEALTHCHECK", "# no health check:", 1))
    manifest.write_text(
        manifest.read_text().replace(
            "readOnlyRootFilesystem: true", "readOnlyRootFilesystem: false", 1
        )
    )
    stack.write_text(
        stack.read_text().replace("audit_retention_days: 2555", "audit_retention_days: 365")
    )

    weakened = sealgate("check", "--format", "json", cwd=repository_copy)
    assert weakened.code == 1, weakened.stderr
    findings = sorted(
        (f["id"], f["file"], f["line"])
        for f in json.loads(weakened.stdout)["findings"]
        if f["blocking"]
    )
    final_from = max(
        i
        for i, line in enumerate(dockerfile.read_text().splitlines(), 1)
        if line.startswith("FROM ")
    )
    assert findings == sorted(
        [
            ("SG-DOCKER-009", "images/model-server/Dockerfile", final_from),
            (
                "SG-K8S-014",
                "images/model-server/deployment.yaml",
                line_of(manifest, "            readOnlyRootFilesystem: false"),
            ),
            # The setting retains both the audit container and the audit head witness.
            *[
                (
                    "SG-AZ-016",
                    "Pulumi.prod.yaml",
                    line_of(stack, "  sealgate:audit_retention_days: 365"),
                )
            ]
            * 2,
        ]
    )
