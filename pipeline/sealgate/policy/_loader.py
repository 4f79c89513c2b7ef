"""Load a policy tree: Rego modules, shared data, and the rule catalogue from METADATA.

Layout: ``<root>/<domain>/<name>/policy.rego`` (+ ``policy_test.rego``, ``samples/``) and
shared data in ``<root>/data/*.yaml``, mounted at ``data.config.<file stem>``. Every package
that defines ``deny`` names the input kinds it reads (package METADATA ``custom.input``) and
every ``deny`` rule carries METADATA with its id, title, severity, description, remediation.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sealgate._paths import display_path
from sealgate.errors import InputError, PolicyLoadError
from sealgate.inputs._structured import load_structured_documents
from sealgate.policy._decision import RuleInfo, Severity
from sealgate.policy._embedded import EmbeddedEngine
from sealgate.policy._metadata import Annotation, parse_annotations

DECISION_RULE = "deny"
DATA_NAMESPACE = "config"
WAIVERS_FILE_STEM = "waivers"
RULE_ID = re.compile(r"^SG-[A-Z0-9]+(?:-[A-Z0-9]+)*$")
_PACKAGE_LINE = re.compile(r"^package\s+([A-Za-z_][A-Za-z0-9_.]*)", re.MULTILINE)
_REQUIRED_RULE_FIELDS = ("title", "description")
_REQUIRED_CUSTOM_FIELDS = ("id", "severity", "remediation")


@dataclass(frozen=True)
class PolicyModule:
    file: str
    source: str
    package: str
    is_test: bool


@dataclass(frozen=True)
class PolicyPackage:
    name: str
    file: str
    kinds: tuple[str, ...]
    title: str
    rule_ids: tuple[str, ...]

    @property
    def decision(self) -> str:
        return f"{self.name}.{DECISION_RULE}"


@dataclass
class PolicySet:
    """Everything loaded from one policy tree, validated and ready to compile."""

    root: Path
    modules: list[PolicyModule]
    data: dict[str, Any]
    packages: dict[str, PolicyPackage] = field(default_factory=dict)
    rules: dict[str, RuleInfo] = field(default_factory=dict)
    _engine: EmbeddedEngine | None = None

    @property
    def policy_modules(self) -> list[PolicyModule]:
        return [m for m in self.modules if not m.is_test]

    @property
    def test_modules(self) -> list[PolicyModule]:
        return [m for m in self.modules if m.is_test]

    def packages_for(self, kind: str) -> list[PolicyPackage]:
        return [p for p in self.packages.values() if kind in p.kinds]

    @property
    def kinds(self) -> set[str]:
        return {kind for package in self.packages.values() for kind in package.kinds}

    def engine(self) -> EmbeddedEngine:
        """The compiled decision engine (policies and data, no tests), built once."""
        if self._engine is None:
            self._engine = EmbeddedEngine(
                ((m.file, m.source) for m in self.policy_modules), self.data
            )
        return self._engine.clone()

    def test_engine(self) -> EmbeddedEngine:
        """A fresh engine with tests and coverage enabled."""
        return EmbeddedEngine(((m.file, m.source) for m in self.modules), self.data, coverage=True)


def find_rego_files(paths: Iterable[Path]) -> list[Path]:
    files: set[Path] = set()
    for path in paths:
        if path.is_file():
            if path.suffix != ".rego":
                raise InputError(f"{path}: not a .rego file")
            files.add(path)
        elif path.is_dir():
            files.update(
                p
                for p in path.rglob("*.rego")
                if not any(
                    part == "samples" or part.startswith(".") for part in p.parts[len(path.parts) :]
                )
            )
        else:
            raise InputError(f"{path}: no such file or directory")
    return sorted(files)


def load_data(root: Path) -> dict[str, Any]:
    """Shared policy data: ``<root>/data/<stem>.yaml`` at ``data.config.<stem>``."""
    data_dir = root / "data"
    config: dict[str, Any] = {}
    if data_dir.is_dir():
        for path in sorted(data_dir.iterdir()):
            if path.suffix not in {".yaml", ".yml", ".json"} or path.stem == WAIVERS_FILE_STEM:
                continue
            documents = load_structured_documents(path)
            if len(documents) != 1 or not isinstance(documents[0].value, dict):
                raise PolicyLoadError(f"{display_path(path)}: policy data must be one YAML mapping")
            config[path.stem] = documents[0].value
    return {DATA_NAMESPACE: config}


def load_policy_set(paths: Iterable[Path], *, root: Path | None = None) -> PolicySet:
    """Load, compile and validate every policy under ``paths`` (files or folders)."""
    path_list = list(paths)
    files = find_rego_files(path_list)
    if not files:
        raise InputError(f"no .rego files under {', '.join(str(p) for p in path_list)}")
    root = root or _policy_root(path_list)
    modules = [_read_module(path) for path in files]
    policy_set = PolicySet(root=root, modules=modules, data=load_data(root))
    engine = policy_set.engine()  # compiles: syntax, Rego v0 and unsafe variables fail here
    _catalogue(policy_set, engine)
    return policy_set


def _policy_root(paths: list[Path]) -> Path:
    """The folder holding ``data/``: the nearest ancestor of the first path that has one."""
    start = paths[0].resolve()
    for candidate in [start, *start.parents]:
        if (candidate / "data").is_dir() and candidate.is_dir():
            return candidate
    return start if start.is_dir() else start.parent


def _read_module(path: Path) -> PolicyModule:
    try:
        source = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise PolicyLoadError(f"{display_path(path)}: cannot read policy: {exc}") from exc
    shown = display_path(path)
    match = _PACKAGE_LINE.search(source)
    if not match:
        raise PolicyLoadError(f"{shown}:1: no package declaration")
    return PolicyModule(shown, source, match.group(1), path.name.endswith("_test.rego"))


def _rule_heads(engine: EmbeddedEngine) -> dict[str, list[tuple[str, int]]]:
    """Per file: (rule name, line) of every rule head, from the engine's AST."""
    heads: dict[str, list[tuple[str, int]]] = {}
    for module in engine.ast():
        file = module["source"]["file"]
        for rule in module["ast"].get("rules", []):
            spec = rule.get("Spec")
            if not spec:
                continue
            head = next(iter(spec["head"].values()))
            var = head.get("refr", {}).get("Var")
            if var:
                heads.setdefault(file, []).append((var["value"], var["span"]["line"]))
    return heads


