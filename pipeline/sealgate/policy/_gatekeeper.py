"""Gatekeeper ConstraintTemplates and Constraints generated from the Kubernetes policies.

Every policy package that reads ``kubernetes`` inputs becomes one ConstraintTemplate (and one
Constraint that enforces it), so that admission control decides exactly what the pull-request
gate decides. A template cannot import arbitrary packages or read ``data.config``, so each
one bundles what it needs:

- the package's own source as the template's main module (package renamed to the template
  name), plus a ``violation`` rule that evaluates ``deny`` against ``input.review.object``
  (``with input as ...``: the rules themselves are unchanged) and turns every finding into
  ``{"msg", "details": {"id", "severity", "path"}}`` (severity from the rule's METADATA);
- every ``sealgate.lib.*`` module it calls, transitively, renamed ``lib.sealgate.*``;
- the shared data it reads (``data.config.<stem>``), inlined as the module
  ``lib.sealgate.config`` (a Constraint cannot forget to pass it: no parameter to omit).

References are found in the embedded engine's syntax tree (``_rego_refs``), not in the text:
``data.config.x``, ``data["config"]["x"]``, ``import data.config.x as y`` and ``with`` targets
are all rewritten; a reference to anything else under ``data`` refuses the export with its line,
and every exported module is parsed again to prove that nothing outside ``data.lib`` is left.

Templates use Gatekeeper's Rego v1 source (``code: [{engine: Rego, source: {version: v1}}]``).
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from sealgate.errors import InputError, PolicyLoadError
from sealgate.policy._loader import PolicyModule, PolicyPackage, PolicySet
from sealgate.policy._rego_refs import DataRef, parse_module, splice

KUBERNETES_INPUT = "kubernetes"
TEMPLATE_API_VERSION = "templates.gatekeeper.sh/v1"
CONSTRAINT_API_VERSION = "constraints.gatekeeper.sh/v1beta1"
ADMISSION_TARGET = "admission.k8s.gatekeeper.sh"
LIB_PREFIX = "sealgate.lib."
GATEKEEPER_LIB_PREFIX = "lib.sealgate."
CONFIG_PACKAGE = "lib.sealgate.config"

# The workload kinds whose pod spec the Kubernetes policies read (sealgate.inputs._kubernetes).
MATCH_KINDS: list[dict[str, list[str]]] = [
    {"apiGroups": [""], "kinds": ["Pod", "ReplicationController"]},
    {"apiGroups": ["apps"], "kinds": ["Deployment", "StatefulSet", "DaemonSet", "ReplicaSet"]},
    {"apiGroups": ["batch"], "kinds": ["Job", "CronJob"]},
]

CONFIG_ROOT = "config"

VIOLATION_RULE = """
# Gatekeeper entry point: the findings of `deny` for the object under review.
violation contains {{"msg": msg, "details": details}} if {{
\tfindings := deny with input as input.review.object
\tsome finding in findings
\tmsg := sprintf("%s: %s", [finding.id, finding.msg])
\tdetails := {{"id": finding.id, "severity": gatekeeper_severity[finding.id], "path": finding.path}}
}}

