"""The key release service in the cluster: the only holder of the right to unwrap model keys.

``sealgate keyserver serve`` runs as its own workload (namespace, service account, Azure
identity) and is the one principal with unwrap on each environment's key-encryption key, at
the key. Model servers reach it on 8443 and nothing else does (NetworkPolicy); it reaches Key
Vault and Storage over their private endpoints and Entra ID, the cluster's OIDC issuer and
Azure Attestation over HTTPS, and nothing inside the cluster or the VNet besides.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import pulumi
import pulumi_azure_native.authorization as authorization
import pulumi_azure_native.managedidentity as managedidentity
import pulumi_kubernetes as k8s
import pulumi_kubernetes.apps.v1 as apps
import pulumi_kubernetes.core.v1 as core
import pulumi_kubernetes.networking.v1 as networking
import pulumi_kubernetes.policy.v1 as policy
import yaml

from sealgate.platform._cluster import SANDBOX_LABEL, SANDBOX_TAINT
from sealgate.platform._common import TYPE_PREFIX, Placement, ipv4_network, require, role_definition
from sealgate.platform._keys import CRYPTO_SERVICE_ENCRYPTION_USER, CRYPTO_SERVICE_RELEASE_USER
from sealgate.platform._naming import azure_name
from sealgate.platform._storage import WITNESS_CONTAINER, witness_writer_condition
from sealgate.platform._workloads import PINNED_IMAGE

NAMESPACE = "sealgate-keys"
SERVICE_ACCOUNT = "keyserver"
PORT = 8443
NONROOT = 65532
CONFIG_DIR = "/etc/sealgate"
CONFIG_FILE = f"{CONFIG_DIR}/keyserver.yaml"
# A policy folder of data only (data/unseal.yaml), layered over the built-in policies: the
# deployment's TEE requirements (data.config.unseal.tee.environments).
POLICY_DATA_DIR = "/etc/sealgate-policy"
POLICY_DATA_KEY = "unseal.yaml"
TLS_SECRET = "keyserver-tls"  # noqa: S105 (the name of a Kubernetes Secret)
SIGNING_SECRET = "keyserver-signing"  # noqa: S105 (a Secret's name)
TRUST_CONFIG_MAP = "keyserver-trust"
POD_LABELS = {"app.kubernetes.io/name": "keyserver", "sealgate.io/role": "keyserver"}
# The model servers, the only clients: pods with this label in the models namespace.
CONSUMER_LABELS = {"sealgate.io/role": "model-server"}
# Storage Blob Data Contributor (read, write, delete blobs), narrowed by an ABAC condition.
BLOB_DATA_CONTRIBUTOR = "ba92f5b4-2d11-453d-a403-e96b0029c9fe"
# Where the service writes in the registry container: its own state and the audit log.
WRITABLE_PREFIXES = ("keyserver/", "audit/")
# Entra ID, the cluster's OIDC issuer (discovery and JWKS) and Azure Attestation have public
# endpoints only: HTTPS anywhere outside private address space, never the VNet, the pods, or
# the instance metadata service (whose tokens are the node's, not the service's).
_NOT_PUBLIC = ("10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16", "100.64.0.0/10", "169.254.0.0/16")
_ENVIRONMENT = re.compile(r"^[a-z][a-z0-9-]{0,31}$")
_BLOB = "Microsoft.Storage/storageAccounts/blobServices/containers/blobs"


@dataclass(frozen=True, kw_only=True)
class VaultKey:
    """A Key Vault key as the service uses it: its URI and its resource id (role scope)."""

    uri: pulumi.Input[str]
    """The key's URI (``https://VAULT.vault.azure.net/keys/NAME``; ``KeyStore.key_uris``)."""
    id: pulumi.Input[str] | None = None
    """The key's resource id, the scope of a role on this key alone (``KeyStore.key_ids``).
    None for a Managed HSM key: its roles are HSM-local, granted after activation."""


