"""`sealgate check` in someone else's repository: the root, what is not gated and why,
foreign Pulumi projects, and the configuration as `config show` reports it."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from collections.abc import Callable
from datetime import date, timedelta
from pathlib import Path

import pytest
from sealgate.errors import InputError
from sealgate.gate._stacks import plan_platform_stack

from tests.conftest import PRIVILEGED_POD, REPO, Run

Sealgate = Callable[..., Run]
DOCKERFILE = "FROM python:latest\nRUN pip install flask\n"


@pytest.fixture
def repository(tmp_path: Path) -> Path:
    root = tmp_path / "repo"
    (root / "deploy").mkdir(parents=True)
    (root / "service").mkdir()
    (root / "deploy" / "pod.yaml").write_text(PRIVILEGED_POD)
    (root / "service" / "Dockerfile").write_text(DOCKERFILE)
    (root / "README.md").write_text("# a service\n")
    subprocess.run(["git", "init", "-q", str(root)], check=True)
    return root


def findings(run: Run) -> list[str]:
    return [line for line in run.stdout.splitlines() if ": " in line and line[0] != " "][:-1]


def test_paths_are_relative_to_the_repository_from_any_folder(
    repository: Path, sealgate: Sealgate
) -> None:
    at_root = sealgate("check", cwd=repository)
    in_subfolder = sealgate("check", cwd=repository / "deploy")
    assert at_root.code == in_subfolder.code == 1, at_root.stderr
    assert at_root.stdout == in_subfolder.stdout
    files = {line.split(":")[0] for line in findings(at_root)}
    assert files == {"deploy/pod.yaml", "service/Dockerfile"}
    # A waiver written with the repository-relative target matches from a subfolder too.
    (repository / "waivers.yaml").write_text(
        "waivers:\n  - rule: SG-DOCKER-001\n    target: service/Dockerfile\n"
        "    owner: platform@example.com\n    reason: the base image moves next sprint\n"
        f"    expires: {date.today() + timedelta(days=30)}\n"
    )
    run = sealgate(
        "check", "--waivers", "../waivers.yaml", "--format", "json", cwd=repository / "deploy"
    )
    [waived] = [f for f in json.loads(run.stdout)["findings"] if f["id"] == "SG-DOCKER-001"]
    assert waived["target"] == "service/Dockerfile" and waived["suppressed"] is True


def test_every_file_not_gated_is_counted_and_listed_with_v(
    repository: Path, sealgate: Sealgate
) -> None:
    run = sealgate("check", cwd=repository)
    assert "1 file not gated (-v lists them with the reason)" in run.stderr
    verbose = sealgate("check", "-v", cwd=repository)
    assert "not gated: README.md: not a Dockerfile, Kubernetes or IoT Edge manifest" in (
        verbose.stderr
    )
    quiet = sealgate("check", "-q", cwd=repository)
    assert quiet.code == 1 and quiet.stderr == ""
    assert quiet.stdout.count("\n") == 1 and quiet.stdout.startswith("FAIL:")


def test_a_gate_with_no_input_is_a_usage_error(tmp_path: Path, sealgate: Sealgate) -> None:
    (tmp_path / "README.md").write_text("nothing to gate\n")
    run = sealgate("check", cwd=tmp_path)
    assert run.code == 2 and run.stdout == ""
    assert run.stderr.splitlines()[-1] == (
        f"sealgate: error: no input to gate in {tmp_path.resolve()}"
    )
    named = sealgate("check", "README.md", cwd=tmp_path)
    assert named.code == 2 and "README.md: not a kind of file sealgate checks" in named.stderr
    # A hook passing only files it asked to skip has nothing to gate: not an error.
    hook = sealgate("check", "README.md", "--ignore-unknown", cwd=tmp_path)
    assert hook.code == 0 and "1 file not gated" in hook.stderr


def test_a_foreign_pulumi_project_is_not_planned(tmp_path: Path, sealgate: Sealgate) -> None:
    (tmp_path / "Pulumi.yaml").write_text("name: web\nruntime: nodejs\n")
    (tmp_path / "Pulumi.dev.yaml").write_text("config:\n  aws:region: eu-west-1\n")
    (tmp_path / "index.ts").write_text("export {};\n")
    (tmp_path / "config.yaml").write_text(
        "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: web, namespace: web}\ndata: {a: b}\n"
    )
    run = sealgate("check", cwd=tmp_path)
    assert run.code == 0, run.stderr
    assert "not gated: Pulumi.dev.yaml: Pulumi stack of a project that is not a sealgate " in (
        run.stderr
    )
    assert "--preview FILE" in run.stderr


def test_config_show_names_where_each_value_came_from(repository: Path, sealgate: Sealgate) -> None:
    (repository / ".sealgate.yaml").write_text("fail_on: high\ndisable: [SG-K8S-017]\n")
    run = sealgate("config", "show", "--jobs", "3", cwd=repository / "deploy")
    assert run.code == 0, run.stderr
    lines = {line.split()[0]: line for line in run.stdout.splitlines()}
    assert lines["root:"] == f"root: {repository.resolve()}"
    assert lines["fail_on"].endswith("high  [.sealgate.yaml:1]")
    assert lines["disable"].endswith("SG-K8S-017  [.sealgate.yaml:2]")
    assert lines["jobs"].endswith("3  [--jobs]")
    assert lines["engine"].endswith("embedded  [default]")
    env = sealgate("config", "show", cwd=repository, env={"SEALGATE_JOBS": "2"})
    assert "2  [$SEALGATE_JOBS]" in env.stdout


def test_a_disabled_rule_and_a_typo_in_its_name(repository: Path, sealgate: Sealgate) -> None:
    def pod_rules(run: Run) -> set[str]:
        report = json.loads(run.stdout)
        return {f["id"] for f in report["findings"] if f["file"] == "deploy/pod.yaml"}

    baseline = pod_rules(sealgate("check", "--format", "json", cwd=repository))
    assert "SG-K8S-017" in baseline and len(baseline) > 1
    (repository / ".sealgate.yaml").write_text("disable: [SG-K8S-017]\n")
    assert pod_rules(sealgate("check", "--format", "json", cwd=repository)) == baseline - {
        "SG-K8S-017"
    }
    flag = sealgate("check", "--format", "json", "--disable", "SG-K8S-016", cwd=repository)
    assert pod_rules(flag) == baseline - {"SG-K8S-016"}  # the flag replaces the file's list
    only = sealgate("check", "--format", "json", "--enable", "SG-K8S-01[67]", cwd=repository)
    assert pod_rules(only) == {"SG-K8S-016"}  # enable narrows; the file's disable still holds
    typo = sealgate("check", "--disable", "SG-K8S-9999", cwd=repository)
    assert typo.code == 2 and "disable SG-K8S-9999: matches no loaded rule" in typo.stderr


def test_planning_without_the_infra_extra_names_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    for name in ("Pulumi.yaml", "Pulumi.dev.yaml"):
        shutil.copy(REPO / name, tmp_path / name)
    for module in [m for m in sys.modules if m.startswith(("pulumi", "sealgate.platform"))]:
        monkeypatch.delitem(sys.modules, module)
    monkeypatch.setitem(sys.modules, "pulumi", None)  # what an interpreter without it sees
    with pytest.raises(InputError) as err:
        plan_platform_stack(tmp_path, "dev")
    assert str(err.value) == (
        "planning stack dev offline needs the infra extra: pip install 'sealgate[infra]'"
    )
