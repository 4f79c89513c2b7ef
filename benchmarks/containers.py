"""`sealgate check` against Checkov on a generated corpus shaped like real repositories.

The corpus (seeded; only this generator is committed) mixes hand-written manifests of one to
six documents, Helm-rendered files (`---` + `# Source: chart/templates/x.yaml` headers, long
label and annotation blocks, ConfigMaps with big embedded data, CRDs with deep schemas),
Kustomize bases and overlays, Dockerfiles from ten lines to long multi-stage builds with many
`RUN` chains of `&&` commands, IoT Edge deployment manifests with many modules, and YAML that
is no manifest (CI workflows, chart values, compose files) that both tools must skip. Every
workload kind appears hardened, with one control broken, or with several.

Each tool runs as a user runs it, in a fresh process in the corpus folder: one unmeasured
warm-up run each, then `--repeat` alternating runs; the medians of wall time, CPU time (the
process and its workers) and peak memory (the largest PSS sum over the process tree) are
printed with the ratios and PASS/MISS against the targets: at least 10x Checkov's speed and at
most a tenth of its peak memory, on the files both tools gate. Checkov has no IoT Edge
framework: those manifests are gated by sealgate only, in a separate run (`sealgate+edge`).
For the controls both tools check, the table counts the (file, object, control) findings of
each next to the objects the generator broke on purpose.

Checkov is not a dependency; install it into a virtualenv of its own, never the project's:

    python3 -m venv /tmp/checkov-venv && /tmp/checkov-venv/bin/pip install checkov==3.3.30
    python benchmarks/containers.py --checkov /tmp/checkov-venv/bin/checkov [--repeat 3]

(or set SEALGATE_CHECKOV, or put `checkov` on PATH). `--scale 0.5` halves every file count.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

REPO = Path(__file__).resolve().parent.parent
DIGEST = "sha256:" + "4c1e7a9b2d5f8e0a3c6b9d2f5e8a1c4b7d0e3f6a9c2b5e8d1f4a7c0e3b6d9f2a"

# control -> (sealgate rule ids, Checkov check ids)
SHARED_CONTROLS: dict[str, tuple[set[str], set[str]]] = {
    "privileged": ({"SG-K8S-001"}, {"CKV_K8S_16"}),
    "host namespaces": ({"SG-K8S-002"}, {"CKV_K8S_17", "CKV_K8S_18", "CKV_K8S_19"}),
    "allowPrivilegeEscalation": ({"SG-K8S-021"}, {"CKV_K8S_20"}),
    "runAsNonRoot": ({"SG-K8S-022"}, {"CKV_K8S_23"}),
    "readOnlyRootFilesystem": ({"SG-K8S-014"}, {"CKV_K8S_22"}),
    "limits": ({"SG-K8S-015"}, {"CKV_K8S_11", "CKV_K8S_13"}),
    "probes": ({"SG-K8S-012", "SG-K8S-013"}, {"CKV_K8S_8", "CKV_K8S_9"}),
    "image digest": ({"SG-K8S-016"}, {"CKV_K8S_43"}),
    "Dockerfile USER": ({"SG-DOCKER-003"}, {"CKV_DOCKER_3", "CKV_DOCKER_8"}),
    "Dockerfile HEALTHCHECK": ({"SG-DOCKER-009"}, {"CKV_DOCKER_2"}),
    "Dockerfile ADD URL": ({"SG-DOCKER-004"}, {"CKV_DOCKER_4"}),
}
K8S_CONTROLS = [c for c in SHARED_CONTROLS if not c.startswith("Dockerfile")]
DOCKER_CONTROLS = [c for c in SHARED_CONTROLS if c.startswith("Dockerfile")]


@dataclass
class Corpus:
    root: Path
    files: Counter[str] = field(default_factory=Counter)  # kind -> files written
    broken: Counter[str] = field(default_factory=Counter)  # control -> objects broken on purpose

    @property
    def common(self) -> int:
        """Files that both tools gate (Kubernetes manifests and Dockerfiles)."""
        return self.files["kubernetes"] + self.files["dockerfile"]


# --------------------------------------------------------------------------------------------
# generation


def _container(rng: random.Random, name: str, broken: set[str]) -> dict[str, Any]:
    image = f"sealgate.azurecr.io/apps/{name}"
    image += f":1.{rng.randint(0, 9)}" if "image digest" in broken else f"@{DIGEST}"
    context: dict[str, Any] = {
        "allowPrivilegeEscalation": "allowPrivilegeEscalation" in broken,
        "readOnlyRootFilesystem": "readOnlyRootFilesystem" not in broken,
        "runAsNonRoot": "runAsNonRoot" not in broken,
        "capabilities": {"drop": ["ALL"]},
    }
    if "privileged" in broken:
        context["privileged"] = True
    container: dict[str, Any] = {
        "name": name,
        "image": image,
        "ports": [{"name": "http", "containerPort": 8080}],
        "securityContext": context,
        "resources": {"requests": {"cpu": "100m", "memory": "128Mi"}},
    }
    if "limits" not in broken:
        container["resources"]["limits"] = {"cpu": "1", "memory": "512Mi"}
    if "probes" not in broken:
        container["livenessProbe"] = {"httpGet": {"path": "/healthz", "port": "http"}}
        container["readinessProbe"] = {"httpGet": {"path": "/ready", "port": "http"}}
    return container


def _pod_spec(rng: random.Random, name: str, broken: set[str], restart: str) -> dict[str, Any]:
    spec: dict[str, Any] = {
        "automountServiceAccountToken": False,
        "securityContext": {
            "runAsNonRoot": "runAsNonRoot" not in broken,
            "runAsUser": 10001,
            "seccompProfile": {"type": "RuntimeDefault"},
        },
        "containers": [_container(rng, name, broken)],
    }
    if restart != "Always":
        spec["restartPolicy"] = restart
    if "host namespaces" in broken:
        spec[rng.choice(["hostNetwork", "hostPID", "hostIPC"])] = True
    if rng.random() < 0.3:
        spec["containers"].append(_container(rng, f"{name}-sidecar", broken))
    return spec


def _workload(rng: random.Random, index: int, broken: set[str]) -> dict[str, Any]:
    name = f"app-{index}"
    meta = {"name": name, "namespace": f"team-{index % 7}", "labels": {"app": name}}
    kind = rng.choice(
        ["Deployment", "Deployment", "StatefulSet", "DaemonSet", "Pod", "Job", "CronJob"]
    )
    if kind in ("Job", "CronJob"):
        # Probes matter only for long-running pods: a job never has them broken on purpose.
        broken.discard("probes")
        pod = _pod_spec(rng, name, broken, "OnFailure")
        for container in pod["containers"]:
            container.setdefault("livenessProbe", {"exec": {"command": ["true"]}})
            container.setdefault("readinessProbe", {"exec": {"command": ["true"]}})
    else:
        pod = _pod_spec(rng, name, broken, "Always")
    template = {"metadata": {"labels": {"app": name}}, "spec": pod}
    if kind == "Pod":
        return {"apiVersion": "v1", "kind": "Pod", "metadata": meta, "spec": pod}
    if kind == "Job":
        return {
            "apiVersion": "batch/v1",
            "kind": "Job",
            "metadata": meta,
            "spec": {"template": template},
        }
    if kind == "CronJob":
        return {
            "apiVersion": "batch/v1",
            "kind": "CronJob",
            "metadata": meta,
            "spec": {"schedule": "*/15 * * * *", "jobTemplate": {"spec": {"template": template}}},
        }
    spec: dict[str, Any] = {"selector": {"matchLabels": {"app": name}}, "template": template}
    if kind != "DaemonSet":
        spec["replicas"] = rng.randint(1, 5)
    return {"apiVersion": "apps/v1", "kind": kind, "metadata": meta, "spec": spec}


def _service(index: int) -> dict[str, Any]:
    name = f"app-{index}"
    return {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": {"name": name, "namespace": f"team-{index % 7}"},
        "spec": {"selector": {"app": name}, "ports": [{"port": 80, "targetPort": "http"}]},
    }


def _broken(rng: random.Random, controls: list[str]) -> set[str]:
    """A third hardened, a third with one control broken, a third with several."""
    roll = rng.random()
    if roll < 1 / 3:
        return set()
    if roll < 2 / 3:
        return {rng.choice(controls)}
    return set(rng.sample(controls, rng.randint(2, len(controls))))


def _runtime_tail(rng: random.Random, broken: set[str]) -> list[str]:
    """The last instructions of every generated Dockerfile: user, port, health check, entrypoint."""
    lines = []
    if "Dockerfile USER" not in broken:
        lines.append(f"USER {rng.choice(['65532:65532', '10001', 'app'])}")
    lines.append("EXPOSE 8080")
    if "Dockerfile HEALTHCHECK" not in broken:
        lines.append('HEALTHCHECK --interval=30s CMD ["python3", "-m", "app.health"]')
    lines.append('ENTRYPOINT ["python3", "-m", "app"]')
    return lines


def _dockerfile(rng: random.Random, broken: set[str]) -> str:
    base = "mcr.microsoft.com/azurelinux/base/python:3.12"
    lines = [
        f"FROM {base}@{DIGEST} AS build",
        "WORKDIR /src",
        "COPY requirements.txt .",
        "RUN python3 -m pip install --no-cache-dir --require-hashes -r requirements.txt --target /opt/app",
        "COPY app/ /opt/app/app/",
        "",
        f"FROM mcr.microsoft.com/azurelinux/distroless/python:3.12-nonroot@{DIGEST}",
        "COPY --from=build /opt/app /opt/app",
    ]
    if "Dockerfile ADD URL" in broken:
        lines.append("ADD https://example.com/models/labels.txt /opt/app/labels.txt")
    lines.append("ENV PYTHONPATH=/opt/app")
    return "\n".join([*lines, *_runtime_tail(rng, broken)]) + "\n"


def _long_dockerfile(rng: random.Random, broken: set[str], stages: int, runs: int) -> str:
    """A multi-stage Dockerfile with many ``RUN`` chains of ``&&`` commands (line-continued)."""
    packages = ["curl", "ca-certificates", "git", "build-essential", "libssl-dev", "unzip"]
    lines = [f"# syntax=docker/dockerfile:1.{rng.randint(4, 9)}", "ARG PYTHON_VERSION=3.12"]
    for stage in range(stages - 1):
        lines += [
            f"FROM mcr.microsoft.com/azurelinux/base/python:3.12@{DIGEST} AS stage{stage}",
            "WORKDIR /src",
            f"COPY requirements-{stage}.txt ./",
        ]
        for run in range(runs):
            commands = [
                "set -eux",
                "tdnf install -y " + " ".join(rng.sample(packages, rng.randint(2, 5))),
                *(
                    f"python3 -m pip install --no-cache-dir --require-hashes -r req-{run}-{k}.txt"
                    for k in range(rng.randint(1, 4))
                ),
                f"mkdir -p /opt/app/stage{stage}/{run}",
                *(f"echo step-{run}-{k} >> /opt/app/build.log" for k in range(rng.randint(0, 6))),
                "tdnf clean all",
                "rm -rf /var/cache/tdnf /root/.cache",
            ]
            lines.append("RUN " + " \\\n    && ".join(commands))
        lines.append(f"COPY src/stage{stage}/ /opt/app/stage{stage}/")
    lines += [
        f"FROM mcr.microsoft.com/azurelinux/distroless/python:3.12-nonroot@{DIGEST}",
        *(f"COPY --from=stage{stage} /opt/app /opt/app" for stage in range(stages - 1)),
        "ENV PYTHONPATH=/opt/app PYTHONUNBUFFERED=1",
        f'LABEL org.opencontainers.image.source="https://example.com/app" version="1.{rng.randint(0, 99)}"',
    ]
    if "Dockerfile ADD URL" in broken:
        lines.append("ADD https://example.com/models/labels.txt /opt/app/labels.txt")
    return "\n".join([*lines, *_runtime_tail(rng, broken)]) + "\n"


def _labels(rng: random.Random, name: str, chart: str, count: int) -> dict[str, str]:
    labels = {
        "app.kubernetes.io/name": name,
        "app.kubernetes.io/instance": f"{chart}-release",
        "app.kubernetes.io/version": f"1.{rng.randint(0, 40)}.{rng.randint(0, 9)}",
        "app.kubernetes.io/managed-by": "Helm",
        "helm.sh/chart": f"{chart}-0.{rng.randint(1, 30)}.0",
    }
    labels.update(
        {f"team.example.com/label-{k}": f"value-{rng.randint(0, 999)}" for k in range(count)}
    )
    return labels


def _annotations(rng: random.Random, count: int) -> dict[str, str]:
    return {
        f"example.com/annotation-{k}": " ".join(
            f"word{rng.randint(0, 99)}" for _ in range(rng.randint(1, 12))
        )
        for k in range(count)
    }


def _config_map(rng: random.Random, name: str, namespace: str, kib: int) -> dict[str, Any]:
    """A ConfigMap with big embedded configuration files (``kib`` KiB in all)."""
    data = {}
    for part in range(max(1, kib // 8)):
        lines = [f"setting_{k} = {rng.randint(0, 10**6)}  # tuned for load {k}" for k in range(200)]
        data[f"config-{part}.ini"] = "\n".join(lines) + "\n"
    return {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {"name": f"{name}-config", "namespace": namespace},
        "data": data,
    }


def _crd(rng: random.Random, chart: str, index: int) -> dict[str, Any]:
    """A CustomResourceDefinition with a large, deep OpenAPI schema (no workload inside)."""

    def schema(depth: int) -> dict[str, Any]:
        if depth == 0:
            return {"type": rng.choice(["string", "integer", "boolean"]), "description": "a field"}
        return {
            "type": "object",
            "description": f"level {depth} settings",
            "properties": {f"field{k}": schema(depth - 1) for k in range(rng.randint(2, 5))},
        }

    plural = f"widgets{index}"
    return {
        "apiVersion": "apiextensions.k8s.io/v1",
        "kind": "CustomResourceDefinition",
        "metadata": {"name": f"{plural}.{chart}.example.com"},
        "spec": {
            "group": f"{chart}.example.com",
            "names": {"kind": f"Widget{index}", "plural": plural, "singular": f"widget{index}"},
            "scope": "Namespaced",
            "versions": [
                {
                    "name": "v1",
                    "served": True,
                    "storage": True,
                    "schema": {"openAPIV3Schema": schema(4)},
                }
            ],
        },
    }


class _Generator:
    """Writes the corpus and counts, per shared control, the objects broken on purpose."""

    def __init__(self, root: Path, seed: int) -> None:
        self.rng = random.Random(seed)
        self.corpus = Corpus(root)
        self.workloads = 0

    def write(self, relative: str, text: str, *, kind: str) -> None:
        path = self.corpus.root / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
        self.corpus.files[kind] += 1

    def workload(self, name: str, namespace: str, **metadata: Any) -> dict[str, Any]:
        broken = _broken(self.rng, K8S_CONTROLS)
        self.workloads += 1
        document = _workload(self.rng, self.workloads, broken)
        document["metadata"] = {"name": name, "namespace": namespace, **metadata}
        self.corpus.broken.update(broken)
        return document

    def dockerfile(self, relative: str, stages: int, runs: int) -> None:
        broken = _broken(self.rng, DOCKER_CONTROLS)
        if stages == 0:
            text = _dockerfile(self.rng, broken)
        else:
            text = _long_dockerfile(self.rng, broken, stages, runs)
        self.corpus.broken.update(broken)
        self.write(relative, text, kind="dockerfile")


def _yaml(documents: list[dict[str, Any]]) -> str:
    return yaml.safe_dump_all(documents, sort_keys=False, width=100)


def _plain_manifests(gen: _Generator, count: int) -> None:
    """Hand-written manifests: one to six documents each, workloads with Services."""
    for index in range(count):
        namespace = f"team-{index % 7}"
        documents: list[dict[str, Any]] = []
        for part in range(gen.rng.choice([1, 1, 1, 2, 2, 3, 4, 6])):
            name = f"app-{index}-{part}"
            documents.append(gen.workload(name, namespace, labels={"app": name}))
            if gen.rng.random() < 0.5:
                service = _service(index)
                service["metadata"]["name"] = f"{name}-svc"
                documents.append(service)
        gen.write(f"deploy/{namespace}/app-{index}.yaml", _yaml(documents), kind="kubernetes")


def _helm_rendered(gen: _Generator, charts: int) -> None:
    """`helm template` output: one file per chart, `# Source:` headers, long label and
    annotation blocks, a ConfigMap with big embedded data, sometimes CRDs."""
    rng = gen.rng
    for index in range(charts):
        chart = f"chart{index}"
        namespace = f"release-{index}"
        blocks: list[tuple[str, dict[str, Any]]] = []
        for crd in range(rng.choice([0, 0, 1, 3])):
            blocks.append((f"{chart}/crds/widget{crd}.yaml", _crd(rng, chart, crd)))
        for component in range(rng.randint(2, 6)):
            name = f"{chart}-component{component}"
            labels = _labels(rng, name, chart, rng.randint(2, 20))
            blocks.append(
                (
                    f"{chart}/templates/serviceaccount.yaml",
                    {
                        "apiVersion": "v1",
                        "kind": "ServiceAccount",
                        "metadata": {"name": name, "namespace": namespace, "labels": labels},
                    },
                )
            )
            config = _config_map(rng, name, namespace, rng.choice([4, 8, 32, 96]))
            config["metadata"]["labels"] = labels
            blocks.append((f"{chart}/templates/configmap.yaml", config))
            workload = gen.workload(
                name, namespace, labels=labels, annotations=_annotations(rng, rng.randint(5, 30))
            )
            blocks.append((f"{chart}/templates/{workload['kind'].lower()}.yaml", workload))
            service = _service(component)
            service["metadata"] = {"name": name, "namespace": namespace, "labels": labels}
            blocks.append((f"{chart}/templates/service.yaml", service))
        text = "".join(
            f"---\n# Source: {source}\n" + yaml.safe_dump(document, sort_keys=False, width=100)
            for source, document in blocks
        )
        gen.write(f"rendered/{chart}.yaml", text, kind="kubernetes")


def _kustomize(gen: _Generator, apps: int) -> None:
    """Kustomize bases (workload + Service + kustomization) and overlays that patch replicas."""
    for index in range(apps):
        app = f"kapp-{index}"
        base = f"kustomize/{app}/base"
        workload = gen.workload(app, "default", labels={"app": app})
        gen.write(f"{base}/workload.yaml", _yaml([workload]), kind="kubernetes")
        service = _service(index)
        service["metadata"] = {"name": f"{app}-svc"}
        gen.write(f"{base}/service.yaml", _yaml([service]), kind="kubernetes")
        kustomization = {
            "apiVersion": "kustomize.config.k8s.io/v1beta1",
            "kind": "Kustomization",
            "resources": ["workload.yaml", "service.yaml"],
            "commonLabels": {"app.kubernetes.io/part-of": app},
        }
        gen.write(f"{base}/kustomization.yaml", _yaml([kustomization]), kind="kubernetes")
        for overlay in ("dev", "prod"):
            folder = f"kustomize/{app}/overlays/{overlay}"
            overlay_kustomization = {
                "apiVersion": "kustomize.config.k8s.io/v1beta1",
                "kind": "Kustomization",
                "namespace": f"{app}-{overlay}",
                "resources": ["../../base"],
                "patches": [{"path": "replicas.yaml"}],
            }
            gen.write(
                f"{folder}/kustomization.yaml", _yaml([overlay_kustomization]), kind="kubernetes"
            )
            patch = {
                "apiVersion": "apps/v1",
                "kind": "Deployment",
                "metadata": {"name": app},
                "spec": {"replicas": 1 if overlay == "dev" else 3},
            }
            gen.write(f"{folder}/replicas.yaml", _yaml([patch]), kind="kubernetes")


def _edge_manifests(gen: _Generator, count: int) -> None:
    """IoT Edge deployment manifests with many modules (Checkov has no framework for them)."""
    sample = REPO / "policies/sealgate/containers/edge_module/samples/allowed/deployment.json"
    template = json.loads(sample.read_text())
    desired = template["modulesContent"]["$edgeAgent"]["properties.desired"]
    originals = list(desired["modules"].values())
    for index in range(count):
        manifest = json.loads(json.dumps(template))
        modules = manifest["modulesContent"]["$edgeAgent"]["properties.desired"]["modules"]
        modules.clear()
        for number in range(gen.rng.choice([4, 10, 25, 60])):
            module = json.loads(json.dumps(gen.rng.choice(originals)))
            modules[f"module{number}"] = module
        gen.write(
            f"edge/site-{index}/deployment.json", json.dumps(manifest, indent=2), kind="iot-edge"
        )


_NOISE: dict[str, str] = {
    ".github/workflows/ci-{n}.yml": (
        "name: ci\non: [push, pull_request]\njobs:\n  test:\n    runs-on: ubuntu-latest\n"
        "    timeout-minutes: 20\n    steps:\n      - uses: actions/checkout@v4\n"
        "      - run: make test\n"
    ),
    "charts/chart{n}/values.yaml": (
        "replicaCount: 2\nimage:\n  repository: sealgate.azurecr.io/apps/app\n  tag: '1.0'\n"
        "resources:\n  limits:\n    cpu: '1'\n    memory: 512Mi\nkind: values\n"
    ),
    "charts/chart{n}/Chart.yaml": "apiVersion: v2\nname: chart{n}\nversion: 0.1.0\n",
    "compose/docker-compose-{n}.yml": (
        "services:\n  app:\n    image: sealgate.azurecr.io/apps/app:1.0\n    ports: ['8080:8080']\n"
    ),
    "docs/mkdocs-{n}.yml": "site_name: docs\nnav:\n  - Home: index.md\n",
}


def _noise(gen: _Generator, count: int) -> None:
    """YAML that is not a manifest (CI files, chart values and metadata): both tools skip it."""
    for n in range(count):
        for pattern, text in _NOISE.items():
            gen.write(pattern.format(n=n), text.format(n=n), kind="noise")


def generate(root: Path, scale: float = 1.0, seed: int = 7) -> Corpus:
    """A repository-shaped corpus; ``scale`` multiplies the number of files of every kind."""

    def n(count: int) -> int:
        return max(1, round(count * scale))

    gen = _Generator(root, seed)
    _plain_manifests(gen, n(300))
    _helm_rendered(gen, n(15))
    _kustomize(gen, n(25))
    for index in range(n(140)):
        roll = gen.rng.random()
        stages, runs = (0, 0) if roll < 0.6 else (2, 4) if roll < 0.9 else (4, 12)
        gen.dockerfile(f"images/service-{index}/Dockerfile", stages, runs)
    _edge_manifests(gen, n(12))
    _noise(gen, n(12))
    return gen.corpus


# --------------------------------------------------------------------------------------------
# measuring


@dataclass
class Measured:
    seconds: float  # wall clock
    cpu_seconds: float  # user + system, the process and every child it waited for (workers)
    peak_mib: float  # the largest PSS sum over the process tree (sampled every 20 ms)
    peak_rss_mib: float  # the largest single process's RSS high-water mark (wait4)
    exit_code: int


def run_measured(argv: list[str], cwd: Path, stdout: Path) -> Measured:
    """Run a command to completion: wall time, CPU time and peak memory of its process tree."""
    with stdout.open("wb") as out:
        started = time.perf_counter()
        process = subprocess.Popen(
            argv, cwd=cwd, stdout=out, stderr=subprocess.DEVNULL, env=_child_environment()
        )
        tree_peak = 0
        while True:
            pid, status, usage = os.wait4(process.pid, os.WNOHANG)
            if pid:
                break
            tree_peak = max(tree_peak, _tree_memory_kib(process.pid))
            time.sleep(0.02)
        elapsed = time.perf_counter() - started
    process.returncode = os.waitstatus_to_exitcode(status)
    return Measured(
        elapsed,
        usage.ru_utime + usage.ru_stime,
        tree_peak / 1024,
        usage.ru_maxrss / 1024,
        process.returncode,
    )


def _tree_memory_kib(root: int) -> int:
    """Memory of ``root`` and all its descendants now (Linux /proc), in KiB: the sum of their
    PSS, so that pages that forked workers share with their parent count once, not per
    process (RSS where PSS cannot be read)."""
    total, pending = 0, [root]
    while pending:
        pid = pending.pop()
        try:
            total += _pss_kib(pid)
            for task in Path(f"/proc/{pid}/task").iterdir():
                pending += [int(c) for c in (task / "children").read_text().split()]
        except (OSError, ValueError):
            continue
    return total


def _pss_kib(pid: int) -> int:
    try:
        lines = Path(f"/proc/{pid}/smaps_rollup").read_text().splitlines()
        field_name = "Pss:"
    except OSError:
        lines = Path(f"/proc/{pid}/status").read_text().splitlines()
        field_name = "VmRSS:"
    return sum(int(line.split()[1]) for line in lines if line.startswith(field_name))


def _child_environment() -> dict[str, str]:
    """The tools run as installed: with bytecode caches (pip writes them at install time)."""
    environment = dict(os.environ)
    environment.pop("PYTHONDONTWRITEBYTECODE", None)
    return environment


def sealgate_findings(report: Path, root: Path) -> Counter[str]:
    """control -> (file, object, control) findings that sealgate reported."""
    data = json.loads(report.read_text())
    seen: set[tuple[str, str, str]] = set()
    for finding in data["findings"]:
        for control, (rule_ids, _) in SHARED_CONTROLS.items():
            if finding["id"] in rule_ids:
                target = finding["target"].split("#", 1)
                obj = target[1] if len(target) > 1 else ""
                seen.add((_relative(finding["file"], root), obj.rsplit("/", 1)[-1], control))
    return Counter(control for _, _, control in seen)


def checkov_findings(report: Path, root: Path) -> Counter[str]:
    data = json.loads(report.read_text() or "[]")
    runs = data if isinstance(data, list) else [data]
    seen: set[tuple[str, str, str]] = set()
    for run in runs:
        for check in run.get("results", {}).get("failed_checks", []):
            for control, (_, check_ids) in SHARED_CONTROLS.items():
                if check["check_id"] in check_ids:
                    resource_name = str(check.get("resource", "")).split(".")
                    obj = resource_name[-1] if len(resource_name) >= 3 else ""
                    file = _relative(check.get("file_abs_path") or check["file_path"], root)
                    seen.add((file, obj, control))
    return Counter(control for _, _, control in seen)


def _relative(file: str, root: Path) -> str:
    path = Path(file)
    if not path.is_absolute():
        path = root / str(file).lstrip("/")
    try:
        return str(path.resolve().relative_to(root.resolve()))
    except ValueError:
        return str(file)


def find_checkov(explicit: str | None) -> list[str] | None:
    candidate = explicit or os.environ.get("SEALGATE_CHECKOV") or shutil.which("checkov")
    if candidate:
        return [candidate]
    probe = subprocess.run(
        [sys.executable, "-c", "import checkov"], capture_output=True, check=False
    )
    return [sys.executable, "-m", "checkov.main"] if probe.returncode == 0 else None


CHECKOV_FLAGS = [
    "--framework",
    "kubernetes",
    "dockerfile",
    "-o",
    "json",
    "--quiet",
    "--compact",
    "--skip-download",
    "--soft-fail",
]
TARGET_SPEED_UP = 10.0
TARGET_MEMORY_SHARE = 0.1


def _sealgate(report: Path, *extra: str) -> list[str]:
    return [
        sys.executable,
        "-m",
        "sealgate",
        "check",
        ".",
        *extra,
        "--format",
        "json",
        "--output",
        str(report),
    ]


def _median(runs: list[Measured]) -> Measured:
    return Measured(
        statistics.median(r.seconds for r in runs),
        statistics.median(r.cpu_seconds for r in runs),
        statistics.median(r.peak_mib for r in runs),
        statistics.median(r.peak_rss_mib for r in runs),
        runs[-1].exit_code,
    )


def _load() -> str:
    return " ".join(f"{value:.2f}" for value in os.getloadavg())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--scale", type=float, default=1.0, help="multiplies every file count")
    parser.add_argument("--repeat", type=int, default=3, help="alternating runs of each tool")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--checkov", help="Checkov executable (default: SEALGATE_CHECKOV or PATH)")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory(prefix="sealgate-bench-") as temporary:
        work = Path(temporary)
        root = work / "repo"
        corpus = generate(root, args.scale, args.seed)
        files = corpus.files
        print(
            f"corpus: {files['kubernetes']} Kubernetes manifests + {files['dockerfile']} "
            f"Dockerfiles (common to both tools), {files['iot-edge']} IoT Edge manifests "
            f"(sealgate only), {files['noise']} other YAML files (both skip)"
        )
        commands: dict[str, list[str]] = {
            # The common files only: what Checkov also gates (IoT Edge manifests left out).
            "sealgate": _sealgate(work / "sealgate.json", "--extend-exclude", "edge"),
            "sealgate+edge": _sealgate(work / "sealgate-all.json"),
        }
        checkov = find_checkov(args.checkov)
        if checkov is None:
            print(
                "checkov: not installed (python3 -m venv /tmp/checkov-venv && "
                "/tmp/checkov-venv/bin/pip install checkov==3.3.30, then pass "
                "--checkov /tmp/checkov-venv/bin/checkov or set SEALGATE_CHECKOV); no comparison"
            )
        else:
            commands["checkov"] = [*checkov, "-d", ".", *CHECKOV_FLAGS]
        print(f"load average before (1, 5, 15 min): {_load()}")
        # One unmeasured run each: bytecode caches written, page cache warm for both.
        for name, argv in commands.items():
            _checked(name, run_measured(argv, root, work / f"{name}.out"))
        runs: dict[str, list[Measured]] = {name: [] for name in commands}
        names = list(commands)
        for repetition in range(args.repeat):
            order = names if repetition % 2 == 0 else names[::-1]
            for name in order:
                runs[name].append(
                    _checked(name, run_measured(commands[name], root, work / f"{name}.out"))
                )
        print(f"load average after (1, 5, 15 min): {_load()}")
        medians = {name: _median(measured) for name, measured in runs.items()}
        counted = {
            "sealgate": corpus.common,
            "sealgate+edge": corpus.common + files["iot-edge"],
            "checkov": corpus.common,
        }
        print(f"median of {args.repeat} alternating runs:")
        for name, m in medians.items():
            print(
                f"  {name:14} {counted[name]:5} files  {m.seconds:7.2f} s wall "
                f"({counted[name] / m.seconds:5.0f} files/s)  {m.cpu_seconds:7.2f} s CPU  "
                f"peak {m.peak_mib:5.0f} MiB (largest process {m.peak_rss_mib:5.0f} MiB RSS)"
            )
        ours = sealgate_findings(work / "sealgate.json", root)
        if "checkov" not in medians:
            _print_table(corpus, ours, None)
            return
        theirs = checkov_findings(work / "checkov.out", root)
        ours_m, theirs_m = medians["sealgate"], medians["checkov"]
        wall = theirs_m.seconds / ours_m.seconds
        cpu = theirs_m.cpu_seconds / ours_m.cpu_seconds
        memory = ours_m.peak_mib / theirs_m.peak_mib
        print("on the common files, sealgate against checkov:")
        print(f"  speed-up (wall) {wall:5.1f}x  {_verdict(wall >= TARGET_SPEED_UP)} (target 10x)")
        print(f"  speed-up (CPU)  {cpu:5.1f}x  {_verdict(cpu >= TARGET_SPEED_UP)} (target 10x)")
        largest = ours_m.peak_rss_mib / theirs_m.peak_rss_mib
        print(
            f"  peak memory     {memory:5.2f} of checkov's  "
            f"{_verdict(memory <= TARGET_MEMORY_SHARE)} (target at most 0.10; PSS of all processes)"
        )
        print(
            f"  largest process {largest:5.2f} of checkov's  "
            f"{_verdict(largest <= TARGET_MEMORY_SHARE)} (RSS high-water mark of one process)"
        )
        _print_table(corpus, ours, theirs)


def _verdict(reached: bool) -> str:
    return "PASS" if reached else "MISS"


def _checked(name: str, measured: Measured) -> Measured:
    # sealgate exits 1 on findings, Checkov 0 with --soft-fail; anything else is a failed run.
    if measured.exit_code not in (0, 1):
        raise SystemExit(f"{name} failed with exit code {measured.exit_code}")
    return measured


def _print_table(corpus: Corpus, ours: Counter[str], theirs: Counter[str] | None) -> None:
    print("findings on the shared controls ((file, object, control), deduplicated):")
    print(f"  {'control':28} {'broken on purpose':>17} {'sealgate':>9} {'checkov':>8}")
    for control in SHARED_CONTROLS:
        other = "-" if theirs is None else str(theirs[control])
        print(f"  {control:28} {corpus.broken[control]:>17} {ours[control]:>9} {other:>8}")
    if theirs is not None:
        fewer = [c for c in SHARED_CONTROLS if ours[c] < theirs[c]]
        print("  fewer findings than checkov on: " + (", ".join(fewer) if fewer else "none"))


if __name__ == "__main__":
    main()
