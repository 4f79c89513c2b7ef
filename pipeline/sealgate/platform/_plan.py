"""Offline plan: run the program under Pulumi's mock runtime and record every resource.

``build_plan`` runs ``build_platform`` for a stack; the result has the shape of ``pulumi
preview --json`` (``steps[].newState.{type, urn, inputs, parent}``), so the same policies
gate an offline plan and a real preview. ``record_program`` runs any Pulumi program (e.g.
one that uses a single component) the same way. Nothing here talks to Azure or needs the
Pulumi CLI; ids and computed outputs are placeholders.
"""

from __future__ import annotations

import asyncio
import base64
import dataclasses
import json
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sealgate.errors import InputError
from sealgate.platform._config import NAMESPACE, StackConfig, load_stack_config
from sealgate.platform._naming import NAME_RULES

PROJECT = "sealgate"
STACK_TYPE = "pulumi:pulumi:Stack"
SUBSCRIPTION = "00000000-0000-0000-0000-000000000000"
_KUBECONFIG = """apiVersion: v1
kind: Config
clusters: [{name: plan, cluster: {server: "https://plan.invalid"}}]
contexts: [{name: plan, context: {cluster: plan, user: plan}}]
current-context: plan
users: [{name: plan, user: {token: plan}}]
"""


@dataclass
class RecordedResource:
    urn: str
    type: str
    name: str
    custom: bool
    parent: str
    inputs: dict[str, Any]
    # URNs the resource waits for (inputs from them, and explicit depends_on), as in a preview.
    dependencies: list[str] = field(default_factory=list)


@dataclass
class Recorder:
    resources: list[RecordedResource] = field(default_factory=list)
    # URN -> the outputs a component registered (``register_outputs``).
    outputs: dict[str, dict[str, Any]] = field(default_factory=dict)


def principal_id(identity: str) -> str:
    """The placeholder principal id of the user-assigned identity named ``identity``."""
    return str(uuid.uuid5(uuid.NAMESPACE_URL, f"principal/{identity}"))


def _text(inputs: dict[str, Any], key: str, default: str) -> str:
    value = inputs.get(key)
    return value if isinstance(value, str) else default


def _resource_id(resource_type: str, name: str, inputs: dict[str, Any]) -> str:
    """A placeholder id; Azure's own id shape where a scope is derived from it (a role
    assignment at a key or a container covers what lies below that id)."""
    subscription = f"/subscriptions/{SUBSCRIPTION}"
    group = f"{subscription}/resourceGroups/{_text(inputs, 'resourceGroupName', 'plan')}"
    if resource_type == "azure-native:resources:ResourceGroup":
        return f"{subscription}/resourceGroups/{_text(inputs, 'resourceGroupName', name)}"
    vaults = f"{group}/providers/Microsoft.KeyVault/vaults"
    accounts = f"{group}/providers/Microsoft.Storage/storageAccounts"
    if resource_type == "azure-native:keyvault:Vault":
        return f"{vaults}/{_text(inputs, 'vaultName', name)}"
    if resource_type == "azure-native:keyvault:Key":
        return (
            f"{vaults}/{_text(inputs, 'vaultName', 'plan')}/keys/{_text(inputs, 'keyName', name)}"
        )
    if resource_type == "azure-native:storage:StorageAccount":
        return f"{accounts}/{_text(inputs, 'accountName', name)}"
    if resource_type == "azure-native:storage:BlobContainer":
        account = _text(inputs, "accountName", "plan")
        container = _text(inputs, "containerName", name)
        return f"{accounts}/{account}/blobServices/default/containers/{container}"
    return f"{group}/providers/{resource_type}/{name}"


def _azure_name(resource_type: str, name: str, inputs: dict[str, Any]) -> str:
    """The ``name`` output: the resource's explicit name input, as Azure reports it."""
    rule = NAME_RULES.get(resource_type)
    return _text(inputs, rule.property if rule else "name", name)


