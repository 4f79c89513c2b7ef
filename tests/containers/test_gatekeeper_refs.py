"""The Gatekeeper export finds every data reference in the syntax tree, however it is spelled.

Each case is a one-rule Kubernetes policy that denies an image from outside the allowed
registries (``data.config.registries``): the gate denies the object, so the exported template
must deny it too. Spellings the regular-expression rewrite missed (``data["config"][...]``)
were exported unchanged and returned no violation at admission (fail open).
"""

from __future__ import annotations

import json
import subprocess
from pathlib import Path
from typing import Any

import pytest
from sealgate.errors import PolicyLoadError
from sealgate.policy._gatekeeper import GatekeeperPolicy, export_policies
from sealgate.policy._loader import load_policy_set
from sealgate.policy._rego_refs import parse_module

from tests.rego_tools import tool

POD = {
    "apiVersion": "v1",
    "kind": "Pod",
    "metadata": {"name": "web"},
    "spec": {"containers": [{"name": "web", "image": "docker.io/library/nginx:1"}]},
}
ALLOWED_POD = {
    **POD,
    "spec": {"containers": [{"name": "web", "image": "mcr.microsoft.com/x:1"}]},
}

HEADER = """# METADATA
# title: Registries
# description: Images come from allowed registries.
# custom:
#   input: kubernetes
package acme.containers.registries

{imports}

# METADATA
# title: Registry not allowed
# description: The image is pulled from a registry that is not allowed.
# custom:
#   id: ACME-K8S-001
#   severity: high
#   remediation: Pull from an allowed registry.
deny contains finding if {{
\tsome i, c in input.spec.containers
\tregistry := split(c.image, "/")[0]
\t{body}
\tfinding := {{
\t\t"id": "ACME-K8S-001",
\t\t"msg": sprintf("%s comes from %s", [c.name, registry]),
\t\t"severity": "high",
\t\t"path": ["spec", "containers", i, "image"],
\t}}
}}
"""

LIB = """package acme.lib.registry

allowed(registry, hosts) if registry in hosts
"""

SPELLINGS = {
    "dotted": ("", "not registry in data.config.registries.allowed"),
    "brackets": ("", 'not registry in data["config"]["registries"]["allowed"]'),
    "mixed": ("", 'not registry in data.config["registries"].allowed'),
    "import alias": (
        "import data.config.registries as regs",
        "not registry in regs.allowed",
    ),
    "lib call by brackets": (
        "",
        'not data["sealgate"]["lib"]["registry"].allowed(registry, data.config.registries.allowed)',
    ),
    "with": (
        "",
        "not registry in data.config.registries.allowed with data.config.unused as 1",
    ),
}


def _tree(tmp_path: Path, imports: str, body: str) -> Path:
    root = tmp_path / "policies"
    (root / "containers" / "registries").mkdir(parents=True)
    (root / "lib").mkdir()
    (root / "data").mkdir()
    (root / "data" / "registries.yaml").write_text("allowed: [mcr.microsoft.com]\n")
    (root / "data" / "unused.yaml").write_text("x: 1\n")
    (root / "lib" / "registry.rego").write_text(LIB.replace("acme.lib", "sealgate.lib"))
    policy = HEADER.format(imports=imports, body=body)
    (root / "containers" / "registries" / "policy.rego").write_text(policy)
    return root


def _export(root: Path) -> tuple[Any, GatekeeperPolicy]:
    policy_set = load_policy_set([root])
    (exported,) = export_policies(policy_set)
    return policy_set, exported


def _violations(policy: GatekeeperPolicy, obj: dict[str, Any]) -> list[Any]:
    """The template on OPA's Go engine, its modules only (no data: what it reads, it bundles).
    Not on the embedded engine: templates call libs through import aliases, which regorus
    cannot."""
    bindings = pytest.importorskip("opa_bindings", reason="the OPA Go engine is not installed")
    engine = bindings.OpaEngine()
    try:
        engine.add_policy(f"{policy.name}.rego", policy.rego)
        for i, lib in enumerate(policy.libs):
            engine.add_policy(f"lib{i}.rego", lib)
        value = engine.eval_document(
            f"{policy.name}.violation", {"review": {"object": obj}, "parameters": {}}
        )
    finally:
        engine.close()
    assert isinstance(value, list)
    return value