# Each rule's severity, from its METADATA (the one place a severity is written).
gatekeeper_severity := {severities}
"""


@dataclass(frozen=True)
class GatekeeperPolicy:
    """One exported package: its template and constraint, and where they came from."""

    package: str
    name: str
    kind: str
    rego: str
    libs: tuple[str, ...]
    template: dict[str, Any]
    constraint: dict[str, Any]


def template_name(package: str) -> str:
    """``sealgate.containers.k8s_baseline`` -> ``sealgatek8sbaseline`` (lowercase CRD name)."""
    last = package.rsplit(".", 1)[-1]
    return "sealgate" + re.sub(r"[^a-z0-9]", "", last.lower())


def crd_kind(package: str) -> str:
    """``sealgate.containers.k8s_baseline`` -> ``SealgateK8sBaseline`` (its lowercase is the name)."""
    last = package.rsplit(".", 1)[-1]
    return "Sealgate" + "".join(
        part[:1].upper() + part[1:] for part in re.split(r"[^A-Za-z0-9]", last) if part
    )


def constraint_name(package: str) -> str:
    """``sealgate.containers.k8s_baseline`` -> ``sealgate-k8s-baseline``."""
    last = package.rsplit(".", 1)[-1]
    return "sealgate-" + re.sub(r"[^a-z0-9]+", "-", last.lower()).strip("-")


def kubernetes_packages(policy_set: PolicySet) -> list[PolicyPackage]:
    return sorted(
        (p for p in policy_set.packages.values() if KUBERNETES_INPUT in p.kinds),
        key=lambda p: p.name,
    )


def export_policies(policy_set: PolicySet) -> list[GatekeeperPolicy]:
    """A template and a constraint for every package that reads Kubernetes objects."""
    packages = kubernetes_packages(policy_set)
    if not packages:
        raise InputError(f"no policy under {policy_set.root} reads {KUBERNETES_INPUT!r} inputs")
    modules: dict[str, list[PolicyModule]] = {}
    for module in policy_set.policy_modules:
        modules.setdefault(module.package, []).append(module)
    return [_export(package, modules, policy_set) for package in packages]


def write_policies(policies: list[GatekeeperPolicy], out: Path) -> list[Path]:
    """``out/templates/<name>.yaml`` and ``out/constraints/<name>.yaml``; apply templates first."""
    written: list[Path] = []
    for folder, key in (("templates", "template"), ("constraints", "constraint")):
        directory = out / folder
        try:
            directory.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise InputError(f"{directory}: cannot create: {exc.strerror or exc}") from exc
        for policy in policies:
            path = directory / f"{policy.name}.yaml"
            try:
                path.write_text(to_yaml(getattr(policy, key)), encoding="utf-8")
            except OSError as exc:
                raise InputError(f"{path}: cannot write: {exc.strerror or exc}") from exc
            written.append(path)
    return written


def to_yaml(document: dict[str, Any]) -> str:
    return yaml.dump(document, Dumper=_LiteralDumper, sort_keys=False, width=100)


def _export(
    package: PolicyPackage, modules: dict[str, list[PolicyModule]], policy_set: PolicySet
) -> GatekeeperPolicy:
    name = template_name(package.name)
    kind = crd_kind(package.name)
    rewriter = _Rewriter(modules, package)
    main = [rewriter.rewrite(module, name) for module in modules[package.name]]
    libs = [
        rewriter.rewrite(module, _gatekeeper_lib(lib))
        for lib in rewriter.pending_libs()
        for module in modules[lib]
    ]
    if rewriter.stems:
        libs.append(_config_module(policy_set, sorted(rewriter.stems), package))
    severities = {rule: policy_set.rules[rule].severity.value for rule in package.rule_ids}
    rego = _clean("\n".join(main) + VIOLATION_RULE.format(severities=json.dumps(severities)))
    libs = [_clean(text) for text in libs]
    for index, text in enumerate([rego, *libs]):
        _check_bundled(f"{package.file} (exported module {index})", text)
    rule_ids = ",".join(package.rule_ids)
    template = {
        "apiVersion": TEMPLATE_API_VERSION,
        "kind": "ConstraintTemplate",
        "metadata": {
            "name": name,
            "annotations": {
                "description": package.title,
                "sealgate.io/package": package.name,
                "sealgate.io/source": package.file,
                "sealgate.io/rules": rule_ids,
            },
        },
        "spec": {
            "crd": {
                "spec": {
                    "names": {"kind": kind},
                    "validation": {"openAPIV3Schema": {"type": "object"}},
                }
            },
            "targets": [
                {
                    "target": ADMISSION_TARGET,
                    "code": [
                        {
                            "engine": "Rego",
                            "source": {"version": "v1", "rego": rego, "libs": libs},
                        }
                    ],
                }
            ],
        },
    }
    constraint = {
        "apiVersion": CONSTRAINT_API_VERSION,
        "kind": kind,
        "metadata": {
            "name": constraint_name(package.name),
            "annotations": {"sealgate.io/rules": rule_ids},
        },
        "spec": {"enforcementAction": "deny", "match": {"kinds": MATCH_KINDS}},
    }
    return GatekeeperPolicy(package.name, name, kind, rego, tuple(libs), template, constraint)


class _Rewriter:
    """Rewrites every data reference of the exported modules, or refuses the export.

    ``data.sealgate.lib.<name>`` becomes ``data.lib.sealgate.<name>`` (the lib is bundled),
    ``data.config.<stem>`` becomes ``data.lib.sealgate.config.<stem>`` (the data is inlined);
    any other reference to ``data`` (another package, a computed key, ``data`` itself) has
    nothing a template could bundle, so it is refused with its file and line.
    """

    def __init__(self, modules: dict[str, list[PolicyModule]], package: PolicyPackage) -> None:
        self._modules = modules
        self._package = package
        self._libs: list[str] = []
        self._done: set[str] = set()
        self.stems: set[str] = set()

    def pending_libs(self) -> list[str]:
        """The libs referenced so far, then those they reference, each once, sorted."""
        order: list[str] = []
        while len(self._done) < len(self._libs):
            lib = next(lib for lib in self._libs if lib not in self._done)
            self._done.add(lib)
            order.append(lib)
            for module in self._modules[lib]:
                self.rewrite(module, _gatekeeper_lib(lib))  # registers what the lib needs
        return sorted(order)

    def rewrite(self, module: PolicyModule, package: str) -> str:
        parsed = parse_module(module.file, module.source)
        # Gatekeeper refuses `import rego.v1` in a template (its v1 source implies it).
        replacements = [(a, b, "") for a, b in parsed.keyword_imports]
        aliases: set[str] = set()
        for ref in parsed.refs:
            start, end, bundled = self._map(ref, module)
            if parsed.in_import(ref):
                replacements.append((start, end, f"data.{bundled}"))
            else:
                # Gatekeeper resolves a lib's functions only through an import (a call by
                # its full data path does not compile), so every use goes through an alias.
                aliases.add(bundled)
                replacements.append((start, end, _alias(bundled)))
        imports = "".join(f"\nimport data.{lib} as {_alias(lib)}" for lib in sorted(aliases))
        start, end = parsed.package_span
        replacements.append((start, end, package + ("\n" + imports if imports else "")))
        return splice(module.source, replacements)

    def _map(self, ref: DataRef, module: PolicyModule) -> tuple[int, int, str]:
        """The byte span of the reference's bundled prefix and the package it maps to."""
        path = ref.path
        if len(path) >= 2 and path[0] == CONFIG_ROOT and isinstance(path[1], str):
            self.stems.add(path[1])
            return ref.start, ref.prefix_end(2), f"{CONFIG_PACKAGE}.{path[1]}"
        for lib in self._modules:
            parts = tuple(lib.split("."))
            if lib.startswith(LIB_PREFIX) and path[: len(parts)] == parts:
                if lib not in self._libs:
                    self._libs.append(lib)
                return ref.start, ref.prefix_end(len(parts)), _gatekeeper_lib(lib)
        shown = "data" + "".join("[_]" if p is None else f".{p}" for p in path)
        raise PolicyLoadError(
            f"{module.file}:{ref.line}: reads {shown}, which a Gatekeeper template cannot "
            f"bundle (only data.{LIB_PREFIX}<name> and data.{CONFIG_ROOT}.<stem> can be)"
        )