@dataclass(frozen=True, kw_only=True)
class KeyReleaseServiceArgs:
    """The key release service: its Azure identity and roles, and its workload in the cluster."""

    placement: Placement
    """Resource group, region and tags of its managed identity."""
    subscription_id: pulumi.Input[str]
    """Subscription of the role definitions it is granted."""
    image: str
    """The service's image, pinned by digest (``registry/keyserver@sha256:<64 hex>``)."""
    service_id: str
    """The service's identity: the audience of the workload tokens it accepts, and the actor
    of its audit records (e.g. ``api://sealgate-keyserver-prod``)."""
    oidc_issuer_url: pulumi.Input[str | None]
    """The cluster's OIDC issuer: it federates the service's identity and issues the tokens of
    the model servers that the service verifies."""
    keks: Mapping[str, VaultKey]
    """Environment -> its key-encryption key. The service gets unwrap on each, at the key."""
    tee_keys: Mapping[str, VaultKey] = field(default_factory=dict)
    """Environment -> its exportable Secure Key Release key; the service may release it (to
    the attested TEE named in an attestation token; Key Vault checks the release policy)."""
    registry_account: pulumi.Input[str]
    """Storage account of the model registry (``azblob://ACCOUNT/CONTAINER``)."""
    registry_container: str = "models"
    """Blob container of the model registry: sealed models, signed pointers, the audit log."""
    registry_container_id: pulumi.Input[str]
    """Resource id of that container: the scope of the service's storage role."""
    witness_container_id: pulumi.Input[str] | None = None
    """Resource id of the audit head witness container (``ModelStorage.witness``) in the
    registry's account: the service writes every signed audit head there too (None: no
    witness)."""
    witness_container: str = WITNESS_CONTAINER
    """Name of that container (``SEALGATE_AUDIT_WITNESS=azblob://ACCOUNT/<name>``)."""
    endpoint_cidr: str
    """Subnet of the private endpoints (Key Vault, Storage): the service's only VNet egress."""
    attestation_authority: str | None = None
    """Azure Attestation provider whose tokens the service accepts (None: no TEE consumers)."""
    required_tee: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)
    """Environment -> what its consumers' attestation must show (an entry of
    ``tee.environments`` in the unseal policy data: ``attestation_types``,
    ``compliance_status``, ``policy_hashes``): no model key of that environment is released
    without a verified token that matches."""
    enrolment_operators: tuple[str, ...] = ()
    """OIDC subjects allowed to enrol devices (none: enrolment is refused)."""
    consumer_namespace: str = "models"
    """Namespace of the model servers that may call the service."""
    replicas: int = 2
    """Service pods (two or more: the service keeps its state in the registry backend)."""
    provider: k8s.Provider | None = None
    """Kubernetes provider of the cluster (None: the one the component's options give)."""

    def __post_init__(self) -> None:
        require(
            PINNED_IMAGE.match(self.image) is not None,
            self,
            f"image {self.image!r} must be pinned by digest (name@sha256:<64 hex>)",
        )
        require(bool(self.service_id), self, "service_id must not be empty")
        require(bool(self.keks), self, "keks must name at least one environment")
        for environment in (*self.keks, *self.tee_keys):
            require(
                _ENVIRONMENT.match(environment) is not None,
                self,
                f"environment {environment!r}: lowercase letters, digits and '-'",
            )
        require(
            set(self.tee_keys) <= set(self.keks),
            self,
            "tee_keys names an environment that has no kek",
        )
        require(
            ipv4_network(self.endpoint_cidr) is not None,
            self,
            f"endpoint_cidr {self.endpoint_cidr!r} is not an IPv4 CIDR",
        )
        require(2 <= self.replicas <= 20, self, "replicas must be 2..20")
        require(
            not self.required_tee or self.attestation_authority is not None,
            self,
            "required_tee needs an attestation_authority whose tokens the service verifies",
        )
        require(
            set(self.required_tee) <= set(self.keks),
            self,
            "required_tee names an environment that has no kek",
        )