@pytest.mark.parametrize("spelling", SPELLINGS, ids=str)
def test_every_spelling_denies_at_admission_as_at_the_gate(tmp_path: Path, spelling: str) -> None:
    imports, body = SPELLINGS[spelling]
    policy_set, policy = _export(_tree(tmp_path, imports, body))
    gate = policy_set.engine().evaluate("acme.containers.registries.deny", POD)
    assert [f["id"] for f in gate] == ["ACME-K8S-001"]
    (violation,) = _violations(policy, POD)
    assert violation["details"] == {
        "id": "ACME-K8S-001",
        "severity": "high",
        "path": ["spec", "containers", 0, "image"],
    }
    assert _violations(policy, ALLOWED_POD) == []
    for module in [policy.rego, *policy.libs]:
        assert all(ref.path[0] == "lib" for ref in parse_module("x.rego", module).refs)
    assert "data.config" not in policy.rego
    assert '["config"]' not in policy.rego


@pytest.mark.parametrize(
    ("body", "shown"),
    [
        ("not registry in data.acme.other.allowed", "data.acme.other.allowed"),
        ('some key in object.keys(data["config"])\n\tkey != registry', "data.config"),
        ("not registry in data.config[registry]", "data.config[_]"),
        ('not registry in object.get(data, "config", {})', "data"),
    ],
    ids=["other package", "config without a stem", "computed stem", "data itself"],
)
def test_what_cannot_be_bundled_is_refused_with_its_line(
    tmp_path: Path, body: str, shown: str
) -> None:
    root = _tree(tmp_path, "", body)
    with pytest.raises(PolicyLoadError) as raised:
        _export(root)
    message = str(raised.value)
    assert "containers/registries/policy.rego:20: reads " + shown + "," in message
    assert "cannot bundle" in message


def test_a_reference_after_non_ascii_text_is_rewritten_at_its_bytes(tmp_path: Path) -> None:
    root = _tree(tmp_path, "# Registres autorisés → data.config.registries", "")
    policy_path = root / "containers" / "registries" / "policy.rego"
    text = policy_path.read_text().replace(
        "\t\n", '\tnot registry in data["config"]["registries"].allowed # « » é\n', 1
    )
    policy_path.write_text(text)
    _, policy = _export(root)
    assert "lib_sealgate_config_registries.allowed # « » é" in policy.rego
    assert len(_violations(policy, POD)) == 1


def test_the_bracket_path_template_denies_on_the_opa_command(tmp_path: Path) -> None:
    """The measured fail-open case, evaluated by OPA as Gatekeeper evaluates a template."""
    opa = tool("opa")
    _, policy = _export(_tree(tmp_path, *SPELLINGS["brackets"]))
    folder = tmp_path / "template"
    folder.mkdir()
    (folder / "template.rego").write_text(policy.rego)
    for i, lib in enumerate(policy.libs):
        (folder / f"lib{i}.rego").write_text(lib)
    for obj, expected in ((POD, ["ACME-K8S-001"]), (ALLOWED_POD, [])):
        (tmp_path / "input.json").write_text(
            json.dumps({"review": {"object": obj}, "parameters": {}})
        )
        command = [opa, "eval", "--format", "json", "--input", str(tmp_path / "input.json")]
        result = subprocess.run(
            [*command, "--data", str(folder), f"data.{policy.name}.violation"],
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
        assert result.returncode == 0, result.stderr
        (row,) = json.loads(result.stdout)["result"]
        assert [v["details"]["id"] for v in row["expressions"][0]["value"]] == expected
