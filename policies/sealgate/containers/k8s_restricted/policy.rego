# METADATA
# title: Kubernetes Pod Security Standards, restricted
# description: >-
#   The controls the restricted Pod Security Standard adds to the baseline (checked by
#   sealgate.containers.k8s_baseline): volume types, privilege escalation, non-root users,
#   a required seccomp profile and dropped capabilities. A container setting wins over the
#   pod's; containers, init containers and ephemeral containers are all checked. As in the
#   standard, Windows pods (spec.os.name windows) are exempt from the privilege escalation,
#   seccomp and capability controls.
# entrypoint: true
# custom:
#   input: kubernetes
package sealgate.containers.k8s_restricted

import rego.v1

settings := data.config.containers.kubernetes

pod := data.sealgate.lib.kubernetes.pod(input)

containers := data.sealgate.lib.kubernetes.containers(pod)

scopes := data.sealgate.lib.kubernetes.security_scopes(pod)

pod_security_context := data.sealgate.lib.kubernetes.security_context(pod.spec)

linux if object.get(pod.spec, ["os", "name"], "linux") != "windows"

allowed_seccomp := {"RuntimeDefault", "Localhost"}

# METADATA
# title: Volume type not allowed
# description: >-
#   A pod may only use configMap, csi, downwardAPI, emptyDir, ephemeral, image,
#   persistentVolumeClaim, projected and secret volumes; storage of other kinds is reached
#   through a PersistentVolume and a claim.
# custom:
#   id: SG-K8S-020
#   severity: medium
#   remediation: Replace the volume with a persistentVolumeClaim (or one of the allowed types).
deny contains finding if {
	some j, volume in data.sealgate.lib.kubernetes.as_array(object.get(pod.spec, "volumes", []))
	is_object(volume)
	some source, _ in volume
	source != "name"
	not source in {t | some t in settings.restricted_volume_types}
	finding := data.sealgate.lib.findings.finding(
		"SG-K8S-020",
		sprintf(
			"volume %v is of type %v, which the restricted standard does not allow",
			[object.get(volume, "name", j), source],
		),
		array.concat(pod.path, ["volumes", j, source]),
	)
}

# METADATA
# title: Privilege escalation allowed
# description: >-
#   Every container must set allowPrivilegeEscalation to false, so that no process gains
#   more privileges than its parent (setuid binaries, file capabilities).
# custom:
#   id: SG-K8S-021
#   severity: high
#   remediation: >-
#     Set `securityContext.allowPrivilegeEscalation: false` on the container.
deny contains finding if {
	linux
	some c in containers
	value := object.get(c.container, ["securityContext", "allowPrivilegeEscalation"], null)
	value != false
	finding := data.sealgate.lib.findings.finding(
		"SG-K8S-021",
		sprintf("%s does not set allowPrivilegeEscalation: false", [data.sealgate.lib.kubernetes.describe(c)]),
		data.sealgate.lib.kubernetes.setting_path(c, ["allowPrivilegeEscalation"]),
	)
}

# METADATA
# title: May run as root
# description: >-
#   runAsNonRoot must be true for every container: set on the pod (and not overridden with
#   false by a container) or on each container. The pod may not set it to false.
# custom:
#   id: SG-K8S-022
#   severity: high
#   remediation: >-
#     Set `securityContext.runAsNonRoot: true` on the pod, and remove any container-level
#     `runAsNonRoot: false`.
deny contains finding if {
	value := object.get(pod_security_context, "runAsNonRoot", null)
	not value in {null, true}
	finding := data.sealgate.lib.findings.finding(
		"SG-K8S-022",
		sprintf("the pod sets runAsNonRoot: %v", [value]),
		array.concat(pod.path, ["securityContext", "runAsNonRoot"]),
	)
}

deny contains finding if {
	some c in containers
	value := object.get(c.container, ["securityContext", "runAsNonRoot"], null)
	not value in {null, true}
	finding := data.sealgate.lib.findings.finding(
		"SG-K8S-022",
		sprintf("%s sets runAsNonRoot: %v", [data.sealgate.lib.kubernetes.describe(c), value]),
		array.concat(c.path, ["securityContext", "runAsNonRoot"]),
	)
}

