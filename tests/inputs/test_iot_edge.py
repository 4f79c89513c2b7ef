"""IoT Edge deployment manifests: one input per module, createOptions parsed, lines kept."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from sealgate.errors import InputError
from sealgate.inputs._iot_edge import IOT_EDGE_KIND, parse_iot_edge
from sealgate.inputs._model import PolicyInput

PRIVILEGED_OPTIONS = '{"HostConfig":{"Privileged":true,"Binds":["/models:/models:ro"]}}'


def manifest_text(model_settings: dict, *, wrap: bool = False) -> str:
    desired = {
        "schemaVersion": "1.1",
        "runtime": {"type": "docker", "settings": {}},
        "systemModules": {
            "edgeAgent": {
                "type": "docker",
                "settings": {"image": "mcr.microsoft.com/azureiotedge-agent:1.5"},
            },
            "edgeHub": {
                "type": "docker",
                "status": "running",
                "restartPolicy": "always",
                "settings": {
                    "image": "mcr.microsoft.com/azureiotedge-hub:1.5",
                    "createOptions": '{"HostConfig":{"PortBindings":{"443/tcp":[{"HostPort":"443"}]}}}',
                },
            },
        },
        "modules": {
            "model": {
                "version": "1.0",
                "type": "docker",
                "status": "running",
                "restartPolicy": "always",
                "env": {"MODEL_PATH": {"value": "/models"}},
                "settings": model_settings,
            }
        },
    }
    content = {"modulesContent": {"$edgeAgent": {"properties.desired": desired}}}
    return json.dumps({"content": content} if wrap else content, indent=2)


def write(tmp_path: Path, text: str, name: str = "deployment.json") -> Path:
    path = tmp_path / name
    path.write_text(text)
    return path


def parse(tmp_path: Path, text: str, name: str = "deployment.json") -> dict[str, PolicyInput]:
    inputs = parse_iot_edge(IOT_EDGE_KIND, write(tmp_path, text, name))
    return {i.document["name"]: i for i in inputs}


def parse_error(tmp_path: Path, text: str) -> str:
    with pytest.raises(InputError) as caught:
        parse(tmp_path, text)
    return str(caught.value)


def line_containing(text: str, fragment: str, after: int = 0) -> int:
    """The first line after line ``after`` that contains ``fragment``."""
    lines = enumerate(text.splitlines(), start=1)
    return next(n for n, line in lines if n > after and fragment in line)


def test_one_input_per_module_with_parsed_create_options(tmp_path: Path) -> None:
    text = manifest_text({"image": "acr.io/model:1.0", "createOptions": PRIVILEGED_OPTIONS})
    inputs = parse(tmp_path, text)
    assert list(inputs) == ["edgeAgent", "edgeHub", "model"]
    model = inputs["model"]
    assert model.kind == "iot-edge" and model.target.endswith("deployment.json#module/model")
    assert model.document == {
        "name": "model",
        "system": False,
        "type": "docker",
        "version": "1.0",
        "status": "running",
        "restartPolicy": "always",
        "imagePullPolicy": None,
        "startupOrder": None,
        "image": "acr.io/model:1.0",
        "createOptions": {"HostConfig": {"Privileged": True, "Binds": ["/models:/models:ro"]}},
        "env": {"MODEL_PATH": {"value": "/models"}},
        "settings": {"image": "acr.io/model:1.0", "createOptions": PRIVILEGED_OPTIONS},
        "placeholders": [],
        "template": None,
    }
    assert inputs["edgeHub"].document["system"] is True
    assert inputs["edgeAgent"].document["createOptions"] == {}
    hub_ports = inputs["edgeHub"].document["createOptions"]["HostConfig"]["PortBindings"]
    assert hub_ports == {"443/tcp": [{"HostPort": "443"}]}


def test_lines_of_manifest_fields_and_create_options(tmp_path: Path) -> None:
    text = manifest_text({"image": "acr.io/model:1.0", "createOptions": PRIVILEGED_OPTIONS})
    model = parse(tmp_path, text)["model"]
    options_line = line_containing(text, '"createOptions": "{\\"HostConfig\\":{\\"Privileged')
    assert model.locate(["createOptions", "HostConfig", "Privileged"]) == options_line
    assert model.locate(["image"]) == line_containing(text, '"image": "acr.io/model:1.0"')
    module_line = line_containing(text, '"model": {')
    assert model.line == module_line
    assert model.locate(["restartPolicy"]) == line_containing(text, '"restartPolicy"', module_line)
    assert model.locate(["env", "MODEL_PATH", "value"]) == line_containing(
        text, '"value": "/models"'
    )
    hub_line = line_containing(text, '"edgeHub": {')
    hub = parse(tmp_path, text)["edgeHub"]
    assert hub.locate(["restartPolicy"]) == line_containing(text, '"restartPolicy"', hub_line)
    assert hub.locate(["restartPolicy"]) < module_line


def test_chunked_create_options_are_joined_in_order(tmp_path: Path) -> None:
    chunks = {
        "createOptions": PRIVILEGED_OPTIONS[:20],
        "createOptions02": PRIVILEGED_OPTIONS[40:],
        "createOptions01": PRIVILEGED_OPTIONS[20:40],
    }
    text = manifest_text({"image": "acr.io/model:1.0", **chunks})
    model = parse(tmp_path, text)["model"]
    assert model.document["createOptions"]["HostConfig"]["Privileged"] is True
    first_chunk = line_containing(text, '"createOptions": ', line_containing(text, '"model": {'))
    assert first_chunk == line_containing(text, '"createOptions01": ') - 2
    assert model.locate(["createOptions", "HostConfig", "Privileged"]) == first_chunk


def test_create_options_written_as_an_object_keep_their_own_lines(tmp_path: Path) -> None:
    text = """\
