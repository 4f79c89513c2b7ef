# METADATA
# title: Kubernetes model servers
# description: >-
#   Workloads labelled as model servers (`sealgate.io/role: model-server` on the object or
#   its pod template; data.config.containers.kubernetes) hold decrypted models in memory.
#   They run under an accepted sandbox runtime class (Kata on AKS by default), and
#   the model directory (the annotation `sealgate.io/model-dir`, else /models) is an
#   emptyDir with medium Memory, so that the unsealed model never reaches a node disk.
# entrypoint: true
# custom:
#   input: kubernetes
package sealgate.containers.k8s_model_server

import rego.v1

settings := data.config.containers.kubernetes

pod := data.sealgate.lib.kubernetes.pod(input)

containers := data.sealgate.lib.kubernetes.containers(pod)

model_server if object.get(pod.labels, settings.model_server_label, null) == settings.model_server_label_value

# The runtime classes SG-K8S-030 accepts; only a list of strings counts (malformed data
# accepts nothing).
accepted_runtime_classes contains runtime_class if {
	some runtime_class in configured_runtime_classes
	is_string(runtime_class)
}

default configured_runtime_classes := []

configured_runtime_classes := classes if {
	classes := object.get(settings, "model_server_runtime_classes", [])
	is_array(classes)
}

model_dir := normalized(dir) if {
	dir := object.get(pod.annotations, settings.model_dir_annotation, null)
	is_string(dir)
	dir != ""
} else := normalized(settings.default_model_dir)

normalized(dir) := dir if {
	dir == "/"
} else := trim_right(dir, "/")

volumes := data.sealgate.lib.kubernetes.as_array(object.get(pod.spec, "volumes", []))

# Every mount of the model directory: {container, mount index, volume name}.
model_mounts contains mount if {
	some c in containers
	some k, volume_mount in data.sealgate.lib.kubernetes.as_array(object.get(c.container, "volumeMounts", []))
	is_object(volume_mount)
	mount_path := object.get(volume_mount, "mountPath", null)
	is_string(mount_path)
	normalized(mount_path) == model_dir
	mount := {"container": c, "index": k, "volume": object.get(volume_mount, "name", null)}
}

# A pod pinned to the confidential (AMD SEV-SNP) node pool: those nodes cannot run Kata (AKS
# pod sandboxing is not available on confidential VMs); the hardware keeps the memory from the
# host instead, and the key release service releases the model's key only against that VM's
# attestation token (policies/sealgate/unseal/confidential).
confidential_placement if {
	selector := object.get(settings, "model_server_confidential_node_selector", {})
	is_object(selector)
	count(selector) > 0
	node_selector := object.get(pod.spec, "nodeSelector", {})
	is_object(node_selector)
	every key, value in selector {
		object.get(node_selector, key, null) == value
	}
}

# METADATA
# title: Model server not sandboxed
# description: >-
#   A model server runs under a sandboxing runtime class listed in
#   data.config.containers.kubernetes.model_server_runtime_classes (default
#   kata-vm-isolation, AKS pod sandboxing; gVisor's class where a cluster offers it). The
#   sandbox protects the node and the other pods from a compromised model server (a Kata VM
#   has its own guest kernel; gVisor's sentry answers the system calls): it limits what
#   malicious model code or a server exploit reaches. It does not protect the model from the
#   node: host root still reads the sandbox's memory and files (through the hypervisor or
#   the sentry's process, `runsc exec`, checkpoints). Only a trusted execution environment
#   with the key released against its attestation (a confidential container keeps the model
#   from the node; a confidential VM node pool from the cloud host beneath it) does that.
#   A model server pinned to the confidential node pool (nodeSelector
#   model_server_confidential_node_selector) is accepted instead: Kata cannot run on
#   confidential VMs; there the VM keeps the model from the cloud host and its key is released
#   only against the VM's attestation, but the node's kernel is not sandboxed from the server.
# custom:
#   id: SG-K8S-030
#   severity: high
#   remediation: >-
#     Set `runtimeClassName` to an accepted class: `kata-vm-isolation` on AKS, with the
#     workload scheduled on a node pool created with `--workload-runtime KataVmIsolation`;
#     or list your cluster's own sandbox class (e.g. `gvisor`) in
#     `kubernetes.model_server_runtime_classes` of a data file of your own.
deny contains finding if {
	model_server
	not confidential_placement
	runtime_class := object.get(pod.spec, "runtimeClassName", null)
	not runtime_class in accepted_runtime_classes
	finding := data.sealgate.lib.findings.finding(
		"SG-K8S-030",
		sprintf(
			"model server does not run in an accepted sandbox runtime class %v (runtimeClassName: %v)",
			[sort(accepted_runtime_classes), runtime_class],
		),
		data.sealgate.lib.kubernetes.nearest_path(pod.spec, pod.path, ["runtimeClassName"]),
	)
}

# METADATA
# title: Model directory not in memory
# description: >-
#   The model directory of a model server must be mounted from an emptyDir volume with
#   medium Memory (tmpfs): unsealed model files must never be written to a node disk, a
#   persistent volume or the container's writable layer.
# custom:
#   id: SG-K8S-031
#   severity: high
#   remediation: >-
#     Mount an `emptyDir: {medium: Memory, sizeLimit: ...}` volume at the model directory
#     (the `sealgate.io/model-dir` annotation, else /models) in the containers that read it.
deny contains finding if {
	model_server
	count(model_mounts) == 0
	finding := data.sealgate.lib.findings.finding(
		"SG-K8S-031",
		sprintf(
			"no container mounts a volume at the model directory %s: the model would be written to the container's file system",
			[model_dir],
		),
		data.sealgate.lib.kubernetes.nearest_path(pod.spec, pod.path, ["containers"]),
	)
}

deny contains finding if {
	model_server
	some mount in model_mounts
	some j, volume in volumes
	is_object(volume)
	object.get(volume, "name", null) == mount.volume
	object.get(volume, ["emptyDir", "medium"], null) != "Memory"
	finding := data.sealgate.lib.findings.finding(
		"SG-K8S-031",
		sprintf("volume %v at the model directory %s is not an emptyDir with medium Memory", [mount.volume, model_dir]),
		data.sealgate.lib.kubernetes.nearest_path(volume, array.concat(pod.path, ["volumes", j]), ["emptyDir", "medium"]),
	)
}

deny contains finding if {
	model_server
	some mount in model_mounts
	not mount.volume in {object.get(v, "name", null) | some v in volumes; is_object(v)}
	finding := data.sealgate.lib.findings.finding(
		"SG-K8S-031",
		sprintf(
			"%s mounts the model directory %s from volume %v, which the pod does not define",
			[data.sealgate.lib.kubernetes.describe(mount.container), model_dir, mount.volume],
		),
		array.concat(mount.container.path, ["volumeMounts", mount.index]),
	)
}
