"""The model server's unseal command, as the platform renders it and as the example manifest
writes it, is one that `sealgate unseal` accepts: parsed by the command's own click parser."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click
import pytest
import yaml
from sealgate.cli import cli
from sealgate.platform._workloads import (
    KEYSERVER_CA,
    KEYSERVER_TOKEN_DIR,
    MODEL_DIR,
    SERVER_COMMAND,
    TRUST_FILE,
    unseal_command,
)

from tests.conftest import REPO

URL = "https://keyserver.sealgate-keys.svc.cluster.local:8443"
MANIFEST = REPO / "images" / "model-server" / "deployment.yaml"
# The image's ENTRYPOINT (images/model-server/Dockerfile): the manifest's args follow it.
ENTRYPOINT = ["/opt/sealgate/bin/sealgate", "unseal"]


def parse_unseal(argv: list[str]) -> click.Context:
    """Option parsing of `sealgate unseal` exactly as the CLI does it, without running it."""
    assert Path(argv[0]).name == "sealgate"
    assert argv[1] == "unseal"
    command = cli.get_command(click.Context(cli), "unseal")
    assert command is not None
    return command.make_context("unseal", list(argv[2:]))


def test_the_rendered_command_parses_with_every_value_where_the_pod_mounts_it() -> None:
    ctx = parse_unseal(unseal_command(URL, "prod"))
    assert ctx.params["keyserver_url"] == URL
    assert ctx.params["environment"] == "prod"
    assert ctx.params["token_file"] == Path(KEYSERVER_TOKEN_DIR) / "token"
    assert ctx.params["ca_bundle"] == Path(KEYSERVER_CA)
    assert ctx.params["trust"] == Path(TRUST_FILE)
    assert ctx.params["into"] == Path(MODEL_DIR) / "current"
    # The key release service only: no local identity that would unwrap by itself.
    assert ctx.params["identities"] == ()
    assert ctx.meta["exec_argv"][: len(SERVER_COMMAND)] == list(SERVER_COMMAND)


def test_a_flag_the_command_does_not_have_is_refused() -> None:
    """The check is real: the flag the command used to render is rejected by the parser."""
    argv = [a if a != "--ca-bundle" else "--keyserver-ca" for a in unseal_command(URL, "prod")]
    with pytest.raises(click.NoSuchOption):
        parse_unseal(argv)


def _manifest_server() -> tuple[dict[str, Any], dict[str, Any]]:
    [deployment] = [
        doc for doc in yaml.safe_load_all(MANIFEST.read_text()) if doc["kind"] == "Deployment"
    ]
    pod = deployment["spec"]["template"]["spec"]
    [container] = pod["containers"]
    return pod, container


def test_the_example_manifest_args_parse_and_name_mounted_files() -> None:
    pod, container = _manifest_server()
    assert "command" not in container  # the image's entrypoint runs
    ctx = parse_unseal([*ENTRYPOINT, *container["args"]])
    assert ctx.params["keyserver_url"].startswith("https://")
    assert ctx.params["environment"] == "prod"
    assert ctx.params["identities"] == ()
    mounts = {m["mountPath"]: m["name"] for m in container["volumeMounts"]}
    volumes: dict[str, dict[str, Any]] = {v["name"]: v for v in pod["volumes"]}

    def volume_of(path: Path) -> dict[str, Any]:
        return volumes[mounts[str(path.parent)]]

    token = volume_of(ctx.params["token_file"])
    [source] = token["projected"]["sources"]
    assert source["serviceAccountToken"]["path"] == ctx.params["token_file"].name
    assert source["serviceAccountToken"]["audience"].startswith("api://sealgate-keyserver-")
    trust = volume_of(ctx.params["trust"])
    assert volume_of(ctx.params["ca_bundle"]) is trust
    [config_map] = [
        doc
        for doc in yaml.safe_load_all(MANIFEST.read_text())
        if doc["kind"] == "ConfigMap" and doc["metadata"]["name"] == trust["configMap"]["name"]
    ]
    assert {ctx.params["trust"].name, ctx.params["ca_bundle"].name} <= set(config_map["data"])
    assert volume_of(ctx.params["into"])["emptyDir"]["medium"] == "Memory"