def witness_url(account: str, container: str = WITNESS_CONTAINER) -> str:
    """``SEALGATE_AUDIT_WITNESS`` of the service: the witness container of the registry account."""
    return f"azblob://{account}/{container}"


def service_url(namespace: str = NAMESPACE) -> str:
    """Where model servers reach the service (its ClusterIP Service)."""
    return f"https://keyserver.{namespace}.svc.cluster.local:{PORT}"


def writable_paths_condition(prefixes: tuple[str, ...] = WRITABLE_PREFIXES) -> str:
    """An Azure ABAC condition: blob writes and deletes only under ``prefixes``; reads anywhere
    in the container (sealed models, signed pointers)."""
    actions = " AND ".join(
        f"!(ActionMatches{{'{_BLOB}/{action}'}})"
        for action in ("write", "add/action", "delete", "move/action")
    )
    paths = " OR ".join(
        f"@Resource[{_BLOB}:path] StringStartsWith '{prefix}'" for prefix in prefixes
    )
    return f"(({actions}) OR ({paths}))"


def keyserver_config(
    args: KeyReleaseServiceArgs, issuer: str, account: str, keks: Mapping[str, str]
) -> str:
    """``keyserver.yaml`` (the service's configuration contract) for this deployment."""
    document: dict[str, Any] = {
        "service_id": args.service_id,
        "registry": f"azblob://{account}/{args.registry_container}",
        "trust": "trust.yaml",
        "gate_keys": ["gate.pub"],
        "signing_key": "/run/sealgate/signing/keyserver.key",
        "engine": "embedded",
        "environments": {env: {"kek": f"keyvault:{uri}"} for env, uri in sorted(keks.items())},
        "issuers": [{"issuer": issuer, "audiences": [args.service_id]}],
        "tls": {
            "certificate": "/run/sealgate/tls/tls.crt",
            "key": "/run/sealgate/tls/tls.key",
        },
    }
    if args.enrolment_operators:
        document["enrolment"] = {"operators": list(args.enrolment_operators)}
    if args.attestation_authority:
        document["attestation_providers"] = [{"issuer": args.attestation_authority}]
    if args.required_tee:
        document["policies"] = [POLICY_DATA_DIR]
    return yaml.safe_dump(document, sort_keys=False)


def tee_policy_data(required: Mapping[str, Mapping[str, Any]]) -> str:
    """``data/unseal.yaml`` of the service's policy folder: every listed environment requires
    a TEE (``require_tee: true``) with what its entry accepts."""
    environments = {
        env: {"require_tee": True, **dict(settings)} for env, settings in sorted(required.items())
    }
    return yaml.safe_dump({"tee": {"environments": environments}}, sort_keys=False)


def _config_text(args: KeyReleaseServiceArgs) -> pulumi.Output[str]:
    environments = sorted(args.keks)
    uris = [args.keks[env].uri for env in environments]

    def render(values: list[Any]) -> str:
        issuer, account, *kek_uris = values
        return keyserver_config(
            args, str(issuer), str(account), dict(zip(environments, kek_uris, strict=True))
        )

    return pulumi.Output.all(args.oidc_issuer_url, args.registry_account, *uris).apply(render)


