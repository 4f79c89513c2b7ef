"""Cluster workloads: a restricted namespace, default-deny network policies, the model server.

A model reaches its pod in two steps (docs/platform.md, "From promotion to the pod"): the
init container ``fetch-model`` runs ``sealgate pull`` (the stage pointer the gate signed names
the digest; the copy must have it) from the promotion registry in Blob Storage into the
``sealed`` emptyDir, with the pod's workload identity (Storage Blob Data Reader on the models
container); the server container runs ``sealgate unseal`` against the key release service
into the memory-backed ``models`` emptyDir and execs the server. APIM reaches the server
through an internal load balancer at a static address of the model subnet.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import pulumi
import pulumi_kubernetes as k8s
import pulumi_kubernetes.apps.v1 as apps
import pulumi_kubernetes.core.v1 as core
import pulumi_kubernetes.networking.v1 as networking
import yaml

from sealgate.platform._cluster import (
    CONFIDENTIAL_LABEL,
    CONFIDENTIAL_TAINT,
    SANDBOX_LABEL,
    SANDBOX_TAINT,
)
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
SEALED_DIR = "/sealed"
# On confidential nodes: the VM's attestation token (MAA JWT) and the runtime key it binds,
# written into this memory-backed directory before the server starts (docs/confidential.md).
ATTESTATION_DIR = "/run/sealgate/attestation"
ATTESTATION_TOKEN = f"{ATTESTATION_DIR}/token"
RUNTIME_KEY = f"{ATTESTATION_DIR}/runtime-key.pem"
SEALED_MODEL = f"{SEALED_DIR}/current"
TRUST_CONFIG_MAP = "sealgate-trust"
GATE_PUB = f"{TRUST_DIR}/gate.pub"
SERVICE_NAME = "model-server"
ILB_ANNOTATION = "service.beta.kubernetes.io/azure-load-balancer-internal"
ILB_SUBNET_ANNOTATION = "service.beta.kubernetes.io/azure-load-balancer-internal-subnet"
ILB_IP_ANNOTATION = "service.beta.kubernetes.io/azure-load-balancer-ipv4"
# Entra ID (the workload identity token exchange) has public endpoints only: HTTPS outside
# private address space, never the VNet, the pods, or the instance metadata service.
_NOT_PUBLIC = ("10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16", "100.64.0.0/10", "169.254.0.0/16")
_MODEL_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$")
_STAGE = re.compile(r"^[a-z][a-z0-9-]{0,62}$")
# The server the image ships (images/model-server): its venv's interpreter runs the module.
SERVER_COMMAND = ("/opt/sealgate/bin/python", "-m", "model_server")


def gate_key_files(count: int) -> list[str]:
    """Where the pod reads the gate public keys (in the trust ConfigMap)."""
    return [GATE_PUB] if count == 1 else [f"{TRUST_DIR}/gate-{i}.pub" for i in range(count)]


def pull_command(
    model: str, stage: str, registry_url: pulumi.Input[str], gate_keys: int = 1
) -> list[pulumi.Input[str]]:
    """The init container command: fetch the sealed ``model`` current in ``stage`` of the
    promotion registry into the ``sealed`` volume (verified pointer, digest-checked copy)."""
    command: list[pulumi.Input[str]] = ["sealgate", "pull", model, "--stage", stage]
    command += ["--registry", registry_url]
    for path in gate_key_files(gate_keys):
        command += ["--gate-pub", path]
    return [*command, "--into", SEALED_MODEL]


def unseal_command(
    keyserver_url: str, environment: str, *, model: str | None = None, attested: bool = False
) -> list[str]:
    """The container command (``sealgate unseal``, the image's entrypoint, with its options):
    obtain the data key from the key release service with the pod's projected token for the
    service's audience, unseal into tmpfs, then exec the server. ``model``: refuse a sealed
    model of another name. ``attested``: also send the TEE's attestation token and take the
    data key wrapped to its runtime key (a confidential node)."""
    return [
        "sealgate",
        "unseal",
        SEALED_MODEL,
        *(["--name", model] if model else []),
        "--keyserver",
        keyserver_url,
        "--environment",
        environment,
        "--token-file",
        f"{KEYSERVER_TOKEN_DIR}/token",
        "--ca-bundle",
        KEYSERVER_CA,
        *(
            ["--attestation-token", ATTESTATION_TOKEN, "--runtime-key", RUNTIME_KEY]
            if attested
            else []
        ),
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
class ModelTrust:
    """What the model server trusts: the ``sealgate-trust`` ConfigMap (stack inputs)."""

    signers: Mapping[str, str]
    """Release signer name -> its PEM public key: sealed models must be signed by one."""
    gate_public_keys: tuple[str, ...]
    """PEM public keys of the promotion gate: stage pointers must be signed by one."""
    keyserver_ca: str
    """PEM certificate(s) of the CA that issued the key release service's TLS certificate."""

    def files(self) -> dict[str, str]:
        """The ConfigMap's data: ``trust.yaml``, the gate keys, ``keyserver-ca.pem``."""
        signers = sorted(self.signers.items())
        trust = {
            "signers": [
                {"name": name, "public_key_path": f"signer-{name}.pub"} for name, _ in signers
            ]
        }
        files = {"trust.yaml": yaml.safe_dump(trust, sort_keys=False)}
        files |= {f"signer-{name}.pub": pem for name, pem in signers}
        for path, pem in zip(
            gate_key_files(len(self.gate_public_keys)), self.gate_public_keys, strict=True
        ):
            files[path.removeprefix(f"{TRUST_DIR}/")] = pem
        files[KEYSERVER_CA.removeprefix(f"{TRUST_DIR}/")] = self.keyserver_ca
        return files


def _ipv4(text: str) -> bool:
    try:
        return ipaddress.ip_address(text).version == 4
    except ValueError:
        return False


def internal_ip(subnet_cidr: str) -> str:
    """The model server's internal load balancer address: the subnet's last host address
    (Azure reserves the first four and the broadcast address; nodes take the lowest free)."""
    network = ipaddress.ip_network(subnet_cidr)
    return str(network.broadcast_address - 1)


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
    """Address space inference requests come from (APIM in the VNet, through the load
    balancer)."""
    endpoint_cidr: str
    """Subnet of the private endpoints: the promotion registry's Blob endpoint (443)."""
    model: str
    """Name of the sealed model the server serves."""
    stage: str
    """Promotion stage whose current version of ``model`` the pod fetches."""
    registry_url: pulumi.Input[str]
    """The promotion registry (``azblob://ACCOUNT/CONTAINER``) the init container reads."""
    trust: ModelTrust
    """Release signers, gate keys and the key release service's CA (``sealgate-trust``)."""
    load_balancer_subnet_id: pulumi.Input[str]
    """Subnet of the internal load balancer (the model pool's)."""
    load_balancer_ip: str
    """Static address of the internal load balancer in that subnet (APIM's backend)."""
    replicas: int = 1
    """Model server pods."""
    confidential: bool = False
    """Serve on the confidential (SEV-SNP) pool instead of in Kata VMs, with the VM's
    attestation token in every key request."""
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
        require(
            ipv4_network(self.endpoint_cidr) is not None,
            self,
            f"endpoint_cidr {self.endpoint_cidr!r} is not an IPv4 CIDR",
        )
        require(
            _MODEL_NAME.match(self.model) is not None,
            self,
            f"model {self.model!r}: letters, digits, '.', '_' and '-'",
        )
        require(_STAGE.match(self.stage) is not None, self, f"stage {self.stage!r} is not a stage")
        require(
            _ipv4(self.load_balancer_ip),
            self,
            f"load_balancer_ip {self.load_balancer_ip!r} is not an IPv4 address",
        )
        require(bool(self.trust.signers), self, "trust.signers is empty")
        require(bool(self.trust.gate_public_keys), self, "trust.gate_public_keys is empty")
        require(bool(self.trust.keyserver_ca.strip()), self, "trust.keyserver_ca is empty")
        require(1 <= self.replicas <= 50, self, "replicas must be 1..50")


LABELS = {"app.kubernetes.io/name": "model-server", "sealgate.io/role": "model-server"}
_SELECTOR = {"app.kubernetes.io/name": "model-server"}
_RESTRICTED = {
    "allow_privilege_escalation": False,
    "read_only_root_filesystem": True,
    "run_as_non_root": True,
    "capabilities": {"drop": ["ALL"]},
}


def _in_namespace(name: str, **labels: str) -> dict[str, Any]:
    """A peer: pods (with ``labels``) in the namespace ``name``."""
    peer: dict[str, Any] = {
        "namespace_selector": {"match_labels": {"kubernetes.io/metadata.name": name}}
    }
    if labels:
        peer["pod_selector"] = {"match_labels": labels}
    return peer


def network_policy_spec(
    network_cidr: str, endpoint_cidr: str, keyserver_namespace: str
) -> dict[str, Any]:
    """Ingress: inference on 8080 from the VNet (the load balancer keeps the client address).
    Egress, and nothing else: the key release service (8443), the private endpoints subnet
    (the promotion registry's Blob endpoint, 443), Entra ID for the workload identity token
    exchange (public HTTPS), and cluster DNS."""
    return {
        "pod_selector": {"match_labels": _SELECTOR},
        "policy_types": ["Ingress", "Egress"],
        "ingress": [
            {
                "from": [{"ip_block": {"cidr": network_cidr}}],
                "ports": [{"port": SERVER_PORT, "protocol": "TCP"}],
            }
        ],
        "egress": [
            {
                "to": [
                    _in_namespace(keyserver_namespace, **{"app.kubernetes.io/name": "keyserver"})
                ],
                "ports": [{"port": KEYSERVER_PORT, "protocol": "TCP"}],
            },
            {
                "to": [{"ip_block": {"cidr": endpoint_cidr}}],
                "ports": [{"port": 443, "protocol": "TCP"}],
            },
            {
                "to": [{"ip_block": {"cidr": "0.0.0.0/0", "except": list(_NOT_PUBLIC)}}],
                "ports": [{"port": 443, "protocol": "TCP"}],
            },
            {
                "to": [_in_namespace("kube-system", **{"k8s-app": "kube-dns"})],
                "ports": [{"port": 53, "protocol": "UDP"}, {"port": 53, "protocol": "TCP"}],
            },
        ],
    }


def _fetch_container(args: WorkloadsArgs) -> dict[str, Any]:
    """The init container: ``sealgate pull`` into the ``sealed`` volume (its scratch copy
    there too: ``TMPDIR``, so the small ``/tmp`` never holds a model)."""
    return {
        "name": "fetch-model",
        "image": args.image,
        "command": pull_command(
            args.model, args.stage, args.registry_url, len(args.trust.gate_public_keys)
        ),
        "env": [{"name": "TMPDIR", "value": SEALED_DIR}],
        "resources": {
            "requests": {"cpu": "250m", "memory": "256Mi"},
            "limits": {"cpu": "1", "memory": "512Mi"},
        },
        "security_context": _RESTRICTED,
        "volume_mounts": [
            {"name": "sealed", "mount_path": SEALED_DIR},
            {"name": "trust", "mount_path": TRUST_DIR, "read_only": True},
            {"name": "tmp", "mount_path": "/tmp"},  # noqa: S108 (an emptyDir)
        ],
    }


def _server_container(args: WorkloadsArgs) -> dict[str, Any]:
    return {
        "name": "server",
        "image": args.image,
        "command": unseal_command(
            args.keyserver_url, args.environment, model=args.model, attested=args.confidential
        ),
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
        "security_context": _RESTRICTED,
        "volume_mounts": [
            {"name": "models", "mount_path": MODEL_DIR},
            {"name": "sealed", "mount_path": SEALED_DIR, "read_only": True},
            {"name": "trust", "mount_path": TRUST_DIR, "read_only": True},
            {"name": "tmp", "mount_path": "/tmp"},  # noqa: S108 (an emptyDir)
            {"name": "keyserver-token", "mount_path": KEYSERVER_TOKEN_DIR, "read_only": True},
            *(
                [{"name": "attestation", "mount_path": ATTESTATION_DIR, "read_only": True}]
                if args.confidential
                else []
            ),
        ],
    }


def _placement(confidential: bool) -> dict[str, Any]:
    """Where the pod runs: a Kata VM on the sandboxed pool, or (confidential) a plain
    container on the SEV-SNP pool, whose nodes cannot run Kata."""
    taint = CONFIDENTIAL_TAINT if confidential else SANDBOX_TAINT
    taint_key, _, taint_rest = taint.partition("=")
    taint_value, _, taint_effect = taint_rest.partition(":")
    placement: dict[str, Any] = {} if confidential else {"runtime_class_name": RUNTIME_CLASS}
    return {
        **placement,
        "node_selector": dict([CONFIDENTIAL_LABEL if confidential else SANDBOX_LABEL]),
        "tolerations": [
            {"key": taint_key, "operator": "Equal", "value": taint_value, "effect": taint_effect}
        ],
    }


def pod_template(args: WorkloadsArgs, trust_config_map: pulumi.Input[str]) -> dict[str, Any]:
    """The model server's pod: restricted, in a Kata VM on the sandboxed pool; the init
    container fetches the sealed model, the server unseals it into memory and serves it."""
    return {
        "metadata": {
            "labels": {**LABELS, "azure.workload.identity/use": "true"},
            "annotations": {"sealgate.io/model-dir": MODEL_DIR},
        },
        "spec": {
            "service_account_name": SERVICE_ACCOUNT,
            "automount_service_account_token": False,
            **_placement(args.confidential),
            "security_context": {
                "run_as_non_root": True,
                "run_as_user": NONROOT,
                "run_as_group": NONROOT,
                "fs_group": NONROOT,
                "seccomp_profile": {"type": "RuntimeDefault"},
            },
            "init_containers": [_fetch_container(args)],
            "containers": [_server_container(args)],
            "volumes": [
                {"name": "models", "empty_dir": {"medium": "Memory", "size_limit": "4Gi"}},
                # The sealed model and, while it is pulled, its scratch copy.
                {"name": "sealed", "empty_dir": {"size_limit": "16Gi"}},
                {"name": "trust", "config_map": {"name": trust_config_map}},
                {"name": "tmp", "empty_dir": {"size_limit": "256Mi"}},
                *(
                    [
                        {
                            "name": "attestation",
                            "empty_dir": {"medium": "Memory", "size_limit": "1Mi"},
                        }
                    ]
                    if args.confidential
                    else []
                ),
                # A short-lived token of the pod's service account for the key release
                # service's audience only (the kubelet rotates it).
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
    }


def _subnet_name(subnet_id: str) -> str:
    return subnet_id.rstrip("/").rsplit("/", 1)[-1]


class Workloads(pulumi.ComponentResource):
    """The ``models`` namespace, its network policies, service account, trust ConfigMap,
    deployment and internal load balancer Service.

    Outputs: ``namespace`` (the namespace's name), ``backend_url`` (``http://IP:8080``, the
    internal load balancer: what APIM forwards to).
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
        networking.NetworkPolicy(
            f"{name}-model-server-traffic",
            metadata={"name": "model-server", "namespace": NAMESPACE},
            spec=network_policy_spec(
                args.network_cidr, args.endpoint_cidr, args.keyserver_namespace
            ),
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
        trust = core.ConfigMap(
            f"{name}-trust",
            metadata={"name": TRUST_CONFIG_MAP, "namespace": NAMESPACE},
            data=args.trust.files(),
            opts=in_namespace,
        )
        apps.Deployment(
            f"{name}-model-server",
            metadata={"name": "model-server", "namespace": NAMESPACE, "labels": LABELS},
            spec={
                "replicas": args.replicas,
                "selector": {"match_labels": _SELECTOR},
                "template": pod_template(args, trust.metadata.name),
            },
            opts=in_namespace,
        )
        subnet = pulumi.Output.from_input(args.load_balancer_subnet_id).apply(_subnet_name)
        core.Service(
            f"{name}-service",
            metadata={
                "name": SERVICE_NAME,
                "namespace": NAMESPACE,
                "labels": LABELS,
                "annotations": {
                    ILB_ANNOTATION: "true",
                    ILB_SUBNET_ANNOTATION: subnet,
                    ILB_IP_ANNOTATION: args.load_balancer_ip,
                },
            },
            spec={
                "type": "LoadBalancer",
                "selector": _SELECTOR,
                # Local: the pod sees the caller's address (the NetworkPolicy admits the VNet).
                "external_traffic_policy": "Local",
                "ports": [
                    {"name": "http", "port": SERVER_PORT, "target_port": "http", "protocol": "TCP"}
                ],
            },
            opts=in_namespace,
        )
        self.namespace = namespace.metadata.name
        self.backend_url = f"http://{args.load_balancer_ip}:{SERVER_PORT}"
        self.register_outputs({"namespace": self.namespace, "backend_url": self.backend_url})
