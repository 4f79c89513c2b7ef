"""The CrossGuard pack under pulumi-policy's own analyzer server, called as ``pulumi preview
--policy-pack`` calls it: ``GetAnalyzerInfo``, ``Analyze`` per resource and ``AnalyzeStack``
over gRPC, with requests built from the offline plans (properties as protobuf Structs,
unknowns as the engine's sentinel string). Its verdicts must be those of ``sealgate check
--preview`` on the same plan.
"""

from __future__ import annotations

import collections
import copy
import json
import os
import subprocess
import sys
import tomllib
from collections.abc import Iterator
from concurrent import futures
from pathlib import Path
from typing import Any

import grpc
import pytest
import yaml
from google.protobuf import empty_pb2, struct_pb2
from pulumi.runtime import settings
from pulumi.runtime.proto import analyzer_pb2, analyzer_pb2_grpc
from pulumi_policy import EnforcementLevel
from pulumi_policy.policy import _PolicyAnalyzerServicer
from pulumi_policy.proxy import unknown_checking_proxy
from sealgate.inputs._kinds import parse_file
from sealgate.platform._plan import _computed
from sealgate.platform._policy_pack import (
    PACK_NAME,
    RESOURCE_POLICY,
    RESOURCE_UNKNOWN_POLICY,
    STACK_POLICY,
    STACK_UNKNOWN_POLICY,
    UNKNOWN,
    _derived,
    _differences,
    pack_policies,
    plain,
)
from sealgate.policy._engine import create_engine
from sealgate.policy._gate import run_gate
from sealgate.policy._loader import load_policy_set

from tests.infra.conftest import REPO, STACKS

PACK = REPO / "policies" / "pack"
# A call the server never answers (a crashed worker thread) fails the test instead of hanging it.
CALL_TIMEOUT = 300.0
MANDATORY = analyzer_pb2.MANDATORY
ADVISORY = analyzer_pb2.ADVISORY
SAMPLES = sorted(
    folder / case["input"]
    for suite in (REPO / "policies" / "sealgate" / "infra").glob("*/samples/suite.yaml")
    for folder in [suite.parent]
    for case in yaml.safe_load(suite.read_text(encoding="utf-8"))["cases"]
)


def pack_version() -> str:
    return str(yaml.safe_load((PACK / "PulumiPolicy.yaml").read_text(encoding="utf-8"))["version"])


@pytest.fixture(scope="module")
def analyzer() -> Iterator[analyzer_pb2_grpc.AnalyzerStub]:
    """pulumi-policy's analyzer server, serving the pack on 127.0.0.1 as the CLI's plugin
    host would (the CLI takes the version from PulumiPolicy.yaml)."""
    servicer = _PolicyAnalyzerServicer(
        PACK_NAME, pack_version(), pack_policies(REPO / "policies"), EnforcementLevel.MANDATORY
    )
    server = grpc.server(futures.ThreadPoolExecutor(max_workers=4))
    analyzer_pb2_grpc.add_AnalyzerServicer_to_server(servicer, server)
    port = server.add_insecure_port("127.0.0.1:0")
    server.start()
    channel = grpc.insecure_channel(f"127.0.0.1:{port}")
    try:
        yield analyzer_pb2_grpc.AnalyzerStub(channel)
    finally:
        channel.close()
        server.stop(0)


def _struct(value: dict[str, Any]) -> struct_pb2.Struct:
    struct = struct_pb2.Struct()
    struct.update(value)
    return struct


def _states(plan: dict[str, Any]) -> list[dict[str, Any]]:
    return [step["newState"] for step in plan["steps"] if step.get("newState")]


def _provider(state: dict[str, Any], plan: dict[str, Any]) -> analyzer_pb2.AnalyzerProviderResource:
    package = state["type"].split(":")[0]
    explicit = [s for s in _states(plan) if s["type"] == f"pulumi:providers:{package}"]
    if explicit:
        urn = explicit[0]["urn"]
    else:
        stack = state["urn"].split("::")[0]
        urn = f"{stack}::sealgate::pulumi:providers:{package}::default"
    return analyzer_pb2.AnalyzerProviderResource(
        type=f"pulumi:providers:{package}",
        urn=urn,
        name=urn.split("::")[-1],
        properties=_struct({}),
    )