class KeyReleaseService(pulumi.ComponentResource):
    """The service's managed identity (federated with its service account), its Key Vault and
    Storage roles, and its namespace, network policies, configuration, Deployment and Service.

    Outputs: ``identity`` (the UserAssignedIdentity; ``principal_id`` is the only principal
    that may unwrap with a KEK), ``url`` (the Service's in-cluster HTTPS URL), ``namespace``.
    """

    def __init__(
        self, name: str, args: KeyReleaseServiceArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__(f"{TYPE_PREFIX}:KeyReleaseService", name, None, opts)
        self.url = service_url()
        self._azure(name, args)
        self._cluster(name, args)
        self.register_outputs(
            {
                "client_id": self.identity.client_id,
                "principal_id": self.identity.principal_id,
                "url": self.url,
                "namespace": self.namespace,
            }
        )

    def _azure(self, name: str, args: KeyReleaseServiceArgs) -> None:
        placement = args.placement
        child = pulumi.ResourceOptions(parent=self)
        self.identity = managedidentity.UserAssignedIdentity(
            f"{name}-identity",
            resource_name_=azure_name(managedidentity.UserAssignedIdentity, f"{name}-identity"),
            resource_group_name=placement.resource_group,
            location=placement.location,
            tags=placement.tags,
            opts=child,
        )
        managedidentity.FederatedIdentityCredential(
            f"{name}-federation",
            federated_identity_credential_resource_name=azure_name(
                managedidentity.FederatedIdentityCredential, f"{name}-federation"
            ),
            resource_group_name=placement.resource_group,
            resource_name_=self.identity.name,
            issuer=args.oidc_issuer_url,
            subject=f"system:serviceaccount:{NAMESPACE}:{SERVICE_ACCOUNT}",
            audiences=["api://AzureADTokenExchange"],
            opts=pulumi.ResourceOptions(parent=self.identity),
        )

        def grant(grant_name: str, scope: pulumi.Input[str], role: str, **extra: Any) -> None:
            authorization.RoleAssignment(
                grant_name,
                role_assignment_name=azure_name(authorization.RoleAssignment, grant_name),
                scope=scope,
                principal_id=self.identity.principal_id,
                principal_type="ServicePrincipal",
                role_definition_id=role_definition(args.subscription_id, role),
                opts=child,
                **extra,
            )

        # The one unwrap grant on each KEK, at the key (not the vault): see _keys for the role.
        for environment, key in sorted(args.keks.items()):
            if key.id is not None:
                grant(f"{name}-unwrap-{environment}", key.id, CRYPTO_SERVICE_ENCRYPTION_USER)
        for environment, key in sorted(args.tee_keys.items()):
            if key.id is not None:
                grant(f"{name}-release-{environment}", key.id, CRYPTO_SERVICE_RELEASE_USER)
        grant(
            f"{name}-registry",
            args.registry_container_id,
            BLOB_DATA_CONTRIBUTOR,
            condition=writable_paths_condition(),
            condition_version="2.0",
            description="keyserver: read the registry; write only its state and the audit log",
        )
        if args.witness_container_id is not None:
            grant(
                f"{name}-witness",
                args.witness_container_id,
                BLOB_DATA_CONTRIBUTOR,
                condition=witness_writer_condition(),
                condition_version="2.0",
                description="keyserver: create audit heads in the witness; never delete",
            )

    def _cluster(self, name: str, args: KeyReleaseServiceArgs) -> None:
        provider = args.provider
        namespace = core.Namespace(
            f"{name}-namespace",
            metadata={
                "name": NAMESPACE,
                "labels": {
                    "pod-security.kubernetes.io/enforce": "restricted",
                    "pod-security.kubernetes.io/enforce-version": "latest",
                    "pod-security.kubernetes.io/audit": "restricted",
                    "pod-security.kubernetes.io/warn": "restricted",
                },
            },
            opts=pulumi.ResourceOptions(parent=self, provider=provider),
        )
        self.namespace = namespace.metadata.name
        in_namespace = pulumi.ResourceOptions(parent=namespace, provider=provider)
        networking.NetworkPolicy(
            f"{name}-default-deny",
            metadata={"name": "default-deny", "namespace": NAMESPACE},
            spec={"pod_selector": {}, "policy_types": ["Ingress", "Egress"]},
            opts=in_namespace,
        )
        networking.NetworkPolicy(
            f"{name}-traffic",
            metadata={"name": "keyserver", "namespace": NAMESPACE},
            spec=network_policy_spec(args.consumer_namespace, args.endpoint_cidr),
            opts=in_namespace,
        )
        core.ServiceAccount(
            f"{name}-service-account",
            metadata={
                "name": SERVICE_ACCOUNT,
                "namespace": NAMESPACE,
                "annotations": {"azure.workload.identity/client-id": self.identity.client_id},
            },
            automount_service_account_token=False,
            opts=in_namespace,
        )
        config = core.ConfigMap(
            f"{name}-config",
            metadata={"name": "keyserver-config", "namespace": NAMESPACE},
            data={
                "keyserver.yaml": _config_text(args),
                **(
                    {POLICY_DATA_KEY: tee_policy_data(args.required_tee)}
                    if args.required_tee
                    else {}
                ),
            },
            opts=in_namespace,
        )
        apps.Deployment(
            f"{name}-deployment",
            metadata={"name": "keyserver", "namespace": NAMESPACE, "labels": POD_LABELS},
            spec={
                "replicas": args.replicas,
                "selector": {"match_labels": POD_LABELS},
                "strategy": {"rolling_update": {"max_unavailable": 0, "max_surge": 1}},
                "template": pod_template(
                    args.image,
                    config.metadata.name,
                    _environment(args),
                    policy_data=bool(args.required_tee),
                ),
            },
            opts=in_namespace,
        )
        core.Service(
            f"{name}-service",
            metadata={"name": "keyserver", "namespace": NAMESPACE, "labels": POD_LABELS},
            spec={
                "type": "ClusterIP",
                "selector": POD_LABELS,
                "ports": [{"name": "https", "port": PORT, "target_port": "https"}],
            },
            opts=in_namespace,
        )
        policy.PodDisruptionBudget(
            f"{name}-disruption-budget",
            metadata={"name": "keyserver", "namespace": NAMESPACE},
            spec={"min_available": 1, "selector": {"match_labels": POD_LABELS}},
            opts=in_namespace,
        )


def _environment(args: KeyReleaseServiceArgs) -> list[dict[str, Any]]:
    if args.witness_container_id is None:
        return []
    url = pulumi.Output.from_input(args.registry_account).apply(
        lambda account: witness_url(str(account), args.witness_container)
    )
    return [{"name": "SEALGATE_AUDIT_WITNESS", "value": url}]


def network_policy_spec(consumer_namespace: str, endpoint_cidr: str) -> dict[str, Any]:
    """Ingress: model-server pods of ``consumer_namespace`` on 8443 only. Egress: the private
    endpoints subnet and public HTTPS (Entra ID, OIDC issuer, Azure Attestation), DNS."""
    return {
        "pod_selector": {"match_labels": POD_LABELS},
        "policy_types": ["Ingress", "Egress"],
        # One peer with both selectors: a model-server pod AND in the consumers' namespace.
        "ingress": [
            {
                "from": [
                    {
                        "namespace_selector": {
                            "match_labels": {"kubernetes.io/metadata.name": consumer_namespace}
                        },
                        "pod_selector": {"match_labels": dict(CONSUMER_LABELS)},
                    }
                ],
                "ports": [{"port": PORT, "protocol": "TCP"}],
            }
        ],
        "egress": [
            {
                "to": [{"ip_block": {"cidr": endpoint_cidr}}],
                "ports": [{"port": 443, "protocol": "TCP"}],
            },
            {
                "to": [{"ip_block": {"cidr": "0.0.0.0/0", "except": list(_NOT_PUBLIC)}}],
                "ports": [{"port": 443, "protocol": "TCP"}],
            },
            {
                "to": [
                    {
                        "namespace_selector": {
                            "match_labels": {"kubernetes.io/metadata.name": "kube-system"}
                        }
                    }
                ],
                "ports": [{"port": 53, "protocol": "UDP"}, {"port": 53, "protocol": "TCP"}],
            },
        ],
    }


def pod_template(
    image: str,
    config_map: pulumi.Input[str],
    env: list[dict[str, Any]] | None = None,
    *,
    policy_data: bool = False,
) -> dict[str, Any]:
    """The service's pod: restricted, read-only root, in a Kata VM on the sandboxed pool (it
    holds unwrapped data keys in memory), its key material from secrets; ``env`` are the
    container's environment variables (``SEALGATE_AUDIT_WITNESS``)."""
    taint_key, _, taint_rest = SANDBOX_TAINT.partition("=")
    taint_value, _, taint_effect = taint_rest.partition(":")
    secret = {"default_mode": 0o440}
    return {
        "metadata": {"labels": {**POD_LABELS, "azure.workload.identity/use": "true"}},
        "spec": {
            "service_account_name": SERVICE_ACCOUNT,
            "automount_service_account_token": False,
            "runtime_class_name": "kata-vm-isolation",
            "node_selector": dict([SANDBOX_LABEL]),
            "tolerations": [
                {
                    "key": taint_key,
                    "operator": "Equal",
                    "value": taint_value,
                    "effect": taint_effect,
                }
            ],
            # Replicas on different nodes (and zones where there are any).
            "topology_spread_constraints": [
                {
                    "max_skew": 1,
                    "topology_key": topology_key,
                    "when_unsatisfiable": "ScheduleAnyway",
                    "label_selector": {"match_labels": POD_LABELS},
                }
                for topology_key in ("kubernetes.io/hostname", "topology.kubernetes.io/zone")
            ],
            "security_context": {
                "run_as_non_root": True,
                "run_as_user": NONROOT,
                "run_as_group": NONROOT,
                "fs_group": NONROOT,
                "seccomp_profile": {"type": "RuntimeDefault"},
            },
            "containers": [
                {
                    "name": "keyserver",
                    "image": image,
                    "command": ["sealgate", "keyserver", "serve", "--config", CONFIG_FILE],
                    "env": list(env or []),
                    "ports": [{"name": "https", "container_port": PORT}],
                    "resources": {
                        "requests": {"cpu": "250m", "memory": "256Mi"},
                        "limits": {"cpu": "1", "memory": "512Mi"},
                    },
                    "liveness_probe": {
                        "http_get": {"path": "/v1/health", "port": "https", "scheme": "HTTPS"},
                        "period_seconds": 10,
                    },
                    "readiness_probe": {
                        "http_get": {"path": "/v1/health", "port": "https", "scheme": "HTTPS"},
                        "period_seconds": 5,
                    },
                    "security_context": {
                        "allow_privilege_escalation": False,
                        "read_only_root_filesystem": True,
                        "run_as_non_root": True,
                        "capabilities": {"drop": ["ALL"]},
                    },
                    "volume_mounts": [
                        {"name": "config", "mount_path": CONFIG_DIR, "read_only": True},
                        {"name": "tls", "mount_path": "/run/sealgate/tls", "read_only": True},
                        {
                            "name": "signing",
                            "mount_path": "/run/sealgate/signing",
                            "read_only": True,
                        },
                        {"name": "tmp", "mount_path": "/tmp"},  # noqa: S108 (an emptyDir)
                        *(
                            [
                                {
                                    "name": "policy-data",
                                    "mount_path": POLICY_DATA_DIR,
                                    "read_only": True,
                                }
                            ]
                            if policy_data
                            else []
                        ),
                    ],
                }
            ],
            "volumes": [
                {
                    "name": "config",
                    "projected": {
                        "sources": [
                            {"config_map": {"name": config_map}},
                            {"config_map": {"name": TRUST_CONFIG_MAP}},
                        ]
                    },
                },
                {"name": "tls", "secret": {"secret_name": TLS_SECRET, **secret}},
                {"name": "signing", "secret": {"secret_name": SIGNING_SECRET, **secret}},
                {"name": "tmp", "empty_dir": {"medium": "Memory", "size_limit": "64Mi"}},
                *(
                    [
                        {
                            "name": "policy-data",
                            "config_map": {
                                "name": config_map,
                                "items": [
                                    {"key": POLICY_DATA_KEY, "path": f"data/{POLICY_DATA_KEY}"}
                                ],
                            },
                        }
                    ]
                    if policy_data
                    else []
                ),
            ],
        },
    }
