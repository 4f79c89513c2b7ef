"""Cluster workloads: a restricted namespace, default-deny network policies, the model server."""

from __future__ import annotations

import re
from dataclasses import dataclass

import pulumi
import pulumi_kubernetes as k8s
import pulumi_kubernetes.apps.v1 as apps
import pulumi_kubernetes.core.v1 as core
import pulumi_kubernetes.networking.v1 as networking

from sealgate.platform._cluster import SANDBOX_LABEL, SANDBOX_TAINT
from sealgate.platform._common import TYPE_PREFIX, ipv4_network, require

NAMESPACE = "models"
SERVICE_ACCOUNT = "model-server"
RUNTIME_CLASS = "kata-vm-isolation"
MODEL_DIR = "/models"
NONROOT = 65532
SERVER_PORT = 8080
KEYSERVER_PORT = 8443
PINNED_IMAGE = re.compile(r"^[a-z0-9.-]+/[^@\s]+@sha256:[0-9a-f]{64}$")


KEYSERVER_TOKEN_DIR = "/var/run/secrets/sealgate/keyserver"  # noqa: S105 (a mount path)
TRUST_DIR = "/etc/sealgate"
TRUST_FILE = f"{TRUST_DIR}/trust.yaml"
# The CA that issued the key release service's TLS certificate (in the trust ConfigMap).
KEYSERVER_CA = f"{TRUST_DIR}/keyserver-ca.pem"
SEALED_MODEL = "/sealed/current"
# The server the image ships (images/model-server): its venv's interpreter runs the module.
SERVER_COMMAND = ("/opt/sealgate/bin/python", "-m", "model_server")


def unseal_command(keyserver_url: str, environment: str) -> list[str]:
    """The container command (``sealgate unseal``, the image's entrypoint, with its options):
    obtain the data key from the key release service with the pod's projected token for the
    service's audience, unseal into tmpfs, then exec the server."""
    return [
        "sealgate",
        "unseal",
        SEALED_MODEL,
        "--keyserver",
        keyserver_url,
        "--environment",
        environment,
        "--token-file",
        f"{KEYSERVER_TOKEN_DIR}/token",
        "--ca-bundle",
        KEYSERVER_CA,
        "--trust",
        TRUST_FILE,
        "--into",
        f"{MODEL_DIR}/current",
        "--exec",
        *SERVER_COMMAND,
        "--model-dir",
        f"{MODEL_DIR}/current",
        "--port",
        str(SERVER_PORT),
    ]


@dataclass(frozen=True, kw_only=True)
class WorkloadsArgs:
    """The model server in the cluster: a restricted namespace, default-deny network policies,
    a workload identity, pods that unseal the model into memory inside Kata VMs."""

    image: str
    """Model server image, pinned by digest (``registry/name@sha256:<64 hex>``)."""
    identity_client_id: pulumi.Input[str]
    """Client id of the Azure identity federated with the ``model-server`` service account
    (it holds no Key Vault role: keys come from the key release service)."""
    environment: str
    """The environment whose models the server asks the key release service for."""
    keyserver_url: str
    """HTTPS URL of the key release service (``KeyReleaseService.url``)."""
    keyserver_audience: str
    """Audience of the token the pod presents to the service (its ``service_id``)."""
    keyserver_namespace: str
    """Namespace of the key release service: the model server's egress to it on 8443."""
    network_cidr: str
    """Address space the model server talks to: inference requests come from it, and the
    registry is reached in it (over its private endpoint)."""
    replicas: int = 1
    """Model server pods."""
    provider: k8s.Provider | None = None
    """Kubernetes provider of the cluster (None: the one the component's options give)."""

    def __post_init__(self) -> None:
        require(
            PINNED_IMAGE.match(self.image) is not None,
            self,
            f"image {self.image!r} must be pinned by digest (name@sha256:<64 hex>)",
        )
        require(
            ipv4_network(self.network_cidr) is not None,
            self,
            f"network_cidr {self.network_cidr!r} is not an IPv4 CIDR",
        )
        require(1 <= self.replicas <= 50, self, "replicas must be 1..50")


