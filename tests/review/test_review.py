"""`sealgate review`: the posture table and the diagram say what the plans say."""

from __future__ import annotations

import copy
import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sealgate.cli import main
from sealgate.report._diagram import label, mermaid
from sealgate.report._plan_view import read_plan

from tests.conftest import REPO

VAULT = "azure-native:keyvault:Vault"


def run(args: list[str]) -> int:
    with pytest.raises(SystemExit) as stopped:
        main(["review", *args])
    return int(stopped.value.code or 0)


@pytest.fixture(scope="module")
def at_repo() -> Iterator[None]:
    with pytest.MonkeyPatch.context() as patch:
        patch.chdir(REPO)
        yield


@pytest.fixture(scope="module")
def plans(at_repo: None) -> dict[str, dict[str, Any]]:
    from sealgate.platform._plan import build_plan

    return {stack: build_plan(REPO, stack) for stack in ("prod", "dev")}


@pytest.fixture(scope="module")
def plan_files(plans: dict[str, dict[str, Any]], tmp_path_factory: pytest.TempPathFactory) -> dict:
    folder = tmp_path_factory.mktemp("plans")
    files = {}
    for stack, plan in plans.items():
        files[stack] = folder / f"{stack}.json"
        files[stack].write_text(json.dumps(plan, indent=2), encoding="utf-8")
    return files


@pytest.fixture(scope="module")
def offline_review(at_repo: None, tmp_path_factory: pytest.TempPathFactory) -> str:
    """The command as CI runs it: both plans built offline from the stack files."""
    out = tmp_path_factory.mktemp("review") / "review.md"
    assert run(["--stack", "prod", "--against", "dev", "--out", str(out)]) == 0
    return out.read_text(encoding="utf-8")


def resource(plan: dict[str, Any], type_token: str) -> dict[str, Any]:
    [found] = [s["newState"] for s in plan["steps"] if s["newState"]["type"] == type_token]
    return found


def section(review: str, title: str) -> str:
    return review.split(f"## {title}\n", 1)[1].split("\n## ", 1)[0]


def table_rows(text: str) -> list[list[str]]:
    rows = [line for line in text.splitlines() if line.startswith("| ")]
    return [[cell.strip() for cell in row.strip("|").split(" | ")] for row in rows[1:]]


def posture_cells(review: str) -> dict[str, list[str]]:
    return {row[1]: row[2:] for row in table_rows(section(review, "Security posture"))}


def diagram_of(review: str) -> str:
    return review.split("```mermaid\n", 1)[1].split("```", 1)[0]


def parse_mermaid(source: str) -> dict[str, Any]:
    """Structure of a flowchart: subgraphs balanced with `end`, node and group ids unique."""
    lines = source.splitlines()
    assert lines[0] == "flowchart LR"
    depth, groups, nodes, edges = 0, {}, {}, []
    declared = re.compile(r'^\s*([A-Za-z][A-Za-z0-9_]*)\["([^"]*)"\]$')
    for line in lines[1:]:
        text = line.strip()
        if text.startswith("subgraph "):
            match = declared.match(text.removeprefix("subgraph "))
            assert match, line
            assert match[1] not in groups and match[1] not in nodes, f"duplicate id {match[1]}"
            groups[match[1]] = match[2]
            depth += 1
        elif text == "end":
            depth -= 1
            assert depth >= 0, "end without subgraph"
        elif match := declared.match(text):
            assert match[1] not in groups and match[1] not in nodes, f"duplicate id {match[1]}"
            nodes[match[1]] = match[2]
        else:
            edge = re.fullmatch(r"(\w+) (-->|-\.->) (\w+)", text)
            assert edge, f"not a node, subgraph or edge: {line!r}"
            edges.append((edge[1], edge[2], edge[3]))
    assert depth == 0, "unbalanced subgraph/end"
    for a, _, b in edges:
        assert a in nodes and b in nodes, f"edge between undeclared ids {a} {b}"
    return {"groups": groups, "nodes": nodes, "edges": edges}


def node_id(diagram: dict[str, Any], name: str) -> str:
    [found] = [i for i, text in diagram["nodes"].items() if text.endswith(f"<br/>{name}")]
    return found


