"""The gate's configuration: defaults, `.sealgate.yaml`, flags; the root; rule selection."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest
from sealgate.errors import InputError
from sealgate.gate import CONFIG_FILE, Override, find_root, load_config
from sealgate.inputs._discovery import DEFAULT_EXCLUDES
from sealgate.policy import builtin_policy_root
from sealgate.policy._decision import Severity
from sealgate.policy._selection import RuleSelection


def test_defaults_without_a_file(tmp_path: Path) -> None:
    config = load_config(tmp_path)
    assert config.config_file is None and config.sources == {}
    assert config.policy_roots == [builtin_policy_root()]
    assert config.fail_on is Severity.LOW and config.engine == "embedded"
    assert config.excludes == DEFAULT_EXCLUDES and config.waivers is None


def test_file_values_are_relative_to_the_file_and_remember_their_line(tmp_path: Path) -> None:
    (tmp_path / CONFIG_FILE).write_text(
        "# settings\n"
        "policies: [policy/acme]\n"
        "data:\n  - policy/data/registries.yaml\n"
        "disable: [SG-K8S-017]\n"
        "fail_on: high\n"
        "extend_exclude: [vendor]\n"
    )
    config = load_config(tmp_path)
    assert config.policies == (tmp_path / "policy/acme",)
    assert config.policy_roots == [builtin_policy_root(), tmp_path / "policy/acme"]
    assert config.data == (tmp_path / "policy/data/registries.yaml",)
    assert config.fail_on is Severity.HIGH
    assert config.excludes == (*DEFAULT_EXCLUDES, "vendor")
    assert config.sources["policies"] == ".sealgate.yaml:2"
    assert config.sources["data"] == ".sealgate.yaml:3"
    assert config.sources["fail_on"] == ".sealgate.yaml:6"
    assert config.as_dict()["disable"] == {
        "value": ["SG-K8S-017"],
        "source": ".sealgate.yaml:5",
    }


def test_flags_win_over_the_file(tmp_path: Path) -> None:
    (tmp_path / CONFIG_FILE).write_text("fail_on: high\nbuiltin_policies: false\n")
    config = load_config(tmp_path, overrides={"fail_on": Override(Severity.CRITICAL, "--fail-on")})
    assert config.fail_on is Severity.CRITICAL and config.sources["fail_on"] == "--fail-on"
    assert config.builtin_policies is False and config.policy_roots == []
    assert load_config(tmp_path, read_file=False).builtin_policies is True


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("polices: [x]\n", ".sealgate.yaml:1: unknown setting 'polices'"),
        ("fail_on: severe\n", "'severe' is not one of critical"),
        ("policies: policy\n", "policies: expected a list of non-empty strings"),
        ("jobs: 0\n", "expected a positive number"),
        ("engine: opa\n", "engine opa needs an OPA server URL"),
        ("fail_on: low\nfail_on: high\n", "duplicate key 'fail_on'"),
        ("- a\n- b\n", "one YAML mapping of settings"),
    ],
)
def test_bad_settings_are_one_line_input_errors(tmp_path: Path, content: str, message: str) -> None:
    (tmp_path / CONFIG_FILE).write_text(content)
    with pytest.raises(InputError, match=message.replace("(", r"\(").replace("[", r"\[")) as err:
        load_config(tmp_path)
    assert "\n" not in str(err.value)


def test_a_named_configuration_file_must_exist(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="no such configuration file"):
        load_config(tmp_path, config_file=tmp_path / "missing.yaml")


def test_the_root_is_the_git_top_level_else_the_config_folder(tmp_path: Path) -> None:
    project = tmp_path / "project"
    (project / "deploy" / "k8s").mkdir(parents=True)
    assert find_root(project / "deploy") == (project / "deploy").resolve()
    (project / CONFIG_FILE).write_text("fail_on: low\n")
    assert find_root(project / "deploy" / "k8s") == project.resolve()
    subprocess.run(["git", "init", "-q", str(tmp_path)], check=True)
    assert find_root(project / "deploy" / "k8s") == tmp_path.resolve()


def test_rule_selection() -> None:
    selection = RuleSelection(enable=("SG-K8S-*",), disable=("SG-K8S-017",))
    assert selection.applies("SG-K8S-001")
    assert not selection.applies("SG-K8S-017")
    assert not selection.applies("SG-DOCKER-001")
    assert selection.applies("SG-GATE-001")  # the gate's own rules always apply
    known = ["SG-K8S-001", "SG-K8S-017", "SG-DOCKER-001"]
    selection.validate(known)
    with pytest.raises(InputError, match="disable SG-GATE-\\*: the gate's rules"):
        RuleSelection(disable=("SG-GATE-*",)).validate(known)
    with pytest.raises(InputError, match="disable SG-K8S-99: matches no loaded rule"):
        RuleSelection(disable=("SG-K8S-99",)).validate(known)