class Workloads(pulumi.ComponentResource):
    """The ``models`` namespace, its network policies, service account and deployment.

    Outputs: ``namespace`` (the namespace's name).
    """

    def __init__(
        self, name: str, args: WorkloadsArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__(f"{TYPE_PREFIX}:Workloads", name, None, opts)
        provider = args.provider
        child = pulumi.ResourceOptions(parent=self, provider=provider)
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
            opts=child,
        )
        in_namespace = pulumi.ResourceOptions(parent=namespace, provider=provider)
        networking.NetworkPolicy(
            f"{name}-default-deny",
            metadata={"name": "default-deny", "namespace": NAMESPACE},
            spec={"pod_selector": {}, "policy_types": ["Ingress", "Egress"]},
            opts=in_namespace,
        )
        labels = {"app.kubernetes.io/name": "model-server", "sealgate.io/role": "model-server"}
        networking.NetworkPolicy(
            f"{name}-model-server-traffic",
            metadata={"name": "model-server", "namespace": NAMESPACE},
            spec={
                "pod_selector": {"match_labels": {"app.kubernetes.io/name": "model-server"}},
                "policy_types": ["Ingress", "Egress"],
                # Inference requests come from the gateway subnet only.
                "ingress": [
                    {
                        "from": [{"ip_block": {"cidr": args.network_cidr}}],
                        "ports": [{"port": SERVER_PORT, "protocol": "TCP"}],
                    }
                ],
                # The key release service, the registry over its private endpoint, and DNS.
                "egress": [
                    {
                        "to": [
                            {
                                "namespace_selector": {
                                    "match_labels": {
                                        "kubernetes.io/metadata.name": args.keyserver_namespace
                                    }
                                },
                                "pod_selector": {
                                    "match_labels": {"app.kubernetes.io/name": "keyserver"}
                                },
                            }
                        ],
                        "ports": [{"port": KEYSERVER_PORT, "protocol": "TCP"}],
                    },
                    {
                        "to": [{"ip_block": {"cidr": args.network_cidr}}],
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
            },
            opts=in_namespace,
        )
        core.ServiceAccount(
            f"{name}-service-account",
            metadata={
                "name": SERVICE_ACCOUNT,
                "namespace": NAMESPACE,
                "annotations": {"azure.workload.identity/client-id": args.identity_client_id},
            },
            automount_service_account_token=False,
            opts=in_namespace,
        )
        taint_key, _, taint_rest = SANDBOX_TAINT.partition("=")
        taint_value, _, taint_effect = taint_rest.partition(":")
        restricted = {
            "allow_privilege_escalation": False,
            "read_only_root_filesystem": True,
            "run_as_non_root": True,
            "capabilities": {"drop": ["ALL"]},
        }
        apps.Deployment(
            f"{name}-model-server",
            metadata={"name": "model-server", "namespace": NAMESPACE, "labels": labels},
            spec={
                "replicas": args.replicas,
                "selector": {"match_labels": {"app.kubernetes.io/name": "model-server"}},
                "template": {
                    "metadata": {
                        "labels": {**labels, "azure.workload.identity/use": "true"},
                        "annotations": {"sealgate.io/model-dir": MODEL_DIR},
                    },
                    "spec": {
                        "service_account_name": SERVICE_ACCOUNT,
                        "automount_service_account_token": False,
                        "runtime_class_name": RUNTIME_CLASS,
                        "node_selector": dict([SANDBOX_LABEL]),
                        "tolerations": [
                            {
                                "key": taint_key,
                                "operator": "Equal",
                                "value": taint_value,
                                "effect": taint_effect,
                            }
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
                                "name": "server",
                                "image": args.image,
                                "command": unseal_command(args.keyserver_url, args.environment),
                                "ports": [{"name": "http", "container_port": SERVER_PORT}],
                                "resources": {
                                    "requests": {"cpu": "2", "memory": "4Gi"},
                                    "limits": {"cpu": "4", "memory": "8Gi"},
                                },
                                "liveness_probe": {
                                    "http_get": {"path": "/healthz", "port": "http"},
                                    "period_seconds": 10,
                                },
                                "readiness_probe": {
                                    "http_get": {"path": "/ready", "port": "http"},
                                    "period_seconds": 5,
                                },
                                "security_context": restricted,
                                "volume_mounts": [
                                    {"name": "models", "mount_path": MODEL_DIR},
                                    {"name": "sealed", "mount_path": "/sealed", "read_only": True},
                                    {
                                        "name": "trust",
                                        "mount_path": TRUST_DIR,
                                        "read_only": True,
                                    },
                                    {"name": "tmp", "mount_path": "/tmp"},  # noqa: S108 (an emptyDir)
                                    {
                                        "name": "keyserver-token",
                                        "mount_path": KEYSERVER_TOKEN_DIR,
                                        "read_only": True,
                                    },
                                ],
                            }
                        ],
                        "volumes": [
                            {
                                "name": "models",
                                "empty_dir": {"medium": "Memory", "size_limit": "4Gi"},
                            },
                            {"name": "sealed", "empty_dir": {"size_limit": "8Gi"}},
                            {"name": "trust", "config_map": {"name": "sealgate-trust"}},
                            {"name": "tmp", "empty_dir": {"size_limit": "256Mi"}},
                            # A short-lived token of the pod's service account for the key
                            # release service's audience only (the kubelet rotates it).
                            {
                                "name": "keyserver-token",
                                "projected": {
                                    "sources": [
                                        {
                                            "service_account_token": {
                                                "audience": args.keyserver_audience,
                                                "expiration_seconds": 3600,
                                                "path": "token",
                                            }
                                        }
                                    ]
                                },
                            },
                        ],
                    },
                },
            },
            opts=in_namespace,
        )
        self.namespace = namespace.metadata.name
        self.register_outputs({"namespace": self.namespace})
