"""Regression: YAML that security decisions read refuses duplicate keys, naming file and line.

The attack: a trust (or approvers) file listing a signer with ``revoked: true`` and then
``revoked: false``; PyYAML kept the last value, so the revoked signer verified.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from sealgate.errors import InputError
from sealgate.platform._config import load_stack_config
from sealgate.sealing import load_trust, verify_sealed

from tests.conftest import run_sealgate
from tests.sealing.conftest import KeySet

REVOKED_THEN_NOT = """\
signers:
  - name: release
    public_key_path: {key}
    revoked: true
    revoked: false
"""


def _trust_file(tmp_path: Path, keyset: KeySet) -> Path:
    path = tmp_path / "trust.yaml"
    path.write_text(REVOKED_THEN_NOT.format(key=keyset.path("signer.pub")))
    return path


def test_a_signer_revoked_then_unrevoked_is_refused_with_its_line(
    tmp_path: Path, keyset: KeySet
) -> None:
    path = _trust_file(tmp_path, keyset)
    with pytest.raises(InputError, match=rf"^{path}:5: duplicate key 'revoked'$"):
        load_trust(path)


def test_verify_with_such_a_trust_file_fails_and_names_the_line(
    tmp_path: Path, keyset: KeySet, sealed: Path
) -> None:
    trust = _trust_file(tmp_path, keyset)
    result = run_sealgate("verify", str(sealed), "--trust", str(trust), cwd=tmp_path)
    assert result.code == 2, result.stderr
    assert f"{trust}:5: duplicate key 'revoked'" in result.stderr
    assert "Traceback" not in result.stderr


def test_the_same_file_without_the_duplicate_still_refuses_the_revoked_signer(
    tmp_path: Path, keyset: KeySet, sealed: Path
) -> None:
    path = tmp_path / "trust.yaml"
    path.write_text(
        f"signers:\n  - name: release\n    public_key_path: {keyset.path('signer.pub')}\n"
        "    revoked: true\n"
    )
    with pytest.raises(Exception, match="revoked"):
        verify_sealed(sealed, load_trust(path))


@pytest.mark.parametrize(
    ("text", "line", "problem"),
    [
        ("signers: []\nsigners: [x]\n", 2, "duplicate key 'signers'"),
        ("a:\n  b: 1\n  c: {d: 1, d: 2}\n", 3, "duplicate key 'd'"),
        ("base: &b {revoked: true}\nsigner:\n  <<: *b\n  revoked: false\n", 3, "merge keys"),
        ("1: a\n1: b\n", 2, "duplicate key 1"),
    ],
)
def test_the_shared_loader_refuses_duplicates_anywhere(text: str, line: int, problem: str) -> None:
    from sealgate._yaml import load_yaml

    with pytest.raises(InputError, match=rf"^f\.yaml:{line}: .*{problem}"):
        load_yaml(text, "f.yaml")


def test_the_shared_loader_reads_ordinary_yaml() -> None:
    from sealgate._yaml import load_yaml

    assert load_yaml("a: [1, {b: true}]\nc: null\n", "f.yaml") == {"a": [1, {"b": True}], "c": None}


def test_a_stack_configuration_with_a_duplicate_key_is_refused(tmp_path: Path) -> None:
    (tmp_path / "Pulumi.dev.yaml").write_text(
        "config:\n  sealgate:environment: dev\n  sealgate:environment: prod\n"
    )
    with pytest.raises(InputError, match=r"Pulumi\.dev\.yaml:3: duplicate key"):
        load_stack_config(tmp_path, "dev")


def test_gate_configuration_policy_data_and_waivers_refuse_duplicates(tmp_path: Path) -> None:
    """These go through the structured loader, which refuses duplicates too (a guard)."""
    from datetime import date

    from sealgate.errors import PolicyLoadError
    from sealgate.gate._config import load_config
    from sealgate.inputs._waivers import load_waivers_file
    from sealgate.policy._loader import load_policy_set

    (tmp_path / ".sealgate.yaml").write_text("fail_on: high\nfail_on: critical\n")
    with pytest.raises(InputError, match=r"\.sealgate\.yaml:2: duplicate key 'fail_on'"):
        load_config(tmp_path)

    policies = tmp_path / "policies"
    (policies / "data").mkdir(parents=True)
    (policies / "p.rego").write_text("package sealgate.p\n\nimport rego.v1\n\ndeny := set()\n")
    (policies / "data" / "unseal.yaml").write_text(
        "devices:\n  gw01:\n    revoked: true\n    revoked: false\n"
    )
    with pytest.raises((InputError, PolicyLoadError), match="duplicate key 'revoked'"):
        load_policy_set([policies])

    waivers = tmp_path / "waivers.yaml"
    waivers.write_text(
        "waivers:\n  - id: SG-X-001\n    expires: 2030-01-01\n    expires: 2099-01-01\n"
    )
    problem = load_waivers_file(waivers, date(2026, 1, 1))
    assert "duplicate key 'expires'" in str(getattr(problem, "message", problem))
