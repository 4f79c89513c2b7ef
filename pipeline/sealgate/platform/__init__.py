"""sealgate's Azure platform as Pulumi components (needs the ``infra`` extra).

Each component is a ``pulumi.ComponentResource`` built from its name and one frozen, typed
Args value, ``Component(name, ComponentArgs(...), opts=None)``: its resources are its
children and it registers its outputs. Args hold only what the component needs; the Azure
placement (resource group, region, tags) is a ``Placement``. A Pulumi program can use any
component on its own, e.g. only the key store::

    import pulumi_azure_native.resources as resources
    from sealgate.platform import KeyStore, KeyStoreArgs, Placement

    group = resources.ResourceGroup("keys-rg", location="westeurope")
    keys = KeyStore(
        "keys",
        KeyStoreArgs(
            placement=Placement(resource_group=group.name, location="westeurope"),
            tenant_id="...",
            subscription_id="...",
            endpoint_subnet_id=subnet.id,
            private_dns_zone_id=vault_zone.id,  # privatelink.vaultcore.azure.net
            workspace_id=workspace.id,
        ),
    )

The whole platform of a sealgate stack is ``build_platform(config)`` for a ``StackConfig``
(``load_stack_config`` reads ``Pulumi.<stack>.yaml``); ``deploy(project_dir)`` is the
program that ``infra/__main__.py`` runs for the selected stack. Every Azure resource gets an
explicit name within its type's rules (``azure_name``, ``NAME_RULES``), globally unique
names a suffix stable per project and stack (``stable_suffix``).
"""

from sealgate.platform._apim import ApiGateway, ApiGatewayArgs
from sealgate.platform._cluster import Cluster, ClusterArgs
from sealgate.platform._common import Placement
from sealgate.platform._config import StackConfig, load_stack_config
from sealgate.platform._edge import Edge, EdgeArgs
from sealgate.platform._gateway import Gateway, GatewayArgs
from sealgate.platform._keys import PLATFORM_KEYS, KeySpec, KeyStore, KeyStoreArgs
from sealgate.platform._keyserver import KeyReleaseService, KeyReleaseServiceArgs, VaultKey
from sealgate.platform._monitoring import Monitoring, MonitoringArgs
from sealgate.platform._naming import NAME_RULES, NameRule, azure_name, stable_suffix
from sealgate.platform._network import PRIVATE_DNS_ZONES, Network, NetworkArgs
from sealgate.platform._program import build_platform, deploy
from sealgate.platform._registry import ModelRegistry, ModelRegistryArgs
from sealgate.platform._storage import ModelStorage, ModelStorageArgs
from sealgate.platform._workloads import Workloads, WorkloadsArgs

__all__ = [
    "NAME_RULES",
    "PLATFORM_KEYS",
    "PRIVATE_DNS_ZONES",
    "ApiGateway",
    "ApiGatewayArgs",
    "Cluster",
    "ClusterArgs",
    "Edge",
    "EdgeArgs",
    "Gateway",
    "GatewayArgs",
    "KeyReleaseService",
    "KeyReleaseServiceArgs",
    "KeySpec",
    "KeyStore",
    "KeyStoreArgs",
    "ModelRegistry",
    "ModelRegistryArgs",
    "ModelStorage",
    "ModelStorageArgs",
    "Monitoring",
    "MonitoringArgs",
    "NameRule",
    "Network",
    "NetworkArgs",
    "Placement",
    "StackConfig",
    "VaultKey",
    "Workloads",
    "WorkloadsArgs",
    "azure_name",
    "build_platform",
    "deploy",
    "load_stack_config",
    "stable_suffix",
]