def _catalogue(policy_set: PolicySet, engine: EmbeddedEngine) -> None:
    heads = _rule_heads(engine)
    for module in policy_set.policy_modules:
        annotations = parse_annotations(module.source, module.file)
        by_line = {a.line: a for a in annotations if a.scope == "rule"}
        rule_ids: list[str] = []
        first_unannotated: int | None = None
        for name, line in heads.get(module.file, []):
            if name != DECISION_RULE:
                continue
            annotation = by_line.get(line)
            if annotation is None:
                # A further body of an annotated rule: the findings it returns must carry an id
                # that some annotation in this package declares (checked at evaluation).
                if not rule_ids and first_unannotated is None:
                    first_unannotated = line
                continue
            info = _rule_info(annotation, module)
            if info.id in policy_set.rules:
                first = policy_set.rules[info.id]
                raise PolicyLoadError(
                    f"{module.file}:{line}: rule id {info.id} is already used at "
                    f"{first.file}:{first.line}"
                )
            policy_set.rules[info.id] = info
            rule_ids.append(info.id)
        if not rule_ids:
            if first_unannotated is not None:
                raise PolicyLoadError(
                    f"{module.file}:{first_unannotated}: a `{DECISION_RULE}` rule needs METADATA "
                    "(title, description, custom.id, custom.severity, custom.remediation)"
                )
            continue
        package_note = next((a for a in annotations if a.scope == "package"), None)
        kinds = _kinds(package_note, module)
        existing = policy_set.packages.get(module.package)
        if existing is not None:
            raise PolicyLoadError(
                f"{module.file}: package {module.package} is also defined in {existing.file}; "
                "one policy per package"
            )
        title = (
            str(package_note.values.get("title", module.package))
            if package_note
            else module.package
        )
        policy_set.packages[module.package] = PolicyPackage(
            module.package, module.file, kinds, title, tuple(rule_ids)
        )


def _kinds(note: Annotation | None, module: PolicyModule) -> tuple[str, ...]:
    raw = note.custom.get("input") if note else None
    kinds = [raw] if isinstance(raw, str) else raw
    if not kinds or not all(isinstance(k, str) and k for k in kinds):
        raise PolicyLoadError(
            f"{module.file}:1: package {module.package} defines `{DECISION_RULE}` but its "
            "package METADATA names no input kind (custom.input)"
        )
    return tuple(kinds)


def _rule_info(note: Annotation, module: PolicyModule) -> RuleInfo:
    where = f"{module.file}:{note.line}"
    missing = [f for f in _REQUIRED_RULE_FIELDS if not note.values.get(f)]
    missing += [f"custom.{f}" for f in _REQUIRED_CUSTOM_FIELDS if not note.custom.get(f)]
    if missing:
        raise PolicyLoadError(f"{where}: METADATA lacks {', '.join(missing)}")
    rule_id = str(note.custom["id"])
    if not RULE_ID.match(rule_id):
        raise PolicyLoadError(f"{where}: rule id {rule_id!r} must look like SG-DOMAIN-NNN")
    try:
        severity = Severity(str(note.custom["severity"]).lower())
    except ValueError:
        allowed = ", ".join(s.value for s in Severity)
        raise PolicyLoadError(
            f"{where}: severity {note.custom['severity']!r} is not one of {allowed}"
        ) from None
    return RuleInfo(
        id=rule_id,
        title=" ".join(str(note.values["title"]).split()),
        severity=severity,
        description=" ".join(str(note.values["description"]).split()),
        remediation=" ".join(str(note.custom["remediation"]).split()),
        package=module.package,
        file=module.file,
        line=note.line,
        waivable=bool(note.custom.get("waivable", True)),
        setting=str(note.custom["setting"]) if note.custom.get("setting") else None,
    )
