"""Kubernetes manifests: one input per object, unchanged, with the line of every field."""

from __future__ import annotations

from pathlib import Path

import pytest
from sealgate.errors import InputError
from sealgate.inputs._kubernetes import KUBERNETES_KIND, WORKLOAD_POD_SPEC_PATHS, parse_kubernetes
from sealgate.inputs._model import InputProblem, PolicyInput

DEPLOYMENT_AND_SERVICE = """\
apiVersion: apps/v1
kind: Deployment
metadata:
  name: model-server
  namespace: models
spec:
  template:
    spec:
      initContainers:
        - name: fetch
          image: fetch:1
      containers:
        - name: server
          image: server:1
        - name: sidecar
          image: sidecar:1
          securityContext:
            privileged: true
---
apiVersion: v1
kind: Service
metadata:
  name: model-server
spec:
  ports:
    - port: 80
"""


def parse_all(
    tmp_path: Path, content: str | bytes, name: str = "deploy.yaml"
) -> list[PolicyInput | InputProblem]:
    path = tmp_path / name
    if isinstance(content, bytes):
        path.write_bytes(content)
    else:
        path.write_text(content)
    return parse_kubernetes(KUBERNETES_KIND, path)


def parse(tmp_path: Path, content: str | bytes, name: str = "deploy.yaml") -> list[PolicyInput]:
    parsed = parse_all(tmp_path, content, name)
    assert all(isinstance(item, PolicyInput) for item in parsed), parsed
    return [item for item in parsed if isinstance(item, PolicyInput)]


def problems(tmp_path: Path, content: str) -> list[InputProblem]:
    return [item for item in parse_all(tmp_path, content) if isinstance(item, InputProblem)]


def parse_error(tmp_path: Path, content: str | bytes) -> str:
    with pytest.raises(InputError) as caught:
        parse(tmp_path, content)
    return str(caught.value)


def test_one_input_per_object_with_targets(tmp_path: Path) -> None:
    deployment, service = parse(tmp_path, DEPLOYMENT_AND_SERVICE)
    assert deployment.kind == service.kind == "kubernetes"
    assert deployment.target.endswith("deploy.yaml#Deployment/models/model-server")
    assert service.target.endswith("deploy.yaml#Service/default/model-server")
    assert deployment.file == service.file and deployment.target.startswith(deployment.file)
    assert service.line == 20
    assert service.document == {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": {"name": "model-server"},
        "spec": {"ports": [{"port": 80}]},
    }


def test_privileged_second_container_points_at_its_line(tmp_path: Path) -> None:
    [deployment, _] = parse(tmp_path, DEPLOYMENT_AND_SERVICE)
    pod_spec = ("spec", "template", "spec")
    assert pod_spec == WORKLOAD_POD_SPEC_PATHS["Deployment"]
    path = [*pod_spec, "containers", 1, "securityContext", "privileged"]
    expected = DEPLOYMENT_AND_SERVICE.splitlines().index("            privileged: true") + 1
    assert deployment.locate(path) == expected == 18
    assert deployment.locate([*pod_spec, "initContainers", 0, "image"]) == 11
    assert deployment.document["spec"]["template"]["spec"]["containers"][1]["name"] == "sidecar"


def test_cronjob_pod_template_and_ephemeral_containers(tmp_path: Path) -> None:
    content = """\
apiVersion: batch/v1
kind: CronJob
metadata: {name: retrain, namespace: ml}
spec:
  schedule: "0 * * * *"
  jobTemplate:
    spec:
      template:
        spec:
          hostNetwork: true
          containers: [{name: train, image: "train:1"}]
---
apiVersion: v1
kind: Pod
metadata: {name: debug}
spec:
  containers: [{name: app, image: app}]
  ephemeralContainers:
    - name: shell
      image: busybox
      securityContext: {privileged: true}
"""
    cronjob, pod = parse(tmp_path, content)
    assert cronjob.target.endswith("#CronJob/ml/retrain")
    pod_spec = WORKLOAD_POD_SPEC_PATHS["CronJob"]
    assert cronjob.locate([*pod_spec, "hostNetwork"]) == 10
    assert pod.locate(["spec", "ephemeralContainers", 0, "securityContext", "privileged"]) == 21


