"""Find the files the gate must check and the kind of input each one is."""

from __future__ import annotations

import fnmatch
import re
import subprocess
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path

from sealgate._paths import display_path
from sealgate.errors import InputError
from sealgate.inputs._dockerfile import DOCKERFILE_KIND
from sealgate.inputs._iot_edge import IOT_EDGE_KIND
from sealgate.inputs._kinds import ParseContext, parse_file
from sealgate.inputs._kubernetes import KUBERNETES_KIND
from sealgate.inputs._model import InputProblem, PolicyInput
from sealgate.inputs._pulumi_plan import PULUMI_STACK_KIND
from sealgate.inputs._structured import load_structured_documents

_STACK_FILE = re.compile(r"^Pulumi\.[A-Za-z0-9_.-]+\.yaml$")
_LOCATED = re.compile(r"^\S+?:(\d+): ")
# Folders a directory scan never enters, by name; the configuration's `exclude` replaces it.
DEFAULT_EXCLUDES = (
    ".git",
    ".venv",
    "venv",
    "node_modules",
    "__pycache__",
    ".pytest_cache",
    ".mypy_cache",
    ".ruff_cache",
    ".tox",
)
# The config namespace that marks a stack of sealgate's own platform program.
PLATFORM_NAMESPACE = "sealgate"


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
_JSON_KUBERNETES_MARKERS = (
    re.compile(rb'"apiVersion"\s*:\s*"'),
    re.compile(rb'"kind"\s*:\s*"'),
)
_DOCKERFILE_NAMES = ("dockerfile", "containerfile")


def _head(path: Path) -> bytes:
    """The first bytes of a file, enough to recognise it without parsing it."""
    try:
        with path.open("rb") as handle:
            return handle.read(SNIFF_BYTES)
    except OSError:
        return b""


def is_dockerfile(path: Path) -> bool:
    """``Dockerfile``, ``Dockerfile.*``, ``Dockerfile-*``, ``*.dockerfile``, and the same for
    ``Containerfile``.

    The ``Dockerfile.``/``Dockerfile-`` prefixes are case-sensitive so that ``dockerfile.py``
    stays source code.
    """
    name = path.name
    if name.endswith(".dockerignore"):
        return False
    return (
        name.lower() in _DOCKERFILE_NAMES
        or name.startswith(("Dockerfile.", "Containerfile.", "Dockerfile-", "Containerfile-"))
        or name.lower().endswith((".dockerfile", ".containerfile"))
    )


def is_iot_edge_manifest(path: Path) -> bool:
    return path.suffix.lower() in (".json", *_YAML_SUFFIXES) and b"modulesContent" in _head(path)


def is_kubernetes_manifest(path: Path) -> bool:
    """YAML with top-level ``apiVersion`` and ``kind``, or JSON naming both as strings."""
    suffix = path.suffix.lower()
    if suffix in _YAML_SUFFIXES:
        markers = _KUBERNETES_MARKERS
    elif suffix == ".json":
        markers = _JSON_KUBERNETES_MARKERS
    else:
        return False
    head = _head(path)
    return all(marker.search(head) for marker in markers)


def is_pulumi_stack(path: Path) -> bool:
    """``Pulumi.<stack>.yaml`` beside the project's ``Pulumi.yaml``."""
    return bool(_STACK_FILE.match(path.name)) and (path.parent / "Pulumi.yaml").is_file()


def is_platform_stack(path: Path) -> bool:
    """A stack of sealgate's platform program: its settings use the ``sealgate:`` namespace.

    A stack file that does not parse counts as one, so its parse error is reported rather
    than skipped.
    """
    try:
        documents = load_structured_documents(path)
    except InputError:
        return True
    config = (
        documents[0].value.get("config")
        if documents and isinstance(documents[0].value, dict)
        else None
    )
    return isinstance(config, dict) and any(
        str(key).partition(":")[0] == PLATFORM_NAMESPACE for key in config
    )


# First match wins: an edge manifest written in YAML is never mistaken for Kubernetes.
DETECTORS: list[Detector] = [
    Detector(PULUMI_STACK_KIND, is_pulumi_stack),
    Detector(DOCKERFILE_KIND, is_dockerfile),
    Detector(IOT_EDGE_KIND, is_iot_edge_manifest),
    Detector(KUBERNETES_KIND, is_kubernetes_manifest),
]