def test_posture_cells_are_read_from_the_plans(
    offline_review: str, plans: dict[str, dict[str, Any]]
) -> None:
    cells = posture_cells(offline_review)
    prod, dev = plans["prod"], plans["dev"]
    system_zones = {
        stack: resource(plan, "azure-native:containerservice:ManagedCluster")["inputs"][
            "agentPoolProfiles"
        ][0].get("availabilityZones")
        for stack, plan in plans.items()
    }
    assert system_zones == {"prod": ["1", "2", "3"], "dev": None}
    assert cells["Availability zones (AKS system pool)"] == ["✅ 3", "❌ 1", "**≠**"]
    replicas = [
        d["newState"]["inputs"]["spec"]["replicas"]
        for p in (prod, dev)
        for d in p["steps"]
        if d["newState"]["type"] == "kubernetes:apps/v1:Deployment"
        and d["newState"]["inputs"]["metadata"]["name"] == "model-server"
    ]
    assert cells["Model server replicas"] == [f"✅ {replicas[0]}", f"❌ {replicas[1]}", "**≠**"]
    approvals = [p["config"]["sealgate:promotion_approvals"] for p in (prod, dev)]
    assert approvals == ["2", "0"]
    assert cells["Approvals to promote"] == ["✅ 2", "❌ 0", "**≠**"]
    assert resource(prod, VAULT)["inputs"]["properties"]["enablePurgeProtection"] is True
    assert cells["Purge protection"] == ["✅ true", "✅ true", ""]
    # The audit container's policy (the audit head witness has its own, declared after it).
    audit = next(
        s["newState"]["inputs"]
        for s in prod["steps"]
        if s["newState"]["type"] == "azure-native:storage:BlobContainerImmutabilityPolicy"
        and s["newState"]["urn"].endswith("-audit-worm")
    )
    assert cells["WORM audit container (days)"][0] == (
        f"✅ {audit['immutabilityPeriodSinceCreationInDays']}"
    )
    storage = resource(prod, "azure-native:storage:StorageAccount")["inputs"]
    assert cells["Minimum TLS"][0] == f"✅ {storage['minimumTlsVersion']}"
    waf = resource(prod, "azure-native:network:WebApplicationFirewallPolicy")["inputs"]
    assert cells["WAF mode"][0] == f"✅ {waf['policySettings']['mode']}"
    diagnosed = [
        s
        for s in prod["steps"]
        if s["newState"]["type"] == "azure-native:monitor:DiagnosticSetting"
    ]
    assert cells["Diagnostic settings coverage"] == [
        f"✅ {len(diagnosed)}/{len(diagnosed)}"
    ] * 2 + [""]


def test_summary_and_components_count_every_resource(
    offline_review: str, plans: dict[str, dict[str, Any]]
) -> None:
    steps = plans["prod"]["steps"]
    assert f"**Stack `prod`**: {len(steps)} resources ({len(steps)} create, 0 update" in (
        offline_review
    )
    assert "gate **PASS**" in offline_review
    rows = table_rows(section(offline_review, "Resources by component"))
    components = {
        s["newState"]["urn"].split("::")[-1]: s["newState"]["type"].rsplit(":", 1)[-1]
        for s in steps
        if s["newState"]["type"].startswith("sealgate:infra:")
    }
    assert len(components) == 11
    assert {row[1].strip("`"): row[0] for row in rows if row[0] != "stack"} == components
    # each component's own resource is not counted inside it; everything else is, once
    assert sum(int(row[2]) for row in rows) == len(steps) - len(components)
    assert all(row[3] == row[2] and row[4:] == ["0"] * 4 for row in rows)


def test_diagram_has_every_component_and_the_key_resources(
    offline_review: str, plans: dict[str, dict[str, Any]]
) -> None:
    diagram = parse_mermaid(diagram_of(offline_review))
    names = {
        s["newState"]["urn"].split("::")[-1]
        for s in plans["prod"]["steps"]
        if s["newState"]["type"].startswith("sealgate:infra:")
    }
    titles = set(diagram["groups"].values())
    assert all(any(t.endswith(f": {name}") for t in titles) for name in names), titles
    for name in (
        "sealgate-prod-keys-vault",
        "sealgate-prod-storage-account",
        "sealgate-prod-registry-acr",
        "sealgate-prod-cluster-aks",
        "sealgate-prod-cluster-models-pool",
        "sealgate-prod-gateway-agw",
        "sealgate-prod-api-apim",
        "sealgate-prod-edge-hub",
        "sealgate-prod-workloads-model-server",
    ):
        node_id(diagram, name)
    edges = {(a, b) for a, _, b in diagram["edges"]}
    vault, endpoint = (
        node_id(diagram, "sealgate-prod-keys-vault"),
        node_id(diagram, "sealgate-prod-keys-vault-pe"),
    )
    assert (endpoint, vault) in edges
    assert (
        node_id(diagram, "sealgate-prod-gateway-agw"),
        node_id(diagram, "sealgate-prod-gateway-waf"),
    ) in edges
    # eleven diagnostic settings collapse into one node per component
    diagnostic_nodes = [t for t in diagram["nodes"].values() if t.startswith("diagnostic settings")]
    assert sum(int(t.split(": ")[1].split()[0]) for t in diagnostic_nodes) == 11
    assert not any("-diagnostics" in t for t in diagram["nodes"].values())