def _alias(package: str) -> str:
    """``lib.sealgate.kubernetes`` -> ``lib_sealgate_kubernetes``."""
    return package.replace(".", "_")


def _check_bundled(where: str, text: str) -> None:
    """Fail closed: an exported module may read nothing but what the template bundles."""
    parsed = parse_module(where, text)
    if parsed.keyword_imports:
        raise PolicyLoadError(f"{where}: an import Gatekeeper refuses remains")
    for ref in parsed.refs:
        if ref.path[:1] != ("lib",):
            raise PolicyLoadError(f"{where}:{ref.line}: an unrewritten data reference remains")


def _gatekeeper_lib(package: str) -> str:
    return GATEKEEPER_LIB_PREFIX + package.removeprefix(LIB_PREFIX)


def _config_module(policy_set: PolicySet, stems: list[str], package: PolicyPackage) -> str:
    config = policy_set.data.get("config", {})
    lines = [
        f"# Policy data (policies/data/*.yaml) inlined for {package.name}.",
        f"package {CONFIG_PACKAGE}",
    ]
    for stem in stems:
        if stem not in config:
            raise PolicyLoadError(
                f"{package.file}: reads data.config.{stem}, which has no data file"
            )
        lines += ["", f"{stem} := {json.dumps(config[stem], indent=1, sort_keys=True)}"]
    return "\n".join(lines) + "\n"


def _clean(text: str) -> str:
    """Indentation tabs and trailing spaces would force YAML to quote the source instead of
    writing a readable literal block; Rego does not care about either."""
    lines = []
    for line in text.splitlines():
        stripped = line.lstrip("\t")
        lines.append("    " * (len(line) - len(stripped)) + stripped.rstrip())
    return "\n".join(lines) + "\n"


class _LiteralDumper(yaml.SafeDumper):
    pass


def _represent_string(dumper: yaml.SafeDumper, value: str) -> yaml.Node:
    style = "|" if "\n" in value else None
    return dumper.represent_scalar("tag:yaml.org,2002:str", value, style=style)


_LiteralDumper.add_representer(str, _represent_string)
