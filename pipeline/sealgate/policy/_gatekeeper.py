"""Gatekeeper ConstraintTemplates and Constraints generated from the Kubernetes policies.

Every policy package that reads ``kubernetes`` inputs becomes one ConstraintTemplate (and one
Constraint that enforces it), so that admission control decides exactly what the pull-request
gate decides. A template cannot import arbitrary packages or read ``data.config``, so each
one bundles what it needs:

- the package's own source as the template's main module (package renamed to the template
  name), plus a ``violation`` rule that evaluates ``deny`` against ``input.review.object``
  (``with input as ...``: the rules themselves are unchanged) and turns every finding into
  ``{"msg", "details": {"id", "severity", "path"}}``;
- every ``sealgate.lib.*`` module it calls, transitively, renamed ``lib.sealgate.*``;
- the shared data it reads (``data.config.<stem>``), inlined as the module
  ``lib.sealgate.config`` (a Constraint cannot forget to pass it: no parameter to omit).

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

_PACKAGE_LINE = re.compile(r"^package\s+[A-Za-z_][A-Za-z0-9_.]*\s*$", re.MULTILINE)
_LIB_REF = re.compile(r"\bdata\.sealgate\.lib\.([A-Za-z_][A-Za-z0-9_]*)")
_CONFIG_REF = re.compile(r"\bdata\.config\.([A-Za-z_][A-Za-z0-9_]*)")
_OTHER_DATA_REF = re.compile(r"\bdata\.(?!sealgate\.lib\.|config\.)[A-Za-z_]")

VIOLATION_RULE = """
# Gatekeeper entry point: the findings of `deny` for the object under review.
violation contains {"msg": msg, "details": details} if {
\tfindings := deny with input as input.review.object
\tsome finding in findings
\tmsg := sprintf("%s: %s", [finding.id, finding.msg])
\tdetails := {"id": finding.id, "severity": finding.severity, "path": finding.path}
}
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
    modules = {m.package: m for m in policy_set.policy_modules}
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
    package: PolicyPackage, modules: dict[str, PolicyModule], policy_set: PolicySet
) -> GatekeeperPolicy:
    source = modules[package.name].source
    lib_packages = _lib_closure(source, modules, package)
    sources = [source, *(modules[lib].source for lib in lib_packages)]
    stems = sorted({stem for text in sources for stem in _CONFIG_REF.findall(text)})
    name = template_name(package.name)
    kind = crd_kind(package.name)
    rego = _rewrite(_rename_package(source, name)) + VIOLATION_RULE
    libs = [
        _rewrite(_rename_package(modules[lib].source, _gatekeeper_lib(lib))) for lib in lib_packages
    ]
    if stems:
        libs.append(_config_module(policy_set, stems, package))
    libs = [_clean(text) for text in libs]
    rego = _clean(rego)
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


def _lib_closure(
    source: str, modules: dict[str, PolicyModule], package: PolicyPackage
) -> list[str]:
    """Every sealgate.lib package the source calls, directly or through another lib."""
    found: list[str] = []
    pending = [source]
    while pending:
        for short in _LIB_REF.findall(pending.pop()):
            lib = LIB_PREFIX + short
            if lib in found:
                continue
            if lib not in modules:
                raise PolicyLoadError(f"{package.file}: calls data.{lib}, which is not loaded")
            found.append(lib)
            pending.append(modules[lib].source)
    for text in [source, *(modules[lib].source for lib in found)]:
        other = _OTHER_DATA_REF.search(text)
        if other:
            raise PolicyLoadError(
                f"{package.file}: reads {text[other.start() : other.start() + 40].split()[0]}, "
                "which a Gatekeeper template cannot bundle"
            )
    return sorted(found)


def _gatekeeper_lib(package: str) -> str:
    return GATEKEEPER_LIB_PREFIX + package.removeprefix(LIB_PREFIX)


def _rename_package(source: str, package: str) -> str:
    renamed, count = _PACKAGE_LINE.subn(f"package {package}", source, count=1)
    if count != 1:
        raise PolicyLoadError(f"no package line to rename to {package}")
    return renamed


def _rewrite(source: str) -> str:
    source = _LIB_REF.sub(lambda m: f"data.{GATEKEEPER_LIB_PREFIX}{m.group(1)}", source)
    return _CONFIG_REF.sub(lambda m: f"data.{CONFIG_PACKAGE}.{m.group(1)}", source)


def _config_module(policy_set: PolicySet, stems: list[str], package: PolicyPackage) -> str:
    config = policy_set.data.get("config", {})
    lines = [
        f"# Policy data (policies/data/*.yaml) inlined for {package.name}.",
        f"package {CONFIG_PACKAGE}",
        "",
        "import rego.v1",
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