def test_a_weakened_plan_flips_the_cell_and_shows_the_finding(
    at_repo: None, plans: dict[str, dict[str, Any]], plan_files: dict, tmp_path: Path
) -> None:
    weakened = copy.deepcopy(plans["prod"])
    resource(weakened, VAULT)["inputs"]["properties"]["enablePurgeProtection"] = False
    preview = tmp_path / "weakened.json"
    preview.write_text(json.dumps(weakened, indent=2), encoding="utf-8")
    out, page = tmp_path / "review.md", tmp_path / "review.html"
    code = run(
        [
            "--stack", "prod", "--preview", str(preview),
            "--against", "dev", "--against-preview", str(plan_files["dev"]),
            "--out", str(out), "--html", str(page),
        ]
    )  # fmt: skip
    assert code == 1
    review = out.read_text(encoding="utf-8")
    assert posture_cells(review)["Purge protection"] == ["❌ false", "✅ true", "**≠**"]
    assert "gate **FAIL**" in review
    findings = section(review, "Gate findings")
    [row] = [r for r in table_rows(findings) if "`SG-AZ-003`" in r[1]]
    assert row[0] == "critical" and "purge protection is not enabled" in row[3]
    assert row[2].startswith(f"`{preview.resolve().as_posix()}:")
    html = page.read_text(encoding="utf-8")
    assert '<pre class="mermaid">flowchart LR' in html
    assert "&lt;br/&gt;sealgate-prod-keys-vault" in html
    assert "<table>" in html and "SG-AZ-003" in html
    assert "<script" not in html and "http" not in html.split("<body>")[0]


def test_preview_ops_are_counted_per_component(plans: dict[str, dict[str, Any]]) -> None:
    plan = copy.deepcopy(plans["prod"])
    by_name = {s["newState"]["urn"].split("::")[-1]: s for s in plan["steps"]}
    by_name["sealgate-prod-keys-vault"]["op"] = "update"
    for step in plan["steps"]:
        if step["op"] == "create" and step is not by_name["sealgate-prod-keys-vault"]:
            step["op"] = "same"
    replaced = by_name["sealgate-prod-cluster-aks"]
    replaced["op"] = "create-replacement"
    plan["steps"] += [
        {**replaced, "op": "replace"},
        {"op": "delete-replaced", "urn": replaced["urn"], "oldState": replaced["newState"]},
    ]
    gone = by_name["sealgate-prod-storage-models"]
    plan["steps"].remove(gone)
    plan["steps"].append({"op": "delete", "urn": gone["urn"], "oldState": gone["newState"]})
    view = read_plan(plan, "preview.json")
    counts = {c.label: dict(c.counts()) for c in view.components}
    assert counts["KeyStore"] == {"update": 1, "same": 11}
    assert counts["Cluster"] == {"replace": 1, "same": 3}  # pool, diagnostics, subnet role
    assert counts["ModelStorage"] == {"delete": 1, "same": 10}
    assert dict(view.counts()) == {"update": 1, "replace": 1, "delete": 1, "same": 124}
    diagram = parse_mermaid(mermaid(view))
    assert any(t.endswith("sealgate-prod-cluster-aks (replace)") for t in diagram["nodes"].values())
    assert any(
        t.endswith("sealgate-prod-storage-models (delete)") for t in diagram["nodes"].values()
    )


def test_labels_and_ids_are_mermaid_safe(plans: dict[str, dict[str, Any]]) -> None:
    assert label('a"b<c>#d`e') == "a#quot;b#lt;c#gt;#35;d#96;e"
    plan = copy.deepcopy(plans["dev"])
    vault = next(s for s in plan["steps"] if s["newState"]["type"] == VAULT)
    for field in ("urn",):
        vault[field] = vault["newState"][field] = vault["newState"][field] + '"<end>#1'
    diagram = parse_mermaid(mermaid(read_plan(plan, "dev.json")))
    [text] = [t for t in diagram["nodes"].values() if t.startswith("Vault<br/>")]
    assert text == "Vault<br/>sealgate-dev-keys-vault#quot;#lt;end#gt;#35;1"


def test_a_preview_of_another_stack_is_refused(
    at_repo: None, plan_files: dict, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "review.md"
    code = run(["--stack", "prod", "--preview", str(plan_files["dev"]), "--out", str(out)])
    assert code == 2
    assert "the plan is of stack 'dev', not 'prod'" in capsys.readouterr().err
    assert not out.exists()
