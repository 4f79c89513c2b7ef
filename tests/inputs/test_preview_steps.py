"""The desired state of a preview's steps, and the APIM policy XML the rules read."""

from __future__ import annotations

from typing import Any

import pytest
from sealgate.inputs._policy_xml import (
    MAX_DEPTH,
    MAX_ELEMENTS,
    MAX_XML_BYTES,
    PolicyXmlError,
    parse_policy_xml,
)
from sealgate.inputs._preview_steps import IncompletePreview, desired_state
from sealgate.inputs._pulumi_plan import normalize_inputs

ROOT = "urn:pulumi:prod::sealgate::pulumi:pulumi:Stack::sealgate-prod"
VAULT = "urn:pulumi:prod::sealgate::azure-native:keyvault:Vault::vault"
KEY = "urn:pulumi:prod::sealgate::azure-native:keyvault:Vault$azure-native:keyvault:Key::key"


def state(urn: str, **inputs: Any) -> dict[str, Any]:
    return {"urn": urn, "type": urn.split("::")[2].split("$")[-1], "inputs": inputs}


def step(op: str, urn: str, old: bool, new: bool, **inputs: Any) -> dict[str, Any]:
    found: dict[str, Any] = {"op": op, "urn": urn}
    if old:
        found["oldState"] = state(urn)
    if new:
        found["newState"] = state(urn, **inputs)
    return found


def test_a_first_preview_is_complete_without_sames() -> None:
    found = desired_state([step("create", ROOT, False, True), step("create", VAULT, False, True)])
    assert [r.urn for r in found.resources] == [ROOT, VAULT] and found.deleted == ()


@pytest.mark.parametrize(
    "steps",
    [
        [],
        [step("same", ROOT, True, True)],  # no change, without --show-sames
        [step("same", ROOT, True, True), step("update", VAULT, True, True)],
        [step("same", ROOT, True, True), step("delete", KEY, True, False)],
        [step("create", VAULT, False, True), step("replace", KEY, True, True)],
    ],
)
def test_an_existing_stack_without_sames_is_incomplete(steps: list[dict[str, Any]]) -> None:
    with pytest.raises(IncompletePreview, match="--show-sames"):
        desired_state(steps)


def test_offline_plans_may_skip_the_check() -> None:
    found = desired_state([step("update", VAULT, True, True)], require_full=False)
    assert [r.op for r in found.resources] == ["update"]


def test_replacement_steps_are_one_resource_and_no_deletion() -> None:
    steps = [
        step("same", ROOT, True, True),
        step("same", VAULT, True, True),
        step("create-replacement", KEY, True, True, keyName="new"),
        step("replace", KEY, True, True, keyName="new"),
        step("delete-replaced", KEY, True, False),
    ]
    found = desired_state(steps)
    assert [(r.urn, r.op, r.index) for r in found.resources] == [
        (ROOT, "same", 0),
        (VAULT, "same", 1),
        (KEY, "create-replacement", 2),
    ]
    assert found.deleted == ()


def test_the_declared_state_wins_over_a_refreshed_one() -> None:
    steps = [
        step("refresh", ROOT, True, True),
        step("same", ROOT, True, True),
        step("refresh", VAULT, True, True, publicNetworkAccess="Enabled"),
        step("update", VAULT, True, True, publicNetworkAccess="Disabled"),
        step("refresh", KEY, True, True),
        step("same", KEY, True, True),
    ]
    found = desired_state(steps)
    assert [(r.urn, r.op) for r in found.resources] == [
        (ROOT, "same"),
        (VAULT, "update"),
        (KEY, "same"),
    ]
    assert found.resources[1].state["inputs"] == {"publicNetworkAccess": "Disabled"}


def test_a_deleted_resource_is_listed_with_its_old_state() -> None:
    steps = [step("same", ROOT, True, True), step("same", VAULT, True, True)]
    steps.append(step("delete", KEY, True, False))
    found = desired_state(steps)
    assert [r.urn for r in found.resources] == [ROOT, VAULT]
    assert [(d.urn, d.key, d.index) for d in found.deleted] == [(KEY, "oldState", 2)]


POLICY = """<?xml version="1.0" encoding="utf-8"?>
<!-- the inference API -->
<policies>
  <inbound>
    <base />
    <!-- <validate-jwt header-name="Authorization"/> -->
    <rate-limit-by-key calls="10" counter-key="@(context.Request.IpAddress)" />
    <set-body><![CDATA[<validate-jwt/>]]></set-body>
    <choose><when condition="@(1 &gt; 0)"><base /></when></choose>
  </inbound>
</policies>
"""


def test_comments_and_cdata_are_not_elements() -> None:
    root = parse_policy_xml(POLICY)
    assert root["tag"] == "policies"
    inbound = root["children"][0]
    assert [c["tag"] for c in inbound["children"]] == [
        "base",
        "rate-limit-by-key",
        "set-body",
        "choose",
    ]
    assert inbound["children"][1]["attributes"]["counter-key"] == "@(context.Request.IpAddress)"
    assert inbound["children"][2]["text"] == "<validate-jwt/>"
    when = inbound["children"][3]["children"][0]
    assert when["attributes"]["condition"] == "@(1 > 0)"


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("<policies><inbound></policies>", "not well-formed"),
        ("", "not well-formed"),
        (
            '<!DOCTYPE p [<!ENTITY a "aaaa"><!ENTITY b "&a;&a;&a;">]><policies>&b;</policies>',
            "DTD",
        ),
        ("<a>" * (MAX_DEPTH + 1) + "</a>" * (MAX_DEPTH + 1), "nests deeper"),
        ("<p>" + "<b/>" * MAX_ELEMENTS + "</p>", "more than"),
        ("<p>" + " " * MAX_XML_BYTES + "</p>", r"bytes \(limit"),
    ],
)
def test_unreadable_policies_are_refused(text: str, message: str) -> None:
    with pytest.raises(PolicyXmlError, match=message):
        parse_policy_xml(text)


def test_normalized_api_policy_inputs() -> None:
    parsed = normalize_inputs("azure-native:apimanagement:ApiPolicy", {"value": "<policies/>"})
    assert parsed["_parsed"]["tag"] == "policies" and "_parse_error" not in parsed
    unknown = normalize_inputs(
        "azure-native:apimanagement:ApiPolicy", {"value": "04da6b54-80e4-46f7-96ec-b56ff0331ba9"}
    )
    assert unknown["_parsed"] is None and "not known at preview" in unknown["_parse_error"]
    secret = normalize_inputs("azure-native:apimanagement:ApiPolicy", {"value": "[secret]"})
    assert secret["_parsed"] is None and "a secret" in secret["_parse_error"]
    broken = normalize_inputs("azure-native:apimanagement:ApiPolicy", {"value": "<policies>"})
    assert broken["_parsed"] is None and "not well-formed" in broken["_parse_error"]
    other = normalize_inputs("azure-native:keyvault:Vault", {"value": "<policies/>"})
    assert other == {"value": "<policies/>"}