def _request_fields(state: dict[str, Any], plan: dict[str, Any]) -> dict[str, Any]:
    fields: dict[str, Any] = {
        "type": state["type"],
        "properties": _struct(state.get("inputs", {})),
        "urn": state["urn"],
        "name": state["urn"].split("::")[-1],
        "options": analyzer_pb2.AnalyzerResourceOptions(parent=state.get("parent", "")),
    }
    if not state["type"].startswith("pulumi:providers:"):
        fields["provider"] = _provider(state, plan)
    return fields


def analyze(
    stub: analyzer_pb2_grpc.AnalyzerStub,
    plan: dict[str, Any],
    monkeypatch: pytest.MonkeyPatch,
    *,
    preview: bool = True,
) -> list[Any]:
    """Every diagnostic of a preview (or of the final state of ``pulumi up``) of ``plan``."""
    stack = _states(plan)[0]["urn"].split("::")[0].removeprefix("urn:pulumi:")
    ambient = settings.SETTINGS
    monkeypatch.setenv("PULUMI_PROJECT", "sealgate")
    monkeypatch.setenv("PULUMI_STACK", stack)
    monkeypatch.setenv("PULUMI_DRY_RUN", "true" if preview else "false")
    try:
        diagnostics: list[Any] = []
        for state in _states(plan):
            request = analyzer_pb2.AnalyzeRequest(**_request_fields(state, plan))
            diagnostics += stub.Analyze(request, timeout=CALL_TIMEOUT).diagnostics
        resources = [
            analyzer_pb2.AnalyzerResource(**_request_fields(s, plan), parent=s.get("parent", ""))
            for s in _states(plan)
        ]
        stack_request = analyzer_pb2.AnalyzeStackRequest(resources=resources)
        diagnostics += stub.AnalyzeStack(stack_request, timeout=CALL_TIMEOUT).diagnostics
        return diagnostics
    finally:
        settings.configure(ambient)


def rule_id(diagnostic: Any) -> str:
    """The rule id that opens the message line after the policy's description."""
    return str(diagnostic.message.split("\n", 1)[1].split(" ", 1)[0])


def blocking(diagnostics: list[Any]) -> collections.Counter[str]:
    return collections.Counter(rule_id(d) for d in diagnostics if d.enforcementLevel == MANDATORY)


@pytest.fixture(scope="module")
def check() -> Any:
    """``sealgate check --preview`` on one plan file: the rule ids of its findings."""
    policy_set = load_policy_set([REPO / "policies"])
    engine = create_engine("embedded", policy_set)

    def run(path: Path) -> collections.Counter[str]:
        return collections.Counter(f.rule_id for f in findings(path))

    def findings(path: Path) -> list[Any]:
        result = run_gate(policy_set, engine, parse_file("pulumi-plan", path), waivers_file=None)
        assert result.input_errors == 0
        return list(result.findings)

    run.findings = findings  # type: ignore[attr-defined]
    return run


def resource_findings(check: Any, path: Path) -> collections.Counter[tuple[str, str]]:
    """``sealgate check``'s findings on resources (not the stack, not Kubernetes manifests),
    by rule id and URN."""
    found: collections.Counter[tuple[str, str]] = collections.Counter()
    for finding in check.findings(path):
        where = finding.target.partition("#")[2]
        if where.startswith("urn:"):
            found[(finding.rule_id, where)] += 1
    return found


def _write(tmp_path: Path, plan: dict[str, Any], name: str = "plan.json") -> Path:
    path = tmp_path / name
    path.write_text(json.dumps(plan), encoding="utf-8")
    return path


def test_the_pack_has_the_project_version_and_serves_its_policies(
    analyzer: analyzer_pb2_grpc.AnalyzerStub,
) -> None:
    project = tomllib.loads((REPO / "pyproject.toml").read_text(encoding="utf-8"))
    assert pack_version() == project["project"]["version"]
    info = analyzer.GetAnalyzerInfo(empty_pb2.Empty(), timeout=CALL_TIMEOUT)
    assert (info.name, info.version) == (PACK_NAME, pack_version())
    levels = {p.name: p.enforcementLevel for p in info.policies}
    assert levels == {
        RESOURCE_POLICY: MANDATORY,
        STACK_POLICY: MANDATORY,
        RESOURCE_UNKNOWN_POLICY: ADVISORY,
        STACK_UNKNOWN_POLICY: ADVISORY,
    }


