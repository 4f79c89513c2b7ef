"""Admission parity: the exported Gatekeeper templates decide what the pull-request gate decides.

Each template's Rego (with its libs, nothing else: no data, no other package) is evaluated in
the embedded engine with Gatekeeper's input, ``{"review": {"object": OBJ}, "parameters": {}}``,
for every object of every sample of the Kubernetes policies, and must return the same
(rule id, path) findings as ``sealgate check`` on the same object. Where OPA's own Go engine is
installed (``make test`` installs it), the templates are evaluated there too.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from collections.abc import Iterator
from functools import cache
from pathlib import Path
from typing import Any

import pytest
import yaml
from sealgate.inputs._kinds import ParseContext, parse_file
from sealgate.inputs._kubernetes import KUBERNETES_KIND
from sealgate.inputs._model import PolicyInput
from sealgate.policy._engine import create_engine
from sealgate.policy._evaluate import evaluate_input
from sealgate.policy._gatekeeper import (
    ADMISSION_TARGET,
    GatekeeperPolicy,
    export_policies,
    kubernetes_packages,
    write_policies,
)
from sealgate.policy._loader import PolicySet, load_policy_set
from sealgate.policy._testing import sample_cases

from tests.conftest import REPO, run_sealgate
from tests.rego_tools import tool

Finding = tuple[str, tuple[str | int, ...]]
DNS_LABEL = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")


@cache
def _policy_set() -> PolicySet:
    return load_policy_set([REPO / "policies"])


@cache
def _exported() -> tuple[GatekeeperPolicy, ...]:
    return tuple(export_policies(_policy_set()))


def _sample_files() -> list[Path]:
    files = {
        case.file.resolve()
        for package in kubernetes_packages(_policy_set())
        for case in sample_cases(package)
    }
    files.add(REPO / "images" / "model-server" / "deployment.yaml")
    # A sample whose every object is unreadable (SG-GATE-004) has nothing to admit.
    return sorted(path for path in files if _objects(path))


def _objects(path: Path) -> list[PolicyInput]:
    # Objects the parser reports as unreadable never reach admission as such.
    parsed = parse_file(KUBERNETES_KIND, path, ParseContext())
    return [item for item in parsed if isinstance(item, PolicyInput)]


SAMPLES = _sample_files()


def _gate_findings(policy_input: PolicyInput) -> dict[str, set[Finding]]:
    engine = create_engine("embedded", _policy_set())
    by_package: dict[str, set[Finding]] = {
        p.name: set() for p in kubernetes_packages(_policy_set())
    }
    for finding in evaluate_input(_policy_set(), engine, policy_input):
        assert finding.package in by_package, f"gate finding {finding} from {finding.package}"
        by_package[finding.package].add((finding.rule_id, tuple(finding.path)))
    return by_package


@cache
def _template_engine(name: str) -> Any:
    """OPA's Go engine (in-process) with the template's modules only: no data. (Not the
    embedded engine: templates call their libs through import aliases, which regorus cannot.)"""
    bindings = pytest.importorskip(
        "opa_bindings", reason="the OPA Go engine (opa-golib-python-bindings) is not installed"
    )
    policy = next(p for p in _exported() if p.name == name)
    engine = bindings.OpaEngine()
    engine.add_policy(f"{name}.rego", policy.rego)
    for i, lib in enumerate(policy.libs):
        engine.add_policy(f"{name}-lib{i}.rego", lib)
    return engine


def _violations(value: Any) -> set[Finding]:
    assert isinstance(value, list), f"violation is {value!r}"
    found: set[Finding] = set()
    for item in value:
        assert set(item) == {"msg", "details"}
        details = item["details"]
        assert item["msg"].startswith(f"{details['id']}: ")
        found.add((details["id"], tuple(details["path"])))
    return found


def _admission_input(policy_input: PolicyInput) -> dict[str, Any]:
    return {"review": {"object": policy_input.document}, "parameters": {}}


def test_every_kubernetes_package_is_exported() -> None:
    exported = {p.package for p in _exported()}
    assert exported == {p.name for p in kubernetes_packages(_policy_set())}
    assert {
        "sealgate.containers.k8s_baseline",
        "sealgate.containers.k8s_restricted",
        "sealgate.containers.k8s_hardening",
        "sealgate.containers.k8s_model_server",
    } <= exported


@pytest.mark.parametrize("sample", SAMPLES, ids=lambda p: str(p.relative_to(REPO)))
def test_templates_find_what_the_gate_finds(sample: Path) -> None:
    objects = _objects(sample)
    assert objects
    for policy_input in objects:
        expected = _gate_findings(policy_input)
        for policy in _exported():
            value = _template_engine(policy.name).eval_document(
                f"{policy.name}.violation", _admission_input(policy_input)
            )
            assert _violations(value) == expected[policy.package], (
                f"{policy.name} on {policy_input.target}"
            )


def test_the_samples_exercise_every_rule() -> None:
    """Parity over samples that yield nothing would prove nothing."""
    seen: set[str] = set()
    for sample in SAMPLES:
        for policy_input in _objects(sample):
            for findings in _gate_findings(policy_input).values():
                seen |= {rule for rule, _ in findings}
    declared = {rule for p in kubernetes_packages(_policy_set()) for rule in p.rule_ids}
    assert seen == declared


@pytest.fixture(scope="module")
def opa_engines() -> Iterator[dict[str, Any]]:
    bindings = pytest.importorskip(
        "opa_bindings", reason="the OPA Go engine (opa-golib-python-bindings) is not installed"
    )
    engines: dict[str, Any] = {}
    for policy in _exported():
        engine = bindings.OpaEngine()
        engine.add_policy(f"{policy.name}.rego", policy.rego)
        for i, lib in enumerate(policy.libs):
            engine.add_policy(f"{policy.name}-lib{i}.rego", lib)
        engines[policy.name] = engine
    yield engines
    for engine in engines.values():
        engine.close()


def test_templates_run_unchanged_on_opa(opa_engines: dict[str, Any]) -> None:
    for sample in SAMPLES:
        for policy_input in _objects(sample):
            expected = _gate_findings(policy_input)
            for policy in _exported():
                value = opa_engines[policy.name].eval_document(
                    f"{policy.name}.violation", _admission_input(policy_input)
                )
                assert _violations(value) == expected[policy.package], (
                    f"OPA: {policy.name} on {policy_input.target}"
                )


def test_templates_run_on_the_opa_command(tmp_path: Path) -> None:
    """Each template evaluated by the `opa` command as Gatekeeper evaluates it: only the
    template's rego and libs loaded (no data), `violation` queried with the admission input
    (`input.review.object`, `input.parameters`)."""
    opa = tool("opa")
    objects = [o for sample in SAMPLES for o in _objects(sample)]
    cases = [_admission_input(o) for o in objects]
    (tmp_path / "input.json").write_text(json.dumps({"cases": cases}))
    for policy in _exported():
        folder = tmp_path / policy.name
        folder.mkdir()
        (folder / "template.rego").write_text(policy.rego)
        for i, lib in enumerate(policy.libs):
            (folder / f"lib{i}.rego").write_text(lib)
        query = f"[v | some c in input.cases; v := data.{policy.name}.violation with input as c]"
        command = [opa, "eval", "--format", "json", "--input", str(tmp_path / "input.json")]
        result = subprocess.run(
            [*command, "--data", str(folder), query],
            capture_output=True,
            text=True,
            timeout=300,
            check=False,
        )
        assert result.returncode == 0, result.stderr
        (row,) = json.loads(result.stdout)["result"]
        answers = row["expressions"][0]["value"]
        assert len(answers) == len(objects)
        for policy_input, value in zip(objects, answers, strict=True):
            assert _violations(value) == _gate_findings(policy_input)[policy.package], (
                f"opa: {policy.name} on {policy_input.target}"
            )


def test_written_yaml_is_well_formed_gatekeeper(tmp_path: Path) -> None:
    written = write_policies(list(_exported()), tmp_path)
    templates = {p.stem: yaml.safe_load(p.read_text()) for p in (tmp_path / "templates").iterdir()}
    constraints = {
        p.stem: yaml.safe_load(p.read_text()) for p in (tmp_path / "constraints").iterdir()
    }
    assert len(written) == 2 * len(_exported()) == len(templates) + len(constraints)
    for name, template in templates.items():
        assert template["apiVersion"] == "templates.gatekeeper.sh/v1"
        assert template["kind"] == "ConstraintTemplate"
        kind = template["spec"]["crd"]["spec"]["names"]["kind"]
        # Gatekeeper requires the template name to be the lowercase of the CRD kind.
        assert template["metadata"]["name"] == name == kind.lower()
        assert DNS_LABEL.match(name)
        (target,) = template["spec"]["targets"]
        assert target["target"] == ADMISSION_TARGET
        (code,) = target["code"]
        assert code["engine"] == "Rego"
        source = code["source"]
        assert source["version"] == "v1"
        assert re.search(rf"^package {name}$", source["rego"], re.MULTILINE)
        assert re.search(r"^violation contains \{", source["rego"], re.MULTILINE)
        for lib in source["libs"]:
            assert re.search(r"^package lib\.[a-z_.]+$", lib, re.MULTILINE)
        for module in [source["rego"], *source["libs"]]:
            code_lines = [line for line in module.splitlines() if not line.lstrip().startswith("#")]
            refs = re.findall(r"\bdata\.[A-Za-z_.]+", "\n".join(code_lines))
            assert all(ref.startswith("data.lib.") for ref in refs), refs
            assert "\t" not in module
        constraint = constraints[name]
        assert constraint["apiVersion"] == "constraints.gatekeeper.sh/v1beta1"
        assert constraint["kind"] == kind
        assert DNS_LABEL.match(constraint["metadata"]["name"])
        assert constraint["spec"]["enforcementAction"] == "deny"
        assert constraint["spec"]["match"]["kinds"]
    # What is written is what is evaluated above.
    for policy in _exported():
        source = templates[policy.name]["spec"]["targets"][0]["code"][0]["source"]
        assert source["rego"] == policy.rego
        assert tuple(source["libs"]) == policy.libs


def test_cli_writes_templates_and_constraints(tmp_path: Path) -> None:
    run = run_sealgate("policy", "export-gatekeeper", "--out", str(tmp_path / "gk"), cwd=REPO)
    assert run.code == 0, run.stderr
    assert sorted(p.name for p in (tmp_path / "gk" / "templates").iterdir()) == sorted(
        f"{p.name}.yaml" for p in _exported()
    )
    assert len(run.stdout.splitlines()) == 2 * len(_exported())


def test_cli_without_kubernetes_policies_is_an_input_error(tmp_path: Path) -> None:
    shutil_tree = tmp_path / "policies" / "gate"
    shutil_tree.parent.mkdir()
    shutil.copytree(REPO / "policies" / "sealgate" / "gate", shutil_tree)
    (tmp_path / "policies" / "lib").mkdir(parents=True, exist_ok=True)
    shutil.copy(
        REPO / "policies" / "sealgate" / "lib" / "findings" / "findings.rego",
        tmp_path / "policies" / "lib",
    )
    (tmp_path / "policies" / "data").mkdir()
    run = run_sealgate(
        "policy", "export-gatekeeper", "policies", "--out", str(tmp_path / "gk"), cwd=tmp_path
    )
    assert run.code == 2
    assert "reads 'kubernetes' inputs" in run.stderr
    assert "Traceback" not in run.stderr


def test_gator_verify_accepts_a_suite_per_policy(tmp_path: Path) -> None:
    """Gatekeeper's own test runner (`gator verify`) on the written templates and constraints:
    each sample object must raise, per template, exactly the violations the gate finds."""
    gator = tool("gator")
    engine = create_engine("embedded", _policy_set())
    write_policies(list(_exported()), tmp_path)
    objects = [o for sample in SAMPLES for o in _objects(sample)]
    for i, policy_input in enumerate(objects):
        (tmp_path / "objects").mkdir(exist_ok=True)
        (tmp_path / "objects" / f"{i}.yaml").write_text(yaml.safe_dump(policy_input.document))
    tests = []
    for policy in _exported():
        cases = []
        for i, policy_input in enumerate(objects):
            # Every finding, not (rule, path) pairs: two findings may share a path.
            found = [
                f.rule_id
                for f in evaluate_input(_policy_set(), engine, policy_input)
                if f.package == policy.package
            ]
            assertions: list[dict[str, Any]] = [{"violations": len(found)}]
            for rule in sorted(set(found)):
                assertions.append({"message": f"^{rule}: ", "violations": found.count(rule)})
            cases.append(
                {"name": f"object-{i}", "object": f"objects/{i}.yaml", "assertions": assertions}
            )
        tests.append(
            {
                "name": policy.name,
                "template": f"templates/{policy.name}.yaml",
                "constraint": f"constraints/{policy.name}.yaml",
                "cases": cases,
            }
        )
    suite = {
        "kind": "Suite",
        "apiVersion": "test.gatekeeper.sh/v1alpha1",
        "metadata": {"name": "sealgate"},
        "tests": tests,
    }
    (tmp_path / "suite.yaml").write_text(yaml.safe_dump(suite, sort_keys=False))
    result = subprocess.run(
        [gator, "verify", str(tmp_path)], capture_output=True, text=True, timeout=600, check=False
    )
    assert result.returncode == 0, result.stdout + result.stderr
