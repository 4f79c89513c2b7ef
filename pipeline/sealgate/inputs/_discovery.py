"""Find the files the gate must check and the kind of input each one is."""

from __future__ import annotations

import re
import subprocess
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path

from sealgate._paths import display_path
from sealgate.errors import InputError
from sealgate.inputs._dockerfile import DOCKERFILE_KIND
from sealgate.inputs._iot_edge import IOT_EDGE_KIND
from sealgate.inputs._kinds import ParseContext, parse_file
from sealgate.inputs._kubernetes import KUBERNETES_KIND
from sealgate.inputs._model import InputProblem, PolicyInput
from sealgate.inputs._pulumi_plan import PULUMI_STACK_KIND

_STACK_FILE = re.compile(r"^Pulumi\.[A-Za-z0-9_.-]+\.yaml$")
_LOCATED = re.compile(r"^\S+?:(\d+): ")
SKIPPED_DIRS = {".git", ".venv", "venv", "node_modules", "__pycache__", ".pytest_cache", "samples"}


@dataclass(frozen=True)
class Detector:
    """Claims the files of one input kind, by name and, where needed, by a look inside."""

    kind: str
    claims: Callable[[Path], bool]


SNIFF_BYTES = 64 * 1024
_YAML_SUFFIXES = (".yaml", ".yml")
_KUBERNETES_MARKERS = (
    re.compile(rb"^apiVersion:", re.MULTILINE),
    re.compile(rb"^kind:", re.MULTILINE),
)


def _head(path: Path) -> bytes:
    """The first bytes of a file, enough to recognise it without parsing it."""
    try:
        with path.open("rb") as handle:
            return handle.read(SNIFF_BYTES)
    except OSError:
        return b""


def is_dockerfile(path: Path) -> bool:
    """``Dockerfile``, ``Dockerfile.*``, ``*.dockerfile``, ``Containerfile`` (and ``.*``).

    The ``Dockerfile.`` prefix is case-sensitive so that ``dockerfile.py`` stays source code.
    """
    name = path.name
    if name.endswith(".dockerignore"):
        return False
    return (
        name.lower() in ("dockerfile", "containerfile")
        or name.startswith(("Dockerfile.", "Containerfile."))
        or name.lower().endswith((".dockerfile", ".containerfile"))
    )


def is_iot_edge_manifest(path: Path) -> bool:
    return path.suffix.lower() in (".json", *_YAML_SUFFIXES) and b"modulesContent" in _head(path)


def is_kubernetes_manifest(path: Path) -> bool:
    if path.suffix.lower() not in _YAML_SUFFIXES:
        return False
    head = _head(path)
    return all(marker.search(head) for marker in _KUBERNETES_MARKERS)


# First match wins: an edge manifest written in YAML is never mistaken for Kubernetes.
def is_pulumi_stack(path: Path) -> bool:
    """``Pulumi.<stack>.yaml`` beside the project's ``Pulumi.yaml``."""
    return bool(_STACK_FILE.match(path.name)) and (path.parent / "Pulumi.yaml").is_file()


DETECTORS: list[Detector] = [
    Detector(PULUMI_STACK_KIND, is_pulumi_stack),
    Detector(DOCKERFILE_KIND, is_dockerfile),
    Detector(IOT_EDGE_KIND, is_iot_edge_manifest),
    Detector(KUBERNETES_KIND, is_kubernetes_manifest),
]


@dataclass(frozen=True)
class Candidate:
    kind: str
    path: Path


def repository_files(root: Path) -> list[Path]:
    """Tracked and untracked-but-not-ignored files under ``root`` (git), else a plain walk."""
    try:
        listed = subprocess.run(
            ["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
            cwd=root,
            capture_output=True,
            check=True,
            timeout=60,
        ).stdout
        files = [root / name for name in listed.decode().split("\0") if name]
        return sorted(p for p in files if p.is_file() and not _skipped(p, root))
    except (OSError, subprocess.SubprocessError):
        return sorted(p for p in root.rglob("*") if p.is_file() and not _skipped(p, root))


def _skipped(path: Path, root: Path) -> bool:
    return any(part in SKIPPED_DIRS for part in path.relative_to(root).parts[:-1])


def classify(path: Path) -> str | None:
    for detector in DETECTORS:
        if detector.claims(path):
            return detector.kind
    return None


def discover(paths: Iterable[Path]) -> list[Candidate]:
    """Every checkable file under ``paths``; a file named explicitly must be checkable."""
    candidates: list[Candidate] = []
    for path in paths:
        if path.is_dir():
            for file in repository_files(path):
                kind = classify(file)
                if kind:
                    candidates.append(Candidate(kind, file))
        elif path.is_file():
            kind = classify(path)
            if kind is None:
                raise InputError(f"{path}: not a kind of file sealgate checks")
            candidates.append(Candidate(kind, path))
        else:
            raise InputError(f"{path}: no such file or directory")
    return candidates


def load_inputs(
    candidates: Iterable[Candidate], context: ParseContext
) -> Iterable[PolicyInput | InputProblem]:
    """Parse each candidate; a file that does not parse becomes an InputProblem, not a pass."""
    for candidate in candidates:
        try:
            yield from parse_file(candidate.kind, candidate.path, context)
        except InputError as exc:
            located = _LOCATED.match(str(exc))
            line = int(located.group(1)) if located else 1
            yield InputProblem(display_path(candidate.path), str(exc), line)


def changed_files(base: str, root: Path) -> set[Path]:
    """Files changed since ``base``: committed on this branch, staged, unstaged or untracked."""
    commands = [
        ["git", "diff", "--name-only", "-z", "--diff-filter=ACMRT", f"{base}...HEAD"],
        ["git", "diff", "--name-only", "-z", "--diff-filter=ACMRT", "HEAD"],
        ["git", "ls-files", "-z", "--others", "--exclude-standard"],
    ]
    changed: set[Path] = set()
    for command in commands:
        try:
            listed = subprocess.run(command, cwd=root, capture_output=True, check=True, timeout=60)
        except subprocess.CalledProcessError as exc:
            reason = exc.stderr.decode(errors="replace").strip().splitlines()
            raise InputError(
                f"--changed-only {base}: {reason[0] if reason else 'git failed'}"
            ) from None
        except (OSError, subprocess.SubprocessError) as exc:
            raise InputError(f"--changed-only needs git: {exc}") from None
        top = subprocess.run(
            ["git", "rev-parse", "--show-toplevel"],
            cwd=root,
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
        changed.update(
            (Path(top) / name).resolve() for name in listed.stdout.decode().split("\0") if name
        )
    return changed


def only_changed(candidates: list[Candidate], changed: set[Path]) -> list[Candidate]:
    """The candidates a change can affect: changed files, and every stack when the
    infrastructure program (or the project file) changed, since its plans come from both."""
    program_changed = any(
        path.name == "Pulumi.yaml" or "infra" in path.parts[:-1] for path in changed
    )
    return [
        c
        for c in candidates
        if c.path.resolve() in changed or (c.kind == PULUMI_STACK_KIND and program_changed)
    ]