def test_list_items_become_inputs_with_item_relative_lines(tmp_path: Path) -> None:
    content = """\
apiVersion: v1
kind: List
items:
  - apiVersion: v1
    kind: ConfigMap
    metadata: {name: settings}
    data: {a: "1"}
  - apiVersion: apps/v1
    kind: DaemonSet
    metadata:
      name: agent
      namespace: kube-system
    spec:
      template:
        spec:
          hostPID: true
          containers: [{name: agent, image: agent}]
"""
    config_map, daemon_set = parse(tmp_path, content)
    assert config_map.target.endswith("#ConfigMap/default/settings")
    assert config_map.document == {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {"name": "settings"},
        "data": {"a": "1"},
    }
    assert daemon_set.target.endswith("#DaemonSet/kube-system/agent")
    assert daemon_set.line == 8
    assert daemon_set.locate(["spec", "template", "spec", "hostPID"]) == 16
    assert daemon_set.lines[("kind",)] == 9
    assert not any(key and key[0] == "items" for key in daemon_set.lines)


def test_typed_lists_are_unpacked_too(tmp_path: Path) -> None:
    content = (
        "apiVersion: v1\nkind: PodList\nitems:\n"
        "- apiVersion: v1\n  kind: Pod\n  metadata: {name: a}\n  spec: {hostIPC: true}\n"
    )
    [pod] = parse(tmp_path, content)
    assert pod.target.endswith("#Pod/default/a") and pod.locate(["spec", "hostIPC"]) == 7


def test_every_workload_kind_is_an_input(tmp_path: Path) -> None:
    documents = [
        f"apiVersion: apps/v1\nkind: {kind}\nmetadata: {{name: w}}\nspec: {{}}\n"
        for kind in WORKLOAD_POD_SPEC_PATHS
    ]
    inputs = parse(tmp_path, "---\n".join(documents))
    assert [i.document["kind"] for i in inputs] == list(WORKLOAD_POD_SPEC_PATHS)
    assert len({i.target for i in inputs}) == len(inputs)


def test_generate_name_and_empty_documents(tmp_path: Path) -> None:
    content = "---\n---\napiVersion: batch/v1\nkind: Job\nmetadata: {generateName: run-}\n---\n"
    [job] = parse(tmp_path, content)
    assert job.target.endswith("#Job/default/run-*")


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        ("apiVersion: v1\nkind: Pod\n---\n- a\n- b\n", "deploy.yaml:4: a list where"),
        ("apiVersion: v1\nkind: Pod\n---\nmetadata: {name: x}\n", "deploy.yaml:4: a Kubernetes"),
        ("apiVersion: v1\nkind: List\nitems: {a: 1}\n", "deploy.yaml:3: List items must be"),
        ("apiVersion: v1\nkind: List\nitems:\n  - 42\n", "deploy.yaml:4: items[0]: a number where"),
    ],
)
def test_malformed_objects_name_the_line(tmp_path: Path, content: str, expected: str) -> None:
    [problem] = problems(tmp_path, content)
    assert expected in problem.message and "\n" not in problem.message
    assert problem.line == int(expected.split(":")[1])