modulesContent:
  $edgeAgent:
    properties.desired:
      modules:
        model:
          settings:
            image: acr.io/model:1.0
            createOptions:
              HostConfig:
                Privileged: true
"""
    model = parse(tmp_path, text, "deployment.template.yaml")["model"]
    assert model.document["createOptions"] == {"HostConfig": {"Privileged": True}}
    assert model.locate(["createOptions", "HostConfig", "Privileged"]) == 10
    assert model.document["restartPolicy"] is None


def test_az_deployment_shape_and_layered_modules(tmp_path: Path) -> None:
    text = manifest_text({"image": "acr.io/model:1.0"}, wrap=True)
    assert list(parse(tmp_path, text)) == ["edgeAgent", "edgeHub", "model"]
    layered = {
        "content": {
            "modulesContent": {
                "$edgeAgent": {
                    "properties.desired.modules.telemetry": {
                        "settings": {"image": "t:1", "createOptions": '{"Privileged":true}'}
                    }
                }
            }
        }
    }
    [telemetry] = parse(tmp_path, json.dumps(layered, indent=1)).values()
    assert telemetry.target.endswith("#module/telemetry")
    assert telemetry.document["createOptions"] == {"Privileged": True}


def test_invalid_create_options_name_the_module_and_line(tmp_path: Path) -> None:
    text = manifest_text({"image": "m:1", "createOptions": '{"HostConfig": {"Privileged": tru'})
    message = parse_error(tmp_path, text)
    line = line_containing(text, '"createOptions": "{\\"HostConfig\\": {')
    assert f"deployment.json:{line}: module model: createOptions is not valid JSON" in message


@pytest.mark.parametrize(
    ("settings", "expected"),
    [
        ({"createOptions": '{"Privileged": false, "Privileged": true}'}, "duplicate key"),
        ({"createOptions": "[1, 2]"}, "must be a JSON object, not list"),
        ({"createOptions": "{}", "createOptions02": "x"}, "without gaps"),
        ({"createOptions01": "{}"}, "createOptions01 without createOptions"),
        ({"createOptions": 42}, "createOptions must be a JSON string"),
        ({"createOptions": "[" * 5000 + "]" * 5000}, "module model: createOptions"),
    ],
)
def test_malformed_create_options_are_input_errors(
    tmp_path: Path, settings: dict, expected: str
) -> None:
    assert expected in parse_error(tmp_path, manifest_text({"image": "m:1", **settings}))


def test_manifest_without_edge_agent_desired_properties(tmp_path: Path) -> None:
    assert "deployment.json:1: no modulesContent.$edgeAgent" in parse_error(
        tmp_path, '{"modulesContent": {"$edgeHub": {}}}'
    )
    assert "deployment.json:3: $edgeAgent has no properties.desired" in parse_error(
        tmp_path, '{"modulesContent": {\n "x": 1,\n "$edgeAgent": {}}}'
    )
    assert "modules must be a mapping" in parse_error(
        tmp_path, '{"modulesContent": {"$edgeAgent": {"properties.desired": {"modules": []}}}}'
    )


def test_hostile_files_are_refused(tmp_path: Path) -> None:
    path = write(tmp_path, "")
    path.write_bytes(b'{"modulesContent": \x00\x01}')
    with pytest.raises(InputError, match="binary content"):
        parse_iot_edge(IOT_EDGE_KIND, path)
    path.write_text('{"modulesContent": "' + "x" * (50 * 1024 * 1024) + '"}')
    with pytest.raises(InputError, match="larger than the"):
        parse_iot_edge(IOT_EDGE_KIND, path)


def test_a_template_is_reported_once_at_its_first_placeholder(tmp_path: Path) -> None:
    options = '{"HostConfig":{"Binds":["${APPDATA}:/data"]}}'
    text = manifest_text({"image": "${MODULES.model}", "createOptions": options})
    text = text.replace("mcr.microsoft.com/azureiotedge-hub:1.5", "$CONTAINER_REGISTRY/hub:1.5")
    inputs = parse(tmp_path, text, "deployment.template.json")
    hub, model = inputs["edgeHub"], inputs["model"]
    assert hub.document["template"] == {
        "placeholders": 3,
        "first": "$CONTAINER_REGISTRY",
        "field": "modulesContent.$edgeAgent.properties.desired.systemModules.edgeHub.settings.image",
    }
    assert hub.locate(["template"]) == line_containing(text, "$CONTAINER_REGISTRY/hub")
    assert inputs["edgeAgent"].document["template"] is None
    assert model.document["template"] is None
    assert model.document["placeholders"] == [
        {"value": "${MODULES.model}", "path": ["settings", "image"]},
        {"value": "${APPDATA}", "path": ["settings", "createOptions"]},
    ]
    assert model.locate(model.document["placeholders"][0]["path"]) == line_containing(
        text, "${MODULES.model}"
    )


@pytest.mark.parametrize(
    "value", ["<Container_Registry>/model:1.0", "${env:REGISTRY}/model:1.0", "$ACR_NAME/m:1"]
)
def test_placeholder_forms(tmp_path: Path, value: str) -> None:
    model = parse(tmp_path, manifest_text({"image": value}))["model"]
    assert model.document["template"]["field"].endswith("modules.model.settings.image")
    assert [p["path"] for p in model.document["placeholders"]] == [["settings", "image"]]


def test_edge_keywords_and_registry_credentials_are_not_placeholders(tmp_path: Path) -> None:
    manifest = json.loads(manifest_text({"image": "acr.io/model:1.0"}))
    desired = manifest["modulesContent"]["$edgeAgent"]["properties.desired"]
    desired["runtime"]["settings"]["registryCredentials"] = {
        "acr": {"username": "$CONTAINER_REGISTRY_USERNAME", "password": "${PASSWORD}"}
    }
    manifest["modulesContent"]["$edgeHub"] = {
        "properties.desired": {"routes": {"up": "FROM /messages/* WHERE a < 3 INTO $upstream"}}
    }
    inputs = parse(tmp_path, json.dumps(manifest, indent=2))
    assert all(i.document["template"] is None for i in inputs.values())
    assert all(i.document["placeholders"] == [] for i in inputs.values())


def test_a_placeholder_outside_every_module_is_reported_on_the_first(tmp_path: Path) -> None:
    manifest = json.loads(manifest_text({"image": "acr.io/model:1.0"}))
    desired = manifest["modulesContent"]["$edgeAgent"]["properties.desired"]
    desired["runtime"]["settings"]["loggingOptions"] = "${LOGGING}"
    text = json.dumps(manifest, indent=2)
    inputs = parse(tmp_path, text)
    agent = inputs["edgeAgent"]
    assert agent.document["template"]["first"] == "${LOGGING}"
    assert agent.locate(["template"]) == line_containing(text, "${LOGGING}")
    assert [i.document["template"] for i in inputs.values()][1:] == [None, None]


@pytest.mark.parametrize(
    "options",
    [
        '{"HostConfig":{"Privileged":false,"privileged":true}}',
        '{"HostConfig":{},"hostConfig":{"Privileged":true}}',
    ],
)
def test_field_names_differing_only_in_case_are_refused(tmp_path: Path, options: str) -> None:
    message = parse_error(tmp_path, manifest_text({"image": "m:1", "createOptions": options}))
    assert "module model" in message and "reads as one field" in message


def test_many_modules_each_keep_their_own_lines(tmp_path: Path) -> None:
    # The lines are grouped by module in one pass; every module still gets exactly its own.
    manifest = json.loads(manifest_text({"image": "acr.io/model:1.0"}))
    modules = manifest["modulesContent"]["$edgeAgent"]["properties.desired"]["modules"]
    for n in range(300):
        modules[f"m{n}"] = {"settings": {"image": f"acr.io/m{n}:1", "createOptions": "{}"}}
    text = json.dumps(manifest, indent=2)
    inputs = parse(tmp_path, text)
    assert len(inputs) == 303
    for n in (0, 150, 299):
        module = inputs[f"m{n}"]
        assert module.locate(["image"]) == line_containing(text, f'"acr.io/m{n}:1"')
        assert module.locate(["createOptions"]) == module.locate(["image"]) + 1
        assert ("settings", "image") in module.lines and len(module.lines) < 10
