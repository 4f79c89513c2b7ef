"""SARIF: the tool driver's identity, readable unique rule names, and schema validity."""

from __future__ import annotations

import json
from email.message import Message
from importlib.metadata import PackageNotFoundError

import jsonschema
import pytest
from sealgate import __version__
from sealgate.policy import builtin_policy_root
from sealgate.policy._decision import Finding, GateResult, RuleInfo, Severity
from sealgate.policy._gate_rules import GATE_RULES
from sealgate.policy._loader import load_policy_set
from sealgate.report import _sarif as sarif
from sealgate.report import render

from tests.conftest import REPO

SARIF_SCHEMA = json.loads((REPO / "tests" / "data" / "sarif-schema-2.1.0.json").read_text())


def rule(rule_id: str, title: str) -> RuleInfo:
    return RuleInfo(rule_id, title, Severity.HIGH, "d", "r", "test.pkg", "policy.rego", 1)


def sarif_of(result: GateResult) -> dict:
    document = json.loads(render("sarif", result))
    jsonschema.validate(document, SARIF_SCHEMA)
    return document


def driver_of(result: GateResult) -> dict:
    return sarif_of(result)["runs"][0]["tool"]["driver"]


def project_urls(*entries: str) -> Message:
    message = Message()
    for entry in entries:
        message["Project-URL"] = entry
    return message


@pytest.mark.parametrize(
    ("title", "name"),
    [
        ("Key Vault keys must be HSM-backed", "KeyVaultKeysMustBeHsmBacked"),
        ("Key Vault not HSM-backed", "KeyVaultNotHsmBacked"),
        ("Unmasked /proc", "UnmaskedProc"),
        ("Cluster below the environment's availability", "ClusterBelowTheEnvironmentsAvailability"),
        ("Storage without a customer-managed key", "StorageWithoutACustomerManagedKey"),
        ("Runs as user 0", "RunsAsUser0"),
        ("sudo in a RUN instruction", "SudoInARunInstruction"),
        (
            "Signer key is revoked, expired or not yet valid",
            "SignerKeyIsRevokedExpiredOrNotYetValid",
        ),
    ],
)
def test_rule_name_is_the_whole_title_in_pascal_case(title: str, name: str) -> None:
    [entry] = driver_of(GateResult(rules={"SG-T-001": rule("SG-T-001", title)}))["rules"]
    assert entry["name"] == name
    assert entry["shortDescription"]["text"] == title


def test_rules_with_the_same_title_get_names_told_apart_by_id() -> None:
    rules = {
        r.id: r
        for r in (
            rule("SG-B-001", "Privileged container"),
            rule("SG-A-001", "Privileged  container!"),
            rule("SG-C-001", "Image not pinned"),
            rule("SG-D-002", "--"),
        )
    }
    names = {r["id"]: r["name"] for r in driver_of(GateResult(rules=rules))["rules"]}
    assert names == {
        "SG-A-001": "PrivilegedContainerSgA001",
        "SG-B-001": "PrivilegedContainerSgB001",
        "SG-C-001": "ImageNotPinned",
        "SG-D-002": "SgD002",
    }


def test_a_suffixed_name_never_takes_another_rules_name() -> None:
    rules = [rule("SG-A-1", "X"), rule("SG-A1", "X"), rule("SG-Z-9", "X Sg A1")]
    names = sarif.rule_names(rules)
    assert names["SG-Z-9"] == "XSgA1"
    assert len(set(names.values())) == 3


def test_every_builtin_rule_has_a_unique_full_title_name() -> None:
    rules = {**GATE_RULES, **load_policy_set([builtin_policy_root()]).rules}
    entries = driver_of(GateResult(rules=rules))["rules"]
    names = [entry["name"] for entry in entries]
    assert len(entries) == len(rules)
    assert len(set(names)) == len(names)
    by_id = {entry["id"]: entry["name"] for entry in entries}
    assert by_id["SG-AZ-001"] == "KeyVaultNotHsmBacked"  # was cut to "KeyVaultNot"
    assert by_id["SG-K8S-009"] == "UnmaskedProc"  # was cut to "Unmasked"
    assert all(name.isalnum() and name[0].isupper() for name in names)


def test_driver_names_homepage_and_versions() -> None:
    driver = driver_of(GateResult(rules={}))
    assert driver["name"] == "sealgate"
    assert driver["version"] == __version__
    assert driver["semanticVersion"] == __version__
    assert (
        driver["informationUri"] == sarif.DEFAULT_HOMEPAGE == "https://github.com/sealgate/sealgate"
    )


def test_information_uri_comes_from_the_homepage_project_url(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    metadata = project_urls(
        "Source, https://example.org/src", "Home-Page, https://example.org/home"
    )
    monkeypatch.setattr(sarif, "metadata", lambda name: metadata)
    assert driver_of(GateResult(rules={}))["informationUri"] == "https://example.org/home"


@pytest.mark.parametrize(
    "metadata",
    [
        project_urls(),
        project_urls("Source, https://example.org/src"),
        project_urls("Homepage, not a url"),
    ],
)
def test_information_uri_falls_back_without_a_usable_homepage(
    monkeypatch: pytest.MonkeyPatch, metadata: Message
) -> None:
    monkeypatch.setattr(sarif, "metadata", lambda name: metadata)
    assert sarif.information_uri() == sarif.DEFAULT_HOMEPAGE


def test_information_uri_falls_back_without_an_installed_distribution(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    def missing(name: str) -> Message:
        raise PackageNotFoundError(name)

    monkeypatch.setattr(sarif, "metadata", missing)
    assert sarif.information_uri() == sarif.DEFAULT_HOMEPAGE


def test_a_version_that_is_not_semver_is_not_claimed_as_one(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(sarif, "__version__", "1.0rc1")
    driver = driver_of(GateResult(rules={}))
    assert driver["version"] == "1.0rc1"
    assert "semanticVersion" not in driver


def test_findings_still_point_at_their_rule_and_line() -> None:
    rules = {"SG-T-001": rule("SG-T-001", "First"), "SG-T-002": rule("SG-T-002", "Second")}
    finding = Finding("SG-T-002", "m", Severity.HIGH, "a.yaml", "dir/a.yaml", 0)
    run = sarif_of(GateResult(rules=rules, findings=[finding]))["runs"][0]
    [result] = run["results"]
    assert run["tool"]["driver"]["rules"][result["ruleIndex"]]["name"] == "Second"
    location = result["locations"][0]["physicalLocation"]
    assert location["artifactLocation"] == {"uri": "dir/a.yaml", "uriBaseId": "%SRCROOT%"}
    assert location["region"] == {"startLine": 1}
