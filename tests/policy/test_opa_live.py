"""A real OPA server, configured as docs/policies.md documents, on the bundle we build and sign.

OPA pulls the bundle from a local bundle service, verifies its signature itself, reports
decisions to a local collector; the OPA adapter (``--engine opa``) must decide every sample as
the embedded engine does, and ``verify-bundle`` must refuse what OPA refuses.
"""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from sealgate.policy._engine import EmbeddedDecisions, create_engine
from sealgate.policy._loader import PolicySet, load_policy_set
from sealgate.policy._opa import OpaServerEngine
from sealgate.policy._opa_batch import BATCH_PATH

from tests.conftest import REPO, run_sealgate
from tests.opa_server import (
    BUNDLE_NAME,
    BUNDLE_RESOURCE,
    LiveOpa,
    live_opa_server,
)
from tests.policy.conftest import PolicyKeys, build_bundle
from tests.policy.test_bundle import read_members, write_members
from tests.policy.test_opa_engine import decisions


@pytest.fixture(scope="module")
def repo_policies() -> PolicySet:
    return load_policy_set([REPO / "policies"])


def _wait(condition: Callable[[], Any], timeout: float, what: str) -> Any:
    deadline = time.monotonic() + timeout
    while not (result := condition()):
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout:.0f}s waiting for {what}")
        time.sleep(0.2)
    return result


def test_opa_activates_the_signed_bundle(
    live_opa: LiveOpa, repo_bundle: tuple[Path, str], repo_policies: PolicySet
) -> None:
    _, revision = repo_bundle
    assert live_opa.server.get("/health?bundles=true")[0] == 200
    status, body = live_opa.server.get("/v1/status")
    assert status == 200, body
    bundle_status = body["result"]["bundles"][BUNDLE_NAME]
    assert bundle_status["active_revision"] == revision
    assert not bundle_status.get("errors") and bundle_status.get("code", "") == ""
    # Policy data from the bundle, at the path the policies read it from.
    assert live_opa.server.get("/v1/data/config")[1]["result"] == repo_policies.data["config"]
    # The status plugin reports the same activation to the collector.
    live_opa.collector.wait_until(
        lambda: (
            live_opa.collector.statuses
            and live_opa.collector.latest_status()["bundles"][BUNDLE_NAME].get("active_revision")
            == revision
        ),
        15,
        "a status report naming the active revision",
    )
    assert BUNDLE_RESOURCE in live_opa.bundles.requests


def test_every_policy_decides_through_opa_as_embedded(
    live_opa: LiveOpa, repo_policies: PolicySet
) -> None:
    engine = create_engine("opa", repo_policies, opa_url=live_opa.url)  # no push: the bundle
    embedded = EmbeddedDecisions(repo_policies.engine())
    through_opa = decisions(repo_policies, engine)
    assert through_opa == decisions(repo_policies, embedded)
    assert sum(len(findings) for _, findings in through_opa) > 0, "no sample was denied"


def test_decision_log_records_each_decision_with_the_bundle_revision(
    live_opa: LiveOpa, repo_bundle: tuple[Path, str], repo_policies: PolicySet
) -> None:
    _, revision = repo_bundle
    marker = uuid.uuid4().hex
    rules = [package.decision for package in repo_policies.packages.values()]
    engine = OpaServerEngine(live_opa.url)
    engine.evaluate_rules(rules, {"probe": marker})
    assert engine.batched  # one request, so one decision, for every package

    def logged() -> list[dict[str, Any]]:
        return live_opa.collector.events_where(
            lambda e: (
                isinstance(e.get("input"), dict)
                and isinstance(e["input"].get("document"), dict)
                and e["input"]["document"].get("probe") == marker
            )
        )

    live_opa.collector.wait_until(lambda: len(logged()) >= 1, 20, "the batched decision's event")
    [event] = logged()
    assert event["path"] == BATCH_PATH.removeprefix("/v1/data/")
    assert event["bundles"] == {BUNDLE_NAME: {"revision": revision}}
    assert event["decision_id"]
    # The decision names every package it evaluated, and its result holds each one's answer.
    asked = {rule.removesuffix(".deny") for rule in rules}
    assert set(event["input"]["packages"]) == asked
    assert set(event["result"]) == asked


# Each case: how the bundle is made; whether OPA and verify-bundle accept it.
def _tampered(keys: PolicyKeys, source: Path, out: Path) -> None:
    members = read_members(source)
    policy = min(name for name in members if name.endswith(".rego"))
    members[policy] += b"\nallow_everything := true\n"
    write_members(out, members)


def _unsigned(keys: PolicyKeys, source: Path, out: Path) -> None:
    write_members(out, {k: v for k, v in read_members(source).items() if k != ".signatures.json"})


def _rebuilt(*extra: str, other_key: bool = False) -> Callable[[PolicyKeys, Path, Path], None]:
    def make(keys: PolicyKeys, source: Path, out: Path) -> None:
        build_bundle(keys, out, *extra, key=keys.other if other_key else None)

    return make