def test_a_null_list_item_is_reported_and_the_others_are_gated(tmp_path: Path) -> None:
    content = (
        "apiVersion: v1\nkind: List\nitems:\n"
        "  - {apiVersion: v1, kind: ConfigMap, metadata: {name: a}}\n"
        "  - {apiVersion: v1, kind: ConfigMap, metadata: {name: b}}\n"
        "  - {apiVersion: v1, kind: ConfigMap, metadata: {name: c}}\n"
        "  - null\n"
        "  - {apiVersion: v1, kind: Pod, metadata: {name: d}}\n"
    )
    parsed = parse_all(tmp_path, content)
    assert [getattr(i, "target", "").rpartition("#")[2] for i in parsed] == [
        "ConfigMap/default/a",
        "ConfigMap/default/b",
        "ConfigMap/default/c",
        "",
        "Pod/default/d",
    ]
    problem = parsed[3]
    assert isinstance(problem, InputProblem)
    assert problem.line == 7 and problem.file.endswith("deploy.yaml")
    assert problem.message.endswith(
        "deploy.yaml:7: items[3]: null where a Kubernetes object was expected"
    )


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        (
            "apiVersion: v1\nkind: Pod\nmetadata: {name: p}\nspec:\n  - containers: []\n",
            ":4: Pod/default/p: spec is a list, not a mapping",
        ),
        (
            "apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: d}\nspec:\n  template:\n"
            "    spec:\n      containers:\n        app: {image: x, securityContext: {privileged: true}}\n",
            ":7: Deployment/default/d: spec.template.spec.containers is a mapping, not a list",
        ),
        (
            "apiVersion: batch/v1\nkind: CronJob\nmetadata: {name: c}\nspec:\n  jobTemplate: [x]\n",
            ":5: CronJob/default/c: spec.jobTemplate is a list, not a mapping",
        ),
        (
            "apiVersion: v1\nkind: Pod\nmetadata: {name: p}\nspec:\n  initContainers:\n    - busybox\n",
            ":6: Pod/default/p: spec.initContainers[0] is a string, not a mapping",
        ),
        (
            "apiVersion: v1\nkind: Pod\nmetadata: {name: p}\nspec:\n  containers: []\n"
            "  volumes: {host: {hostPath: {path: /}}}\n",
            ":6: Pod/default/p: spec.volumes is a mapping, not a list",
        ),
    ],
)
def test_malformed_workloads_are_reported_not_passed(
    tmp_path: Path, content: str, expected: str
) -> None:
    [problem] = problems(
        tmp_path, content + "---\napiVersion: v1\nkind: Service\nmetadata: {name: s}\n"
    )
    assert expected in problem.message
    assert len(parse_all(tmp_path, content + "---\napiVersion: v1\nkind: Service\n")) == 2


def test_absent_and_null_pod_spec_parts_are_not_malformed(tmp_path: Path) -> None:
    content = (
        "apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: d}\nspec:\n  template:\n"
        "    spec:\n      containers: null\n---\napiVersion: v1\nkind: Pod\nspec: null\n"
        "---\napiVersion: v1\nkind: ConfigMap\nspec: [not, a, pod]\n"
    )
    assert len(parse(tmp_path, content)) == 3


def test_unrendered_helm_template_is_an_input_error(tmp_path: Path) -> None:
    content = (
        "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n"
        "  name: {{ .Release.Name }}\n{{- if .Values.x }}\nspec: {}\n{{- end }}\n"
    )
    message = parse_error(tmp_path, content)
    assert "deploy.yaml:4: an unrendered template" in message and "helm template" in message
    assert "\n" not in message


def test_hostile_files_are_refused(tmp_path: Path) -> None:
    bomb = "apiVersion: v1\nkind: ConfigMap\na: &a [x,x,x,x,x,x,x,x,x,x]\n" + "".join(
        f"{chr(98 + n)}: &{chr(98 + n)} [{', '.join([f'*{chr(97 + n)}'] * 10)}]\n" for n in range(7)
    )
    assert "(limits.max_values)" in parse_error(tmp_path, bomb)
    assert "binary content" in parse_error(tmp_path, b"apiVersion: v1\n\x00\x01\x02")
    huge = "apiVersion: v1\nkind: ConfigMap\ndata:\n  x: " + "y" * (50 * 1024 * 1024) + "\n"
    assert "larger than the" in parse_error(tmp_path, huge)
