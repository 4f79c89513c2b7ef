# METADATA
# title: Kubernetes workload hardening
# description: >-
#   Hardening beyond the Pod Security Standards for every workload kind: health probes on
#   long-running containers, a read-only root file system, CPU and memory limits, images
#   pinned by digest from an allowed registry (data.config.registries.allowed), and no
#   service account token unless the workload is annotated as needing one.
# entrypoint: true
# custom:
#   input: kubernetes
package sealgate.containers.k8s_hardening

import rego.v1

settings := data.config.containers.kubernetes

pod := data.sealgate.lib.kubernetes.pod(input)

containers := data.sealgate.lib.kubernetes.containers(pod)

# Probes matter for containers that are meant to keep running: regular containers of a pod
# that restarts them (restartPolicy Always, the default). Jobs and CronJobs run to
# completion (restartPolicy Never or OnFailure) and need none.
long_running contains c if {
	object.get(pod.spec, "restartPolicy", "Always") == "Always"
	some c in containers
	c.field == "containers"
}

image(container) := ref if {
	ref := object.get(container, "image", "")
	is_string(ref)
} else := ""

image_path(c) := data.sealgate.lib.kubernetes.nearest_path(c.container, c.path, ["image"])

# METADATA
# title: No liveness probe
# description: >-
#   A long-running container needs a liveness probe so that the kubelet restarts it when it
#   hangs (a model server stuck in a deadlock otherwise keeps its replica forever).
# custom:
#   id: SG-K8S-012
#   severity: low
#   remediation: Add a `livenessProbe` (httpGet, grpc, tcpSocket or exec) to the container.
deny contains finding if {
	some c in long_running
	object.get(c.container, "livenessProbe", null) == null
	finding := data.sealgate.lib.findings.finding(
		"SG-K8S-012",
		sprintf("%s has no liveness probe", [data.sealgate.lib.kubernetes.describe(c)]),
		c.path,
	)
}

# METADATA
# title: No readiness probe
# description: >-
#   A long-running container needs a readiness probe so that it receives traffic only once
#   it can serve (for a model server: after the model is unsealed and loaded).
# custom:
#   id: SG-K8S-013
#   severity: low
#   remediation: Add a `readinessProbe` to the container.
deny contains finding if {
	some c in long_running
	object.get(c.container, "readinessProbe", null) == null
	finding := data.sealgate.lib.findings.finding(
		"SG-K8S-013",
		sprintf("%s has no readiness probe", [data.sealgate.lib.kubernetes.describe(c)]),
		c.path,
	)
}

# METADATA
# title: Writable root file system
# description: >-
#   Every container must set readOnlyRootFilesystem to true, so that a compromised process
#   cannot modify the image's binaries or drop tools; writable paths are emptyDir mounts.
# custom:
#   id: SG-K8S-014
#   severity: medium
#   remediation: >-
#     Set `securityContext.readOnlyRootFilesystem: true` and mount an emptyDir where the
#     process must write (for example /tmp).
deny contains finding if {
	some c in containers
	object.get(c.container, ["securityContext", "readOnlyRootFilesystem"], null) != true
	finding := data.sealgate.lib.findings.finding(
		"SG-K8S-014",
		sprintf("%s does not set readOnlyRootFilesystem: true", [data.sealgate.lib.kubernetes.describe(c)]),
		data.sealgate.lib.kubernetes.setting_path(c, ["readOnlyRootFilesystem"]),
	)
}

# METADATA
# title: No CPU or memory limit
# description: >-
#   Every container and init container must set CPU and memory limits, so that one
#   workload cannot starve the node (ephemeral containers cannot set resources).
# custom:
#   id: SG-K8S-015
#   severity: medium
#   remediation: Set `resources.limits.cpu` and `resources.limits.memory` on the container.
deny contains finding if {
	some c in containers
	c.field != "ephemeralContainers"
	some resource in ["cpu", "memory"]
	object.get(c.container, ["resources", "limits", resource], null) == null
	finding := data.sealgate.lib.findings.finding(
		"SG-K8S-015",
		sprintf("%s has no %s limit", [data.sealgate.lib.kubernetes.describe(c), resource]),
		data.sealgate.lib.kubernetes.nearest_path(c.container, c.path, ["resources", "limits", resource]),
	)
}

# METADATA
# title: Image not pinned by digest
# description: >-
#   Every container image must be referenced by its sha256 digest: a tag can be moved to
#   other content, a digest cannot.
# custom:
#   id: SG-K8S-016
#   severity: high
#   remediation: Reference the image as registry/repository@sha256:<digest> (a tag may stay before the @).
deny contains finding if {
	some c in containers
	ref := image(c.container)
	not data.sealgate.lib.images.pinned(ref)
	finding := data.sealgate.lib.findings.finding(
		"SG-K8S-016",
		sprintf("%s image \"%s\" is not pinned by digest", [data.sealgate.lib.kubernetes.describe(c), ref]),
		image_path(c),
	)
}

# METADATA
# title: Image from a registry that is not allowed
# description: >-
#   Every container image must come from an allowed registry (data.config.registries.allowed):
#   the platform's own registry or Microsoft's.
# custom:
#   id: SG-K8S-017
#   severity: high
#   remediation: Mirror the image into the platform registry and reference it there.
deny contains finding if {
	some c in containers
	ref := image(c.container)
	not data.sealgate.lib.images.allowed_registry(ref)
	finding := data.sealgate.lib.findings.finding(
		"SG-K8S-017",
		sprintf("%s image \"%s\" is not from an allowed registry", [data.sealgate.lib.kubernetes.describe(c), ref]),
		image_path(c),
	)
}

# METADATA
# title: Service account token mounted
# description: >-
#   The pod must set automountServiceAccountToken to false unless the workload is annotated
#   `sealgate.io/needs-service-account-token: "true"` because it calls the Kubernetes API.
#   AKS workload identity does not need the default token: it projects its own.
# custom:
#   id: SG-K8S-018
#   severity: medium
#   remediation: >-
#     Set `automountServiceAccountToken: false` in the pod spec, or annotate the workload
#     `sealgate.io/needs-service-account-token: "true"` if it calls the Kubernetes API.
deny contains finding if {
	object.get(pod.spec, "automountServiceAccountToken", null) != false
	object.get(pod.annotations, settings.service_account_token_annotation, null) != "true"
	finding := data.sealgate.lib.findings.finding(
		"SG-K8S-018",
		"the pod mounts the service account token (set automountServiceAccountToken: false)",
		data.sealgate.lib.kubernetes.nearest_path(pod.spec, pod.path, ["automountServiceAccountToken"]),
	)
}
