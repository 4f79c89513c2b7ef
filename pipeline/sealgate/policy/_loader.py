"""Load a policy tree: Rego modules, shared data, and the rule catalogue from METADATA.

Layout: ``<root>/<domain>/<name>/policy.rego`` (+ ``policy_test.rego``, ``samples/``; the
built-in tree is ``<root>/sealgate/<domain>/<name>/``, its folders matching the package paths) and
shared data in ``<root>/data/*.yaml``, mounted at ``data.config.<file stem>``. Every package
that defines ``deny`` names the input kinds it reads (package METADATA ``custom.input``) and
every ``deny`` rule carries METADATA with its id, title, severity, description, remediation.

Several roots layer: the built-in policies first, then each user folder. Their data merge in
that order, then any extra data files (``<stem>.yaml`` over ``data.config.<stem>``): mappings
merge key by key, lists and scalars are replaced.
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
RULE_ID = re.compile(r"^[A-Z][A-Z0-9]*(?:-[A-Z0-9]+)+$")
# The gate's own rules (fail-closed outcomes); no policy may declare an id under it.
RESERVED_RULE_PREFIX = "SG-GATE-"
_PACKAGE_LINE = re.compile(r"^package\s+([A-Za-z_][A-Za-z0-9_.]*)", re.MULTILINE)
_MAX_ROOT_DEPTH = 3  # <root>/sealgate/<domain>/<name>
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
    # Every file of the package (one folder); ``file`` is the one with the package METADATA.
    files: tuple[str, ...] = ()

    @property
    def decision(self) -> str:
        return f"{self.name}.{DECISION_RULE}"


@dataclass
class PolicySet:
    """Everything loaded from one policy tree, validated and ready to compile."""

    root: Path  # the first policy root (where a single tree's ``data/`` lives)
    modules: list[PolicyModule]
    data: dict[str, Any]
    roots: tuple[Path, ...] = ()
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
    files = sorted(data_dir.iterdir()) if data_dir.is_dir() else []
    return {DATA_NAMESPACE: _read_data_files(p for p in files if p.stem != WAIVERS_FILE_STEM)}


def _read_data_files(paths: Iterable[Path]) -> dict[str, Any]:
    config: dict[str, Any] = {}
    for path in paths:
        if path.suffix not in {".yaml", ".yml", ".json"}:
            continue
        documents = load_structured_documents(path)
        if len(documents) != 1 or not isinstance(documents[0].value, dict):
            raise PolicyLoadError(f"{display_path(path)}: policy data must be one YAML mapping")
        config[path.stem] = merge_data(config.get(path.stem, {}), documents[0].value)
    return config


def merge_data(base: Any, override: Any) -> Any:
    """``override`` over ``base``: mappings merge key by key; anything else replaces."""
    if isinstance(base, dict) and isinstance(override, dict):
        merged = dict(base)
        for key, value in override.items():
            merged[key] = merge_data(base.get(key), value)
        return merged
    return override


def load_policy_set(
    paths: Iterable[Path], *, root: Path | None = None, data_files: Iterable[Path] = ()
) -> PolicySet:
    """Load, compile and validate every policy under ``paths`` (files or folders).

    Each folder is a policy root; the data of every root, then ``data_files``, are merged in
    order. The same folder named twice (e.g. through a link) is loaded once.
    """
    path_list = _unique(paths)
    if not path_list:
        raise InputError("no policy folder to load")
    files = find_rego_files(path_list)
    if not files:
        raise InputError(f"no .rego files under {', '.join(str(p) for p in path_list)}")
    roots = _unique([root] if root else [_policy_root(path) for path in path_list])
    data: dict[str, Any] = {DATA_NAMESPACE: {}}
    for policy_root in roots:
        data = merge_data(data, load_data(policy_root))
    extra = list(data_files)
    for path in extra:
        if not path.is_file():
            raise InputError(f"{path}: no such data file")
        if path.suffix not in {".yaml", ".yml", ".json"}:
            raise InputError(f"{path}: policy data must be a .yaml, .yml or .json file")
    data = merge_data(data, {DATA_NAMESPACE: _read_data_files(extra)})
    modules = [_read_module(path) for path in files]
    policy_set = PolicySet(root=roots[0], modules=modules, data=data, roots=tuple(roots))
    engine = policy_set.engine()  # compiles: syntax, Rego v0 and unsafe variables fail here
    _catalogue(policy_set, engine)
    return policy_set


def _unique(paths: Iterable[Path]) -> list[Path]:
    seen: dict[Path, Path] = {}
    for path in paths:
        seen.setdefault(path.resolve(), path)
    return list(seen.values())


def _policy_root(path: Path) -> Path:
    """The policy root that ``path`` lies in: the folder holding ``data/``.

    A tree is ``<root>/sealgate/<domain>/<name>/policy.rego``, so a root is looked for at most that
    far up; an unrelated ``data/`` folder higher up (a repository's own) is never taken.
    """
    start = path.resolve()
    folder = start if start.is_dir() else start.parent
    for candidate in [folder, *folder.parents][: _MAX_ROOT_DEPTH + 1]:
        if (candidate / "data").is_dir():
            return candidate
    return folder


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
    by_package: dict[str, list[PolicyModule]] = {}
    for module in policy_set.policy_modules:
        by_package.setdefault(module.package, []).append(module)
    for package, modules in by_package.items():
        rule_ids: list[str] = []
        notes: list[tuple[PolicyModule, Annotation]] = []
        first_unannotated: tuple[PolicyModule, int] | None = None
        for module in modules:
            annotations = parse_annotations(module.source, module.file)
            notes += [(module, a) for a in annotations if a.scope == "package"]
            by_line = {a.line: a for a in annotations if a.scope == "rule"}
            for name, line in heads.get(module.file, []):
                if name != DECISION_RULE:
                    continue
                annotation = by_line.get(line)
                if annotation is None:
                    # A further body of an annotated rule: the findings it returns must carry
                    # an id that some annotation in this package declares (checked at
                    # evaluation).
                    if first_unannotated is None:
                        first_unannotated = (module, line)
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
                module, line = first_unannotated
                raise PolicyLoadError(
                    f"{module.file}:{line}: a `{DECISION_RULE}` rule needs METADATA "
                    "(title, description, custom.id, custom.severity, custom.remediation)"
                )
            continue
        policy_set.packages[package] = _package(package, modules, notes, tuple(rule_ids))


def _package(
    name: str,
    modules: list[PolicyModule],
    notes: list[tuple[PolicyModule, Annotation]],
    rule_ids: tuple[str, ...],
) -> PolicyPackage:
    """One policy: its files (one folder), the package METADATA (one file) and rule ids."""
    folders = {str(Path(m.file).parent) for m in modules}
    if len(folders) > 1:
        listed = ", ".join(m.file for m in modules)
        raise PolicyLoadError(
            f"package {name} is defined in several folders ({listed}); one policy per folder"
        )
    if len(notes) > 1:
        raise PolicyLoadError(
            f"{notes[1][0].file}:{notes[1][1].line}: package {name} already has METADATA in "
            f"{notes[0][0].file}; one file of a package carries it"
        )
    home, note = notes[0] if notes else (modules[0], None)
    kinds = _kinds(note, home)
    title = str(note.values.get("title", name)) if note else name
    return PolicyPackage(name, home.file, kinds, title, rule_ids, tuple(m.file for m in modules))


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
        raise PolicyLoadError(
            f"{where}: rule id {rule_id!r} must look like PREFIX-DOMAIN-NNN (e.g. ACME-K8S-001)"
        )
    if rule_id.startswith(RESERVED_RULE_PREFIX):
        raise PolicyLoadError(f"{where}: rule ids {RESERVED_RULE_PREFIX}* belong to the gate")
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
