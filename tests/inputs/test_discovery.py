"""Discovery: which files the gate checks, as which kind, and how broken files are reported."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest
from sealgate.errors import InputError
from sealgate.inputs._discovery import SNIFF_BYTES, classify, discover, load_inputs
from sealgate.inputs._kinds import ParseContext
from sealgate.inputs._model import InputProblem, PolicyInput

POD = "apiVersion: v1\nkind: Pod\nmetadata: {name: web}\nspec:\n  containers: [{name: a}]\n"
YAML_BOMB = "apiVersion: v1\nkind: ConfigMap\na: &a [x,x,x,x,x,x,x,x,x,x]\n" + "".join(
    f"{chr(98 + n)}: &{chr(98 + n)} [{', '.join([f'*{chr(97 + n)}'] * 10)}]\n" for n in range(7)
)
EDGE = json.dumps(
    {"modulesContent": {"$edgeAgent": {"properties.desired": {"modules": {"m": {}}}}}}
)


def write(root: Path, relative: str, content: str | bytes) -> Path:
    path = root / relative
    path.parent.mkdir(parents=True, exist_ok=True)
    if isinstance(content, bytes):
        path.write_bytes(content)
    else:
        path.write_text(content)
    return path


@pytest.mark.parametrize(
    "name",
    [
        "Dockerfile",
        "dockerfile",
        "Dockerfile.prod",
        "api.dockerfile",
        "api.Dockerfile",
        "Containerfile",
        "Containerfile.gpu",
        "Dockerfile-dev",
        "Containerfile-gpu",
    ],
)
def test_dockerfiles_by_name(tmp_path: Path, name: str) -> None:
    assert classify(write(tmp_path, name, "FROM scratch\n")) == "dockerfile"


@pytest.mark.parametrize(
    "name", ["dockerfile.py", "Dockerfile.dockerignore", ".dockerignore", "Dockerfiles.md"]
)
def test_lookalike_names_are_not_dockerfiles(tmp_path: Path, name: str) -> None:
    assert classify(write(tmp_path, name, "FROM scratch\n")) is None


def test_kubernetes_by_top_level_api_version_and_kind(tmp_path: Path) -> None:
    assert classify(write(tmp_path, "pod.yaml", POD)) == "kubernetes"
    assert classify(write(tmp_path, "pod.yml", "# c\n---\n" + POD)) == "kubernetes"
    indented = "spec:\n  apiVersion: v1\n  kind: Pod\n"
    assert classify(write(tmp_path, "values.yaml", indented)) is None
    assert classify(write(tmp_path, "only-kind.yaml", "kind: Pod\n")) is None
    assert classify(write(tmp_path, "pod.txt", POD)) is None


def test_kubernetes_markers_beyond_the_sniff_window_are_not_read(tmp_path: Path) -> None:
    padding = "# " + "x" * 78 + "\n"
    late = padding * (SNIFF_BYTES // len(padding) + 1) + POD
    assert classify(write(tmp_path, "late.yaml", late)) is None


def test_iot_edge_manifests_in_json_and_yaml(tmp_path: Path) -> None:
    assert classify(write(tmp_path, "deployment.json", EDGE)) == "iot-edge"
    yaml_manifest = "modulesContent:\n  $edgeAgent: {}\napiVersion: x\nkind: y\n"
    assert classify(write(tmp_path, "deployment.yaml", yaml_manifest)) == "iot-edge"
    assert classify(write(tmp_path, "package.json", '{"name": "x"}')) is None


def test_repository_discovery_gates_samples_and_accounts_for_every_other_file(
    tmp_path: Path,
) -> None:
    subprocess.run(["git", "init", "-q", str(tmp_path)], check=True)
    write(tmp_path, ".gitignore", "build/\n")
    write(tmp_path, "images/server/Dockerfile", "FROM scratch\n")
    write(tmp_path, "deploy/pod.yaml", POD)
    write(tmp_path, "deploy/pod.json", json.dumps({"apiVersion": "v1", "kind": "Pod"}))
    write(tmp_path, "edge/deployment.json", EDGE)
    write(tmp_path, "policies/sealgate/containers/x/samples/denied/pod.yaml", POD)
    write(tmp_path, "build/pod.yaml", POD)
    write(tmp_path, "node_modules/chart/pod.yaml", POD)
    write(tmp_path, "notes.md", "apiVersion: v1\n")
    found = discover([tmp_path])
    gated = {(c.kind, c.path.relative_to(tmp_path).as_posix()) for c in found.candidates}
    assert gated == {
        ("dockerfile", "images/server/Dockerfile"),
        ("kubernetes", "deploy/pod.yaml"),
        ("kubernetes", "deploy/pod.json"),
        ("iot-edge", "edge/deployment.json"),
        ("kubernetes", "policies/sealgate/containers/x/samples/denied/pod.yaml"),
    }
    reasons = {n.path.relative_to(tmp_path).as_posix(): n.reason for n in found.not_gated}
    # git-ignored files are not the repository's; every other file is accounted for.
    assert reasons == {
        ".gitignore": "not a Dockerfile, Kubernetes or IoT Edge manifest, or Pulumi stack",
        "node_modules/chart/pod.yaml": "excluded folder node_modules",
        "notes.md": "not a Dockerfile, Kubernetes or IoT Edge manifest, or Pulumi stack",
    }


def test_excludes_are_folder_names_or_root_relative_globs(tmp_path: Path) -> None:
    write(tmp_path, "policies/sealgate/containers/x/samples/denied/pod.yaml", POD)
    write(tmp_path, "deploy/samples/pod.yaml", POD)
    write(tmp_path, "vendor/pod.yaml", POD)
    found = discover([tmp_path], excludes=("vendor", "policies/*/*/samples"))
    assert [c.path.relative_to(tmp_path).as_posix() for c in found.candidates] == [
        "deploy/samples/pod.yaml"
    ]
    assert sorted(n.reason for n in found.not_gated) == [
        "excluded folder policies/*/*/samples",
        "excluded folder vendor",
    ]


def test_json_that_names_no_kubernetes_object_is_not_gated(tmp_path: Path) -> None:
    assert classify(write(tmp_path, "a.json", '{"apiVersion": "v1"}')) is None
    assert classify(write(tmp_path, "b.json", '{"kind": 3, "apiVersion": "v1"}')) is None
    assert classify(write(tmp_path, "list.json", '{"kind": "List", "apiVersion": "v1"}')) == (
        "kubernetes"
    )


def test_only_stacks_of_the_sealgate_platform_are_planned(tmp_path: Path) -> None:
    write(tmp_path, "ours/Pulumi.yaml", "name: p\nruntime: python\n")
    ours = write(tmp_path, "ours/Pulumi.dev.yaml", "config:\n  sealgate:environment: dev\n")
    write(tmp_path, "theirs/Pulumi.yaml", "name: web\nruntime: nodejs\n")
    theirs = write(tmp_path, "theirs/Pulumi.dev.yaml", "config:\n  aws:region: eu-west-1\n")
    found = discover([tmp_path])
    assert [(c.kind, c.path) for c in found.candidates] == [("pulumi-stack", ours)]
    [skipped] = [n for n in found.not_gated if n.path == theirs]
    assert "not a sealgate platform stack" in skipped.reason and "--preview" in skipped.reason
    # Named explicitly, a foreign stack is still only not gated, never planned or an error.
    assert discover([theirs]).candidates == []


def test_a_named_file_must_be_checkable(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="not a kind of file sealgate checks"):
        discover([write(tmp_path, "notes.md", "hello")])
    [candidate] = discover([write(tmp_path, "Dockerfile", "FROM scratch\n")]).candidates
    assert candidate.kind == "dockerfile"
    found = discover([tmp_path / "notes.md"], ignore_unknown=True)
    assert found.candidates == [] and [n.path.name for n in found.not_gated] == ["notes.md"]


def test_parsed_inputs_of_every_kind(tmp_path: Path) -> None:
    paths = [
        write(tmp_path, "Dockerfile", "FROM alpine\nUSER root\n"),
        write(tmp_path, "pod.yaml", POD),
        write(tmp_path, "deployment.json", EDGE),
    ]
    loaded = list(load_inputs(discover(paths).candidates, ParseContext()))
    assert all(isinstance(item, PolicyInput) for item in loaded)
    root = f"{tmp_path.resolve().as_posix()}/"
    assert [(i.kind, i.target.removeprefix(root)) for i in loaded] == [
        ("dockerfile", "Dockerfile"),
        ("kubernetes", "pod.yaml#Pod/default/web"),
        ("iot-edge", "deployment.json#module/m"),
    ]


@pytest.mark.parametrize(
    ("name", "content", "line", "message"),
    [
        ("Dockerfile", "FROM alpine\nRUNN x\n", 2, "unknown instruction"),
        ("chart.yaml", "apiVersion: v1\nkind: Pod\nmetadata:\n  {{ x }}: [\n", 4, "unrendered"),
        ("bomb.yaml", YAML_BOMB, 8, "(limits.max_values)"),
        ("junk.yaml", b"apiVersion: v1\nkind: Pod\n\x00\xff\x13", 1, "binary content"),
        (
            "deployment.json",
            '{"modulesContent": {"$edgeAgent": {"properties.desired": {"modules":\n'
            ' {"m": {"settings": {"createOptions": "{nope"}}}}}}}',
            2,
            "module m: createOptions is not valid JSON",
        ),
    ],
)
def test_unparsable_files_become_located_problems(
    tmp_path: Path, name: str, content: str | bytes, line: int, message: str
) -> None:
    [problem] = load_inputs(discover([write(tmp_path, name, content)]).candidates, ParseContext())
    assert isinstance(problem, InputProblem)
    assert problem.line == line and message in problem.message
    assert "\n" not in problem.message and "Traceback" not in problem.message


def test_oversized_manifest_is_a_problem_not_a_crash(tmp_path: Path) -> None:
    huge = POD + "data: " + "x" * (50 * 1024 * 1024) + "\n"
    [problem] = load_inputs(
        discover([write(tmp_path, "big.yaml", huge)]).candidates, ParseContext()
    )
    assert isinstance(problem, InputProblem) and "larger than the" in problem.message