def _computed(resource_type: str, name: str, inputs: dict[str, Any]) -> dict[str, Any]:
    """The id and the placeholder outputs that the program reads from other resources."""
    state: dict[str, Any] = {
        "id": _resource_id(resource_type, name, inputs),
        "name": _azure_name(resource_type, name, inputs),
    }
    if resource_type == "azure-native:keyvault:Vault":
        state["properties"] = {"vaultUri": f"https://{state['name']}.vault.azure.net/"}
    elif resource_type == "azure-native:keyvault:Key":
        key = inputs.get("keyName", name)
        state["keyUri"] = f"https://plan.vault.azure.net/keys/{key}"
    elif resource_type == "azure-native:managedidentity:UserAssignedIdentity":
        # One principal per identity, so a plan shows whom each role assignment names.
        state["principalId"] = principal_id(name)
        state["clientId"] = str(uuid.uuid5(uuid.NAMESPACE_URL, f"client/{name}"))
    elif resource_type == "azure-native:containerservice:ManagedCluster":
        state["oidcIssuerProfile"] = {"issuerURL": f"https://oidc.plan.invalid/{name}/"}
        state["identity"] = {"type": "SystemAssigned", "principalId": principal_id(name)}
        kubelet = f"{name}-kubelet"
        state["identityProfile"] = {
            "kubeletidentity": {
                "objectId": principal_id(kubelet),
                "clientId": str(uuid.uuid5(uuid.NAMESPACE_URL, f"client/{kubelet}")),
            }
        }
    elif resource_type == "azure-native:containerregistry:Registry":
        state["loginServer"] = f"{_text(inputs, 'registryName', name).lower()}.azurecr.io"
    elif resource_type == "azure-native:network:PublicIPAddress":
        state["ipAddress"] = "192.0.2.10"
    elif resource_type == "azure-native:apimanagement:ApiManagementService":
        # Azure assigns the Internal-mode gateway an address in its subnet when it deploys it.
        state["privateIPAddresses"] = ["192.0.2.20"]
    elif resource_type == "azure-native:deviceprovisioningservices:IotDpsResource":
        state["identity"] = {
            "type": "SystemAssigned",
            "principalId": "33333333-3333-3333-3333-333333333333",
        }
    elif resource_type.startswith("kubernetes:"):
        state = {"id": name, "metadata": inputs.get("metadata") or {}}
    return state


def _mocks(recorder: Recorder) -> Any:
    import pulumi
    from pulumi.runtime import mocks
    from pulumi.runtime.sync_await import _sync_await

    # pulumi 3.272 leaves MockMonitor's gRPC methods unannotated, hence the ignores below.
    class Monitor(mocks.MockMonitor):
        def make_urn(self, parent: str, type_: str, name: str) -> str:
            """The engine's URN: every ancestor's type (``a$b$type``), none for the Stack."""
            if parent:
                chain = parent.split("::")[2]
                if chain != STACK_TYPE:
                    type_ = f"{chain}${type_}"
            return f"urn:pulumi:{pulumi.get_stack()}::{pulumi.get_project()}::{type_}::{name}"

        def RegisterResource(self, request: Any) -> Any:
            response = super().RegisterResource(request)  # type: ignore[no-untyped-call]
            if request.type != "pulumi:pulumi:Stack":
                from pulumi.runtime import rpc

                inputs = _sync_await(_deserialize(rpc, request.object))
                recorder.resources.append(
                    RecordedResource(
                        urn=response.urn,
                        type=request.type,
                        name=request.name,
                        custom=bool(request.custom),
                        parent=request.parent,
                        inputs=inputs,
                        dependencies=sorted(set(request.dependencies)),
                    )
                )
            return response

        def RegisterResourceOutputs(self, request: Any) -> Any:
            from pulumi.runtime import rpc

            outputs = _sync_await(_deserialize(rpc, request.outputs))
            recorder.outputs[request.urn] = outputs
            return super().RegisterResourceOutputs(request)  # type: ignore[no-untyped-call]

    class Mocks(pulumi.runtime.Mocks):
        def new_resource(self, args: pulumi.runtime.MockResourceArgs) -> tuple[str, dict[str, Any]]:
            state = _computed(args.typ, args.name, args.inputs)
            return state.pop("id"), state

        def call(
            self, args: pulumi.runtime.MockCallArgs
        ) -> tuple[dict[str, Any], list[tuple[str, str]]]:
            """The call's result, and no check failures."""
            function = args.token
            if function == "azure-native:authorization:getClientConfig":
                return {
                    "subscriptionId": SUBSCRIPTION,
                    "tenantId": SUBSCRIPTION,
                    "clientId": SUBSCRIPTION,
                    "objectId": SUBSCRIPTION,
                }, []
            if function == "azure-native:containerservice:listManagedClusterUserCredentials":
                value = base64.b64encode(_KUBECONFIG.encode()).decode()
                return {"kubeconfigs": [{"name": "clusterUser", "value": value}]}, []
            raise InputError(f"offline plan: no mock for the call {args.token}")

    mocks_instance = Mocks()
    return mocks_instance, Monitor(mocks_instance)