@dataclass(frozen=True)
class SignatureCase:
    make: Callable[[PolicyKeys, Path, Path], None]
    opa_refusal: str | None  # what OPA's bundle status says; None: OPA activates it
    our_refusal: str | None  # what verify-bundle says; None: it verifies


SIGNATURE_CASES = {
    "signed-by-the-policy-signer": SignatureCase(_rebuilt(), None, None),
    "tampered-policy": SignatureCase(
        _tampered, ".rego: digest mismatch", ".rego does not match its signed digest"
    ),
    "unsigned": SignatureCase(_unsigned, "missing .signatures.json", "unsigned bundle"),
    "signed-by-another-key": SignatureCase(
        _rebuilt(other_key=True),
        "failed to verify JWT signature: invalid ECDSA signature",
        "signature does not verify",
    ),
    "another-scope": SignatureCase(
        _rebuilt("--scope", "read"), "scope mismatch", "scope 'read' does not match 'write'"
    ),
    "no-scope": SignatureCase(
        _rebuilt("--scope", ""), "scope mismatch", "scope '' does not match 'write'"
    ),
    # OPA with `signing.keyid` verifies with that key whatever the token's kid says;
    # verify-bundle refuses a token that names another key (documented in docs/policies.md).
    "kid-names-another-key": SignatureCase(
        _rebuilt("--key-id", "other"), None, "signed with key id 'other', expected 'sealgate'"
    ),
}


@pytest.mark.parametrize("name", list(SIGNATURE_CASES))
def test_opa_and_verify_bundle_agree_on_signatures(
    name: str,
    opa_binary: str,
    policy_keys: PolicyKeys,
    repo_bundle: tuple[Path, str],
    tmp_path: Path,
) -> None:
    case = SIGNATURE_CASES[name]
    bundle = tmp_path / "candidate.tar.gz"
    case.make(policy_keys, repo_bundle[0], bundle)
    revision = json.loads(read_members(bundle)[".manifest"])["revision"]

    with live_opa_server(
        opa_binary, tmp_path / "opa", bundle.read_bytes(), policy_keys.signer_pub.read_text()
    ) as live:
        if case.opa_refusal is None:
            live.server.wait_for_revision(revision)
        else:
            error = _wait(lambda: _bundle_error(live), 20, "OPA to report a bundle error")
            assert case.opa_refusal in error, error
            assert live.server.bundle_revision() is None
            assert live.server.get("/health?bundles=true")[0] != 200
            # Nothing from the refused bundle decides.
            assert "result" not in live.server.get("/v1/data/sealgate")[1]

    run = run_sealgate(
        "policy", "verify-bundle", str(bundle), "--key", str(policy_keys.signer_pub), cwd=REPO
    )
    if case.our_refusal is None:
        assert run.code == 0, run.stderr
    else:
        assert run.code == 1 and case.our_refusal in run.stderr, run.stderr


def _bundle_error(live: LiveOpa) -> str:
    status, body = live.server.get("/v1/status")
    if status != 200:
        return ""
    bundle = body["result"].get("bundles", {}).get(BUNDLE_NAME, {})
    return str(bundle.get("message", "")) if bundle.get("code") else ""


def test_running_opa_keeps_its_bundle_when_an_update_is_refused(
    opa_binary: str, policy_keys: PolicyKeys, repo_bundle: tuple[Path, str], tmp_path: Path
) -> None:
    """A tampered update is refused while the active revision keeps deciding; a signed
    update with a new revision is activated at the next poll."""
    source, revision = repo_bundle
    with live_opa_server(
        opa_binary, tmp_path / "opa", source.read_bytes(), policy_keys.signer_pub.read_text()
    ) as live:
        live.server.wait_for_revision(revision)
        update = build_bundle(policy_keys, tmp_path / "r2.tar.gz", "--revision", "r2")
        tampered = tmp_path / "tampered.tar.gz"
        _tampered(policy_keys, tmp_path / "r2.tar.gz", tampered)
        live.bundles.publish(BUNDLE_RESOURCE, tampered.read_bytes())
        error = _wait(lambda: _bundle_error(live), 20, "OPA to refuse the tampered update")
        assert "digest mismatch" in error
        assert live.server.bundle_revision() == revision
        waivers = {"waivers": [{"rule": "SG-X-1"}], "today": "2026-11-22", "expiry": []}
        decision = next(
            package.decision
            for package in load_policy_set([REPO / "policies"]).packages.values()
            if package.decision.endswith("waivers.deny")
        )
        [denied] = OpaServerEngine(live.url).evaluate_rules([decision], waivers)
        assert isinstance(denied, list) and denied, "the active bundle stopped deciding"
        live.bundles.publish(BUNDLE_RESOURCE, (tmp_path / "r2.tar.gz").read_bytes())
        live.server.wait_for_revision(update)