FOREIGN_STACK = (
    "Pulumi stack of a project that is not a sealgate platform stack (no sealgate: settings): "
    "gate its `pulumi preview --json --show-sames` with --preview FILE"
)


@dataclass(frozen=True)
class Candidate:
    kind: str
    path: Path


@dataclass(frozen=True)
class NotGated:
    """A file a scan found and does not gate, and why."""

    path: Path
    reason: str


@dataclass
class Discovery:
    """What a scan found: the files to gate, and every other file with its reason."""

    candidates: list[Candidate] = field(default_factory=list)
    not_gated: list[NotGated] = field(default_factory=list)

    def extend(self, other: Discovery) -> None:
        self.candidates.extend(other.candidates)
        self.not_gated.extend(other.not_gated)


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
    except (OSError, subprocess.SubprocessError):
        files = list(root.rglob("*"))
    return sorted(p for p in files if p.is_file())


def excluded_by(path: Path, root: Path, excludes: Iterable[str]) -> str | None:
    """The exclude entry that covers ``path``: a folder name, or a glob over the folder's
    path relative to ``root`` (an entry with a ``/``)."""
    folders = path.relative_to(root).parts[:-1]
    for entry in excludes:
        if "/" in entry:
            pattern = entry.strip("/")
            for depth in range(1, len(folders) + 1):
                if fnmatch.fnmatchcase("/".join(folders[:depth]), pattern):
                    return entry
        elif entry in folders:
            return entry
    return None


def classify(path: Path) -> str | None:
    for detector in DETECTORS:
        if detector.claims(path):
            return detector.kind
    return None


def _why_not(path: Path) -> str:
    suffix = path.suffix.lower()
    if suffix in _YAML_SUFFIXES:
        return "YAML without top-level apiVersion and kind (not a Kubernetes manifest)"
    if suffix == ".json":
        return "JSON that is neither a Kubernetes manifest nor an IoT Edge deployment"
    return "not a Dockerfile, Kubernetes or IoT Edge manifest, or Pulumi stack"


def _candidate(path: Path) -> Candidate | NotGated:
    kind = classify(path)
    if kind is None:
        return NotGated(path, _why_not(path))
    if kind == PULUMI_STACK_KIND and not is_platform_stack(path):
        return NotGated(path, FOREIGN_STACK)
    return Candidate(kind, path)


def discover(
    paths: Iterable[Path],
    *,
    excludes: Iterable[str] = DEFAULT_EXCLUDES,
    ignore_unknown: bool = False,
) -> Discovery:
    """Every checkable file under ``paths``, and every file found that is not gated.

    A file named explicitly must be checkable, unless ``ignore_unknown`` (a hook that passes
    every changed file); a foreign Pulumi stack is never an error, only not gated.
    """
    excludes = tuple(excludes)
    found = Discovery()
    for path in paths:
        if path.is_dir():
            for file in repository_files(path):
                entry = excluded_by(file, path, excludes)
                item = NotGated(file, f"excluded folder {entry}") if entry else _candidate(file)
                _add(found, item)
        elif path.is_file():
            item = _candidate(path)
            if isinstance(item, NotGated) and item.reason != FOREIGN_STACK and not ignore_unknown:
                raise InputError(f"{path}: not a kind of file sealgate checks ({item.reason})")
            _add(found, item)
        else:
            raise InputError(f"{path}: no such file or directory")
    return found


def _add(found: Discovery, item: Candidate | NotGated) -> None:
    if isinstance(item, Candidate):
        found.candidates.append(item)
    else:
        found.not_gated.append(item)


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


def only_changed(
    candidates: list[Candidate], changed: set[Path], program_folders: Iterable[Path] = ()
) -> list[Candidate]:
    """The candidates a change can affect: changed files, and a project's stacks when its
    ``Pulumi.yaml`` or a file under one of ``program_folders`` changed (plans come from both)."""
    folders = [folder.resolve() for folder in program_folders]

    def replans(stack: Path) -> bool:
        project = stack.parent.resolve()
        return any(
            path == project / "Pulumi.yaml" or any(path.is_relative_to(f) for f in folders)
            for path in changed
        )

    return [
        c
        for c in candidates
        if c.path.resolve() in changed or (c.kind == PULUMI_STACK_KIND and replans(c.path))
    ]