deny contains finding if {
	object.get(pod_security_context, "runAsNonRoot", null) == null
	some c in containers
	object.get(c.container, ["securityContext", "runAsNonRoot"], null) == null
	finding := data.sealgate.lib.findings.finding(
		"SG-K8S-022",
		sprintf(
			"%s may run as root: runAsNonRoot is set neither on it nor on the pod",
			[data.sealgate.lib.kubernetes.describe(c)],
		),
		data.sealgate.lib.kubernetes.setting_path(c, ["runAsNonRoot"]),
	)
}

# METADATA
# title: Runs as user 0
# description: runAsUser may not be 0 (root), neither on the pod nor on a container.
# custom:
#   id: SG-K8S-023
#   severity: high
#   remediation: Set `runAsUser` to a non-zero user id (for example 65532) or remove it.
deny contains finding if {
	some scope in scopes
	object.get(scope.security_context, "runAsUser", null) == 0
	finding := data.sealgate.lib.findings.finding(
		"SG-K8S-023",
		sprintf("%s sets runAsUser: 0 (root)", [scope.what]),
		array.concat(scope.path, ["runAsUser"]),
	)
}

# METADATA
# title: No seccomp profile
# description: >-
#   Every container must run with the RuntimeDefault or a Localhost seccomp profile, set on
#   the pod or on the container; Unconfined and an absent profile are both refused.
# custom:
#   id: SG-K8S-024
#   severity: medium
#   remediation: >-
#     Set `securityContext.seccompProfile.type: RuntimeDefault` on the pod.
deny contains finding if {
	linux
	some scope in scopes
	profile := object.get(scope.security_context, ["seccompProfile", "type"], null)
	profile != null
	not profile in allowed_seccomp
	finding := data.sealgate.lib.findings.finding(
		"SG-K8S-024",
		sprintf("%s sets seccomp profile %v instead of RuntimeDefault or Localhost", [scope.what, profile]),
		array.concat(scope.path, ["seccompProfile", "type"]),
	)
}

deny contains finding if {
	linux
	object.get(pod_security_context, ["seccompProfile", "type"], null) == null
	some c in containers
	object.get(c.container, ["securityContext", "seccompProfile", "type"], null) == null
	finding := data.sealgate.lib.findings.finding(
		"SG-K8S-024",
		sprintf("%s has no seccomp profile, neither its own nor the pod's", [data.sealgate.lib.kubernetes.describe(c)]),
		data.sealgate.lib.kubernetes.setting_path(c, ["seccompProfile", "type"]),
	)
}

# METADATA
# title: Capabilities not dropped
# description: >-
#   Every container must drop ALL capabilities and may add back only NET_BIND_SERVICE.
# custom:
#   id: SG-K8S-025
#   severity: medium
#   remediation: >-
#     Set `securityContext.capabilities.drop: [ALL]` and add back at most NET_BIND_SERVICE.
deny contains finding if {
	linux
	some c in containers
	dropped := object.get(c.container, ["securityContext", "capabilities", "drop"], [])
	not "ALL" in data.sealgate.lib.kubernetes.as_array(dropped)
	finding := data.sealgate.lib.findings.finding(
		"SG-K8S-025",
		sprintf("%s does not drop ALL capabilities", [data.sealgate.lib.kubernetes.describe(c)]),
		data.sealgate.lib.kubernetes.setting_path(c, ["capabilities", "drop"]),
	)
}

deny contains finding if {
	linux
	some c in containers
	added := object.get(c.container, ["securityContext", "capabilities", "add"], [])
	some k, capability in data.sealgate.lib.kubernetes.as_array(added)
	not capability in {cap | some cap in settings.restricted_capabilities}
	finding := data.sealgate.lib.findings.finding(
		"SG-K8S-025",
		sprintf(
			"%s adds capability %v; only NET_BIND_SERVICE may be added",
			[data.sealgate.lib.kubernetes.describe(c), capability],
		),
		array.concat(c.path, ["securityContext", "capabilities", "add", k]),
	)
}