def test_proxies_become_plain_values_and_unknowns_stay_unknown() -> None:
    props = {"rules": [{"port": "22", "source": UNKNOWN}], "n": 3.0, "tags": {"a": "b"}}
    assert plain(unknown_checking_proxy(copy.deepcopy(props))) == {**props, "n": 3}


def test_what_depends_on_an_unknown_is_where_probed_documents_differ() -> None:
    probed = [{"inputs": {"a": 1, "b": probe, "c": [probe, 2]}} for probe in (UNKNOWN, False, 0)]
    assert _differences(probed) == {("inputs", "b"), ("inputs", "c", 0)}
    # A key the normalization derived from inputs that hold an unknown depends on it, even
    # when it comes out the same under every probe (an unparsable value parses to null).
    raw = {"inputs": {"value": UNKNOWN}}
    normalized = {"inputs": {"value": UNKNOWN, "_parsed": None}}
    assert _derived(raw, normalized) == {("inputs", "_parsed")}
    assert _derived({"inputs": {"value": "<policies/>"}}, normalized) == set()
    stack = {"resources": [{"inputs": {}}, raw]}
    assert _derived(stack, {"resources": [{"inputs": {}}, normalized]}) == {
        ("resources", 1, "inputs", "_parsed")
    }


@pytest.mark.parametrize("sample", SAMPLES, ids=lambda p: str(p.relative_to(REPO / "policies")))
def test_every_sample_gets_the_verdict_of_sealgate_check(
    sample: Path,
    analyzer: analyzer_pb2_grpc.AnalyzerStub,
    check: Any,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    plan = json.loads(sample.read_text(encoding="utf-8"))
    diagnostics = analyze(analyzer, plan, monkeypatch)
    assert blocking(diagnostics) == check(sample)
    on_resources = collections.Counter(
        (rule_id(d), d.urn) for d in diagnostics if d.policyName == RESOURCE_POLICY
    )
    assert resource_findings(check, sample) <= on_resources
    assert [d.message for d in diagnostics if d.enforcementLevel != MANDATORY] == []


@pytest.mark.parametrize("stack", STACKS)
def test_every_stack_passes_the_real_analyzer(
    stack: str,
    plans: dict[str, Any],
    plan_files: dict[str, Path],
    analyzer: analyzer_pb2_grpc.AnalyzerStub,
    check: Any,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    assert check(plan_files[stack]) == collections.Counter()
    assert [d.message for d in analyze(analyzer, plans[stack], monkeypatch)] == []
    final = analyze(analyzer, plans[stack], monkeypatch, preview=False)
    assert [d.message for d in final] == []


def _open_ssh(plan: dict[str, Any]) -> tuple[dict[str, Any], str]:
    """The plan with one NSG that allows SSH from the Internet."""
    opened = copy.deepcopy(plan)
    nsg = next(
        s for s in _states(opened) if s["type"] == "azure-native:network:NetworkSecurityGroup"
    )
    nsg["inputs"].setdefault("securityRules", []).append(
        {
            "name": "ssh-from-anywhere",
            "direction": "Inbound",
            "access": "Allow",
            "protocol": "Tcp",
            "priority": 100,
            "sourceAddressPrefix": "Internet",
            "sourcePortRange": "*",
            "destinationAddressPrefix": "*",
            "destinationPortRange": "22",
        }
    )
    return opened, nsg["urn"]


def test_an_nsg_rule_opening_ssh_to_the_internet_is_caught(
    plans: dict[str, Any],
    analyzer: analyzer_pb2_grpc.AnalyzerStub,
    check: Any,
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
) -> None:
    opened, urn = _open_ssh(plans["prod"])
    assert check(_write(tmp_path, opened)) == collections.Counter({"SG-AZ-061": 1})
    diagnostics = analyze(analyzer, opened, monkeypatch)
    assert [(rule_id(d), d.urn, d.policyName) for d in diagnostics] == [
        ("SG-AZ-061", urn, RESOURCE_POLICY)
    ]
    assert "ssh-from-anywhere allows port 22 from Internet" in diagnostics[0].message


def _strings(value: Any) -> Iterator[str]:
    if isinstance(value, dict):
        for item in value.values():
            yield from _strings(item)
    elif isinstance(value, list):
        for item in value:
            yield from _strings(item)
    elif isinstance(value, str):
        yield value


def first_preview(plan: dict[str, Any]) -> dict[str, Any]:
    """The plan as a first ``pulumi preview`` sees it: every value computed from another
    resource's outputs (ids, principals, URIs, login servers...) is unknown."""
    outputs: set[str] = set()
    for state in _states(plan):
        computed = _computed(state["type"], state["urn"].split("::")[-1], state["inputs"])
        computed.pop("name", None)
        computed.pop("metadata", None)
        echoed = set(_strings(state["inputs"]))  # outputs that repeat an input are known
        outputs.update(text for text in _strings(computed) if len(text) > 8 and text not in echoed)

    def blank(value: Any) -> Any:
        if isinstance(value, dict):
            return {k: blank(v) for k, v in value.items()}
        if isinstance(value, list):
            return [blank(v) for v in value]
        if isinstance(value, str) and any(output in value for output in outputs):
            return UNKNOWN
        return value

    unknown = copy.deepcopy(plan)
    for state in _states(unknown):
        state["inputs"] = blank(state["inputs"])
    return unknown


def _with_unknowns(plan: dict[str, Any]) -> int:
    return sum(UNKNOWN in json.dumps(s["inputs"]) for s in _states(plan))


def test_a_first_preview_runs_every_policy_and_defers_only_what_is_unknown(
    plans: dict[str, Any], analyzer: analyzer_pb2_grpc.AnalyzerStub, monkeypatch: pytest.MonkeyPatch
) -> None:
    unknown = first_preview(plans["prod"])
    assert _with_unknowns(unknown) > len(_states(unknown)) // 3
    diagnostics = analyze(analyzer, unknown, monkeypatch)
    # pulumi-policy skips a policy with "can't run policy ... during preview" when a value
    # it reads is unknown: the pack never lets that happen.
    assert [d.message for d in diagnostics if "can't run policy" in d.message] == []
    assert blocking(diagnostics) == collections.Counter()
    deferred = [d for d in diagnostics if d.enforcementLevel == ADVISORY]
    assert deferred, "rules that read unknown values are reported, not passed"
    for diagnostic in deferred:
        assert diagnostic.policyName in {RESOURCE_UNKNOWN_POLICY, STACK_UNKNOWN_POLICY}
        assert "not yet verifiable" in diagnostic.message
        assert f"{STACK_POLICY} enforces it on the final state" in diagnostic.message
    subnet_rules = {
        (rule_id(d), d.urn.split("::")[-1])
        for d in deferred
        if "networkSecurityGroup.id" in d.message
    }
    assert ("SG-AZ-062", "sealgate-prod-network-gateway") in subnet_rules


def _ssh_sample() -> dict[str, Any]:
    path = REPO / "policies/sealgate/infra/network/samples/denied/ssh-open.json"
    return dict(json.loads(path.read_text(encoding="utf-8")))


def _ssh_source(plan: dict[str, Any], source: str) -> list[str]:
    """Set the source of every SSH rule; the URNs of the NSGs changed."""
    urns = []
    for state in _states(plan):
        for rule in state["inputs"].get("securityRules", []):
            if rule.get("destinationPortRange") == "22":
                rule["sourceAddressPrefix"] = source
                urns.append(state["urn"])
    return urns


def test_an_unknown_ssh_source_is_not_yet_verifiable_then_enforced_on_the_final_state(
    analyzer: analyzer_pb2_grpc.AnalyzerStub,
    check: Any,
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
) -> None:
    preview = _ssh_sample()
    urns = _ssh_source(preview, UNKNOWN)
    assert urns
    at_preview = analyze(analyzer, preview, monkeypatch)
    deferred = [d for d in at_preview if d.policyName == RESOURCE_UNKNOWN_POLICY]
    assert sorted(d.urn for d in deferred) == sorted(urns)
    assert all(
        "SG-AZ-061 not yet verifiable: it depends on .inputs.securityRules.0.sourceAddressPrefix"
        in d.message
        for d in deferred
    )
    # The findings that do not depend on the unknown still block, each counted once.
    sample = check(_write(tmp_path, _ssh_sample(), "sample.json"))
    assert blocking(at_preview) == sample - collections.Counter({"SG-AZ-061": len(urns)})

    # The value turns out open to the Internet: the stack policy on the final state fails
    # the update with the same findings as `sealgate check`.
    final = _ssh_sample()
    _ssh_source(final, "*")
    stack_findings = [
        d
        for d in analyze(analyzer, final, monkeypatch, preview=False)
        if d.policyName == STACK_POLICY
    ]
    expected = check(_write(tmp_path, final))
    assert expected["SG-AZ-061"] == len(urns)
    assert blocking(stack_findings) == expected
    assert sorted(d.urn for d in stack_findings if rule_id(d) == "SG-AZ-061") == sorted(urns)

    # An unknown left in the final state is a violation, never a pass.
    left = analyze(analyzer, preview, monkeypatch, preview=False)
    assert any(
        rule_id(d) == "SG-AZ-061" and "unknown in the final state" in d.message
        for d in left
        if d.enforcementLevel == MANDATORY
    )


def test_a_known_violation_is_mandatory_even_when_other_values_are_unknown(
    analyzer: analyzer_pb2_grpc.AnalyzerStub, monkeypatch: pytest.MonkeyPatch
) -> None:
    plan = _ssh_sample()
    urns = _ssh_source(plan, "*")
    for state in _states(plan):
        if state["urn"] in urns:
            # Before, one unknown anywhere made pulumi-policy skip the policy for the resource.
            state["inputs"].setdefault("tags", {})["build"] = UNKNOWN
    diagnostics = analyze(analyzer, plan, monkeypatch)
    opened = [
        d.urn for d in diagnostics if d.enforcementLevel == MANDATORY and rule_id(d) == "SG-AZ-061"
    ]
    assert sorted(opened) == sorted(urns)
    assert [d.message for d in diagnostics if d.enforcementLevel == ADVISORY] == []


def test_concurrent_calls_on_the_server_threads_all_answer(
    analyzer: analyzer_pb2_grpc.AnalyzerStub, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The server answers on a thread pool; the Rego engine is bound to one thread.
    plan = _ssh_sample()
    monkeypatch.setenv("PULUMI_DRY_RUN", "true")
    requests = [analyzer_pb2.AnalyzeRequest(**_request_fields(s, plan)) for s in _states(plan)]
    ambient = settings.SETTINGS
    try:
        with futures.ThreadPoolExecutor(max_workers=4) as pool:
            answers = list(
                pool.map(lambda r: analyzer.Analyze(r, timeout=CALL_TIMEOUT), requests * 3)
            )
    finally:
        settings.configure(ambient)
    found = collections.Counter(rule_id(d) for a in answers for d in a.diagnostics)
    assert found == collections.Counter({"SG-AZ-061": 12})


def test_the_pack_entry_point_serves_the_analyzer_as_the_cli_starts_it() -> None:
    """``policies/pack/__main__.py`` run as the CLI runs a policy pack plugin: it prints its
    port, then answers the engine's calls."""
    env = {
        **os.environ,
        "PYTHONPATH": str(REPO / "pipeline"),
        "PULUMI_PROJECT": "sealgate",
        "PULUMI_STACK": "prod",
        "PULUMI_DRY_RUN": "true",
    }
    plugin = subprocess.Popen(
        [sys.executable, "-u", str(PACK / "__main__.py")],
        cwd=PACK,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    try:
        assert plugin.stdout is not None
        port = int(plugin.stdout.readline().decode().strip())
        with grpc.insecure_channel(f"127.0.0.1:{port}") as channel:
            stub = analyzer_pb2_grpc.AnalyzerStub(channel)
            info = stub.GetAnalyzerInfo(empty_pb2.Empty(), timeout=CALL_TIMEOUT)
            assert len(info.policies) == 4
            plan = _ssh_sample()
            found: collections.Counter[str] = collections.Counter()
            for state in _states(plan):
                request = analyzer_pb2.AnalyzeRequest(**_request_fields(state, plan))
                answer = stub.Analyze(request, timeout=CALL_TIMEOUT)
                found.update(rule_id(d) for d in answer.diagnostics)
        assert found == collections.Counter({"SG-AZ-061": 4})
    finally:
        plugin.kill()
        plugin.wait(timeout=30)
