"""Files per second and peak memory of `sealgate check` on container files, against Checkov.

Generates 500 Kubernetes manifests and 100 Dockerfiles (seeded, varied: every workload kind,
hardened and not, one control broken at a time or many) in a temporary folder and gates
them with `sealgate check DIR` in a fresh process, as a user runs it. Peak memory is that
process's RSS high-water mark (wait4). Where Checkov is available (`checkov` on PATH, the
`--checkov` option or `SEALGATE_CHECKOV`), the same files go through Checkov's kubernetes and
dockerfile frameworks in the same run, and the benchmark prints the time ratio and, for the
controls both tools check, how many (file, object, control) findings each one reports next to
what the generator broke on purpose.

    python benchmarks/containers.py [--manifests 500] [--dockerfiles 100] [--checkov PATH]
"""

from __future__ import annotations

import argparse
import json
import os
import random
import resource
import shutil
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
    files: int = 0
    broken: Counter[str] = field(default_factory=Counter)  # control -> files broken on purpose


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
    if "Dockerfile USER" not in broken:
        lines.append(f"USER {rng.choice(['65532:65532', '10001', 'app'])}")
    lines.append("EXPOSE 8080")
    if "Dockerfile HEALTHCHECK" not in broken:
        lines.append('HEALTHCHECK --interval=30s CMD ["python3", "-m", "app.health"]')
    lines.append('ENTRYPOINT ["python3", "-m", "app"]')
    return "\n".join(lines) + "\n"


def generate(root: Path, manifests: int, dockerfiles: int, seed: int = 7) -> Corpus:
    rng = random.Random(seed)
    corpus = Corpus(root)
    for index in range(manifests):
        broken = _broken(rng, K8S_CONTROLS)
        workload = _workload(rng, index, broken)
        documents = [workload] + ([_service(index)] if rng.random() < 0.5 else [])
        folder = root / "deploy" / f"team-{index % 7}"
        folder.mkdir(parents=True, exist_ok=True)
        text = yaml.safe_dump_all(documents, sort_keys=False)
        (folder / f"app-{index}.yaml").write_text(text)
        corpus.broken.update(broken)
        corpus.files += 1
    for index in range(dockerfiles):
        broken = _broken(rng, DOCKER_CONTROLS)
        folder = root / "images" / f"service-{index}"
        folder.mkdir(parents=True, exist_ok=True)
        (folder / "Dockerfile").write_text(_dockerfile(rng, broken))
        corpus.broken.update(broken)
        corpus.files += 1
    return corpus


# --------------------------------------------------------------------------------------------
# measuring


@dataclass
class Measured:
    seconds: float
    peak_rss_mib: float
    exit_code: int


def run_measured(argv: list[str], cwd: Path, stdout: Path) -> Measured:
    """Run a command to completion: wall time and the RSS high-water mark of that process."""
    with stdout.open("wb") as out:
        started = time.perf_counter()
        process = subprocess.Popen(argv, cwd=cwd, stdout=out, stderr=subprocess.DEVNULL)
        _, status, usage = os.wait4(process.pid, 0)
        elapsed = time.perf_counter() - started
    process.returncode = os.waitstatus_to_exitcode(status)
    return Measured(elapsed, usage.ru_maxrss / 1024, process.returncode)


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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--manifests", type=int, default=500)
    parser.add_argument("--dockerfiles", type=int, default=100)
    parser.add_argument("--checkov", help="Checkov executable (default: SEALGATE_CHECKOV or PATH)")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory(prefix="sealgate-bench-") as temporary:
        root = Path(temporary) / "repo"
        corpus = generate(root, args.manifests, args.dockerfiles)
        report = Path(temporary) / "sealgate.json"
        sealgate = run_measured(
            [
                sys.executable,
                "-m",
                "sealgate",
                "check",
                str(root),
                "--format",
                "json",
                "--output",
                str(report),
            ],
            REPO,
            Path(temporary) / "sealgate.out",
        )
        if sealgate.exit_code not in (0, 1):
            raise SystemExit(f"sealgate check failed with exit code {sealgate.exit_code}")
        ours = sealgate_findings(report, root)
        own_rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        print(f"files: {args.manifests} Kubernetes manifests + {args.dockerfiles} Dockerfiles")
        print(
            f"sealgate check: {sealgate.seconds:.2f} s, {corpus.files / sealgate.seconds:.0f} files/s, "
            f"peak RSS {sealgate.peak_rss_mib:.0f} MiB (benchmark driver {own_rss:.0f} MiB)"
        )

        checkov = find_checkov(args.checkov)
        if checkov is None:
            print(
                "checkov: not installed (pip install checkov into a separate venv and pass "
                "--checkov PATH or set SEALGATE_CHECKOV); no comparison"
            )
            _print_table(corpus, ours, None)
            return
        checkov_report = Path(temporary) / "checkov.json"
        baseline = run_measured(
            [
                *checkov,
                "-d",
                str(root),
                "--framework",
                "kubernetes",
                "dockerfile",
                "-o",
                "json",
                "--quiet",
                "--compact",
                "--skip-download",
                "--soft-fail",
            ],
            Path(temporary),
            checkov_report,
        )
        theirs = checkov_findings(checkov_report, root)
        print(
            f"checkov (kubernetes + dockerfile): {baseline.seconds:.2f} s, "
            f"{corpus.files / baseline.seconds:.0f} files/s, peak RSS {baseline.peak_rss_mib:.0f} MiB"
        )
        print(f"speed-up: {baseline.seconds / sealgate.seconds:.1f}x (target 10x)")
        _print_table(corpus, ours, theirs)


def _print_table(corpus: Corpus, ours: Counter[str], theirs: Counter[str] | None) -> None:
    print(f"{'control':28} {'broken files':>12} {'sealgate':>9} {'checkov':>8}")
    for control in SHARED_CONTROLS:
        other = "-" if theirs is None else str(theirs[control])
        print(f"{control:28} {corpus.broken[control]:>12} {ours[control]:>9} {other:>8}")
    if theirs is not None:
        fewer = [c for c in SHARED_CONTROLS if ours[c] < theirs[c]]
        print("fewer findings than checkov on: " + (", ".join(fewer) if fewer else "none"))


if __name__ == "__main__":
    main()
