"""Typed stack configuration: every bad value is an error that names its key."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml
from sealgate.errors import InputError
from sealgate.platform._config import load_stack_config, parse_config

from tests.infra.conftest import REPO, STACKS

BASE = yaml.safe_load((REPO / "Pulumi.dev.yaml").read_text())["config"]


def with_values(**changes: object) -> dict[str, object]:
    values = dict(BASE)
    for key, value in changes.items():
        if value is None:
            values.pop(f"sealgate:{key}", None)
        else:
            values[f"sealgate:{key}"] = value
    return values


@pytest.mark.parametrize("stack", STACKS)
def test_every_stack_file_loads(stack: str) -> None:
    config = load_stack_config(REPO, stack)
    assert config.environment == stack


def test_stacks_differ_where_an_operator_expects() -> None:
    dev, staging, prod = (load_stack_config(REPO, s) for s in STACKS)
    assert dev.availability_zones == [] and prod.availability_zones == ["1", "2", "3"]
    assert dev.model_server_replicas < staging.model_server_replicas < prod.model_server_replicas
    assert dev.promotion_approvals < staging.promotion_approvals < prod.promotion_approvals
    assert prod.apim_sku == "Premium" and dev.apim_sku == "Developer"
    assert dev.log_retention_days < prod.log_retention_days


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"environment": "qa"}, "sealgate:environment: 'qa' must be one of dev, staging, prod"),
        ({"system_node_count": "3"}, "sealgate:system_node_count: expected int, got str"),
        ({"tee_key_release": "yes"}, "sealgate:tee_key_release: expected bool"),
        ({"keyserver_image_digest": "latest"}, "keyserver_image_digest: 'latest' must be sha256"),
        ({"keyserver_image_digest": None}, "missing required key sealgate:keyserver_image_digest"),
        ({"keyserver_replicas": 1}, "sealgate:keyserver_replicas: 1 must be between 2 and 20"),
        ({"model_key_exportable": True}, "unknown key 'sealgate:model_key_exportable'"),
        ({"key_rotation_days": 400}, "sealgate:key_rotation_days: 400 must be between 30 and 365"),
        ({"tenant_id": "contoso"}, "sealgate:tenant_id: 'contoso' must be a UUID"),
        ({"vnet_cidr": "10.0.0.0/24"}, "sealgate:vnet_cidr: '10.0.0.0/24' must be /19 or larger"),
        ({"availability_zones": ["1", "1"]}, "sealgate:availability_zones"),
        (
            {"model_server_image_digest": "latest"},
            "model_server_image_digest: 'latest' must be sha256",
        ),
        ({"gate_public_keys": ["not a key"]}, "sealgate:gate_public_keys: "),
        ({"gate_public_keys": []}, "must list at least one PEM public key"),
        ({"keyserver_ca": "nope"}, "sealgate:keyserver_ca: 'nope' must be PEM certificates"),
        ({"served_model": "../x"}, "sealgate:served_model"),
        ({"key_store": "hsm"}, "sealgate:key_store: 'hsm' must be one of vault, managed-hsm"),
        ({"tenant_id": None}, "missing required key sealgate:tenant_id"),
        ({"replicas": 3}, "unknown key 'sealgate:replicas'"),
        (
            {"model_node_min_count": 5},
            "sealgate:model_node_min_count (5) exceeds sealgate:model_node_max_count (2)",
        ),
    ],
)
def test_bad_values_name_the_key(changes: dict[str, object], message: str) -> None:
    with pytest.raises(InputError) as caught:
        parse_config(with_values(**changes), "Pulumi.dev.yaml")
    assert message in str(caught.value)
    assert str(caught.value).startswith("Pulumi.dev.yaml: ")


def test_other_namespaces_are_left_to_their_providers() -> None:
    assert parse_config(with_values(), "x").location == "westeurope"
    assert "azure-native:location" in BASE


def test_missing_and_malformed_stack_files(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="no such stack configuration"):
        load_stack_config(tmp_path, "dev")
    (tmp_path / "Pulumi.dev.yaml").write_text("config: [1, 2]\n")
    with pytest.raises(InputError, match="expected a `config:` mapping"):
        load_stack_config(tmp_path, "dev")
    with pytest.raises(InputError, match="stack name"):
        load_stack_config(tmp_path, "../etc")