async def _deserialize(rpc: Any, struct: Any) -> Any:
    return rpc.deserialize_properties(struct, keep_unknowns=True)


def record_program(program: Callable[[], None], stack: str, project: str = PROJECT) -> Recorder:
    """Run a Pulumi program under the mock runtime; return every resource it registered."""
    import pulumi
    from pulumi.runtime import settings
    from pulumi.runtime import stack as runtime_stack

    recorder = Recorder()
    mocks_instance, monitor = _mocks(recorder)
    loop = asyncio.new_event_loop()
    asyncio.set_event_loop(loop)
    try:
        settings.SETTINGS.rpc_manager.clear()
        settings.SETTINGS.outputs.clear()
        settings.ROOT.set(None)  # a fresh root Stack resource for this stack's URNs
        pulumi.runtime.set_mocks(
            mocks_instance, project=project, stack=stack, preview=True, monitor=monitor
        )
        loop.run_until_complete(runtime_stack.run_pulumi_func(program))
    finally:
        asyncio.set_event_loop(None)
        loop.close()
    return recorder


def run_program(config: StackConfig, stack: str) -> list[RecordedResource]:
    """Run ``build_platform`` under the mock runtime; return every registered resource."""
    import pulumi

    from sealgate.platform._program import build_platform

    def program() -> None:
        for key, value in build_platform(config).items():
            pulumi.export(key, value)

    return record_program(program, stack).resources


def _plain(value: Any) -> Any:
    """JSON-compatible values: unknowns become Pulumi's own unknown marker, as in a preview."""
    from pulumi.runtime import rpc

    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    if value is rpc.UNKNOWN or type(value).__name__ == "Unknown":
        return rpc.UNKNOWN
    if isinstance(value, float) and value.is_integer():
        return int(value)  # protobuf carries every number as a double
    if value is None or isinstance(value, bool | int | float | str):
        return value
    return str(value)


def preview_config(config: StackConfig) -> dict[str, str]:
    """The stack's settings as ``pulumi preview --json`` lists them: ``ns:key`` -> text."""
    return {
        f"{NAMESPACE}:{key}": value if isinstance(value, str) else json.dumps(value)
        for key, value in dataclasses.asdict(config).items()
    }


def build_plan(root: Path, stack: str) -> dict[str, Any]:
    """The offline plan of ``Pulumi.<stack>.yaml`` in the shape of ``pulumi preview --json``."""
    return plan_from_config(load_stack_config(root, stack), stack)


def plan_from_config(config: StackConfig, stack: str) -> dict[str, Any]:
    """The offline plan of ``config`` as stack ``stack`` (a stack file's settings, changed)."""
    resources = run_program(config, stack)
    steps = []
    for resource in resources:
        new_state: dict[str, Any] = {
            "urn": resource.urn,
            "custom": resource.custom,
            "type": resource.type,
            "inputs": _plain(resource.inputs),
        }
        if resource.parent:
            new_state["parent"] = resource.parent
        if resource.dependencies:
            new_state["dependencies"] = resource.dependencies
        steps.append({"op": "create", "urn": resource.urn, "newState": new_state})
    return {
        "config": preview_config(config),
        "steps": steps,
        "changeSummary": {"create": len(steps)},
    }
