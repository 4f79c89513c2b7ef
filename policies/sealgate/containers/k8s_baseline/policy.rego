# METADATA
# title: Kubernetes Pod Security Standards, baseline
# description: >-
#   Every control of the baseline Pod Security Standard, on the pod spec of every workload
#   kind (Pod, Deployment, StatefulSet, DaemonSet, ReplicaSet, ReplicationController, Job,
#   CronJob) and on containers, init containers and ephemeral containers alike. Settings
#   are checked at the pod level and at the container level. Other objects yield nothing.
# entrypoint: true
# custom:
#   input: kubernetes
package sealgate.containers.k8s_baseline

import rego.v1

settings := data.config.containers.kubernetes

pod := data.sealgate.lib.kubernetes.pod(input)

containers := data.sealgate.lib.kubernetes.containers(pod)

scopes := data.sealgate.lib.kubernetes.security_scopes(pod)

allowed_apparmor_annotation("runtime/default") := true

allowed_apparmor_annotation(value) if {
	is_string(value)
	startswith(value, "localhost/")
}

# Where a container names a host for the kubelet to reach: its probes and lifecycle handlers.
host_handlers := [
	["livenessProbe"],
	["readinessProbe"],
	["startupProbe"],
	["lifecycle", "postStart"],
	["lifecycle", "preStop"],
]

# The container itself (Kubernetes allows these two loopback addresses since 1.34's control).
loopback_hosts := {"", "127.0.0.1", "::1"}

# METADATA
# title: Privileged container
# description: >-
#   A privileged container has every capability and every host device; it disables most
#   of the isolation between the container and the node.
# custom:
#   id: SG-K8S-001
#   severity: critical
#   remediation: Remove `securityContext.privileged` or set it to false.
deny contains finding if {
	some c in containers
	object.get(c.container, ["securityContext", "privileged"], false) == true
	finding := data.sealgate.lib.findings.finding(
		"SG-K8S-001",
		sprintf("%s runs privileged", [data.sealgate.lib.kubernetes.describe(c)]),
		array.concat(c.path, ["securityContext", "privileged"]),
	)
}

# METADATA
# title: Pod shares a host namespace
# description: >-
#   hostNetwork, hostPID and hostIPC give the pod the node's network stack, processes or
#   shared memory; none may be true.
# custom:
#   id: SG-K8S-002
#   severity: high
#   remediation: Remove hostNetwork, hostPID and hostIPC from the pod spec (or set them to false).
deny contains finding if {
	some field in ["hostNetwork", "hostPID", "hostIPC"]
	object.get(pod.spec, field, false) == true
	finding := data.sealgate.lib.findings.finding(
		"SG-K8S-002",
		sprintf("the pod sets %s: true", [field]),
		array.concat(pod.path, [field]),
	)
}

# METADATA
# title: Windows HostProcess container
# description: >-
#   A Windows HostProcess container runs directly on the node with host access; it may not
#   be requested at the pod or container level.
# custom:
#   id: SG-K8S-003
#   severity: critical
#   remediation: Remove `securityContext.windowsOptions.hostProcess` (or set it to false).
deny contains finding if {
	some scope in scopes
	object.get(scope.security_context, ["windowsOptions", "hostProcess"], false) == true
	finding := data.sealgate.lib.findings.finding(
		"SG-K8S-003",
		sprintf("%s requests a Windows HostProcess container", [scope.what]),
		array.concat(scope.path, ["windowsOptions", "hostProcess"]),
	)
}

# METADATA
# title: Capability beyond the baseline set
# description: >-
#   A container may add only the capabilities of the container runtime's default set
#   (AUDIT_WRITE, CHOWN, DAC_OVERRIDE, FOWNER, FSETID, KILL, MKNOD, NET_BIND_SERVICE,
#   SETFCAP, SETGID, SETPCAP, SETUID, SYS_CHROOT).
# custom:
#   id: SG-K8S-004
#   severity: high
#   remediation: Remove the capability from `securityContext.capabilities.add`.
deny contains finding if {
	some c in containers
	added := object.get(c.container, ["securityContext", "capabilities", "add"], [])
	some k, capability in data.sealgate.lib.kubernetes.as_array(added)
	not capability in {cap | some cap in settings.baseline_capabilities}
	finding := data.sealgate.lib.findings.finding(
		"SG-K8S-004",
		sprintf("%s adds capability %v", [data.sealgate.lib.kubernetes.describe(c), capability]),
		array.concat(c.path, ["securityContext", "capabilities", "add", k]),
	)
}

# METADATA
# title: hostPath volume
# description: A hostPath volume exposes the node's file system to the pod.
# custom:
#   id: SG-K8S-005
#   severity: high
#   remediation: >-
#     Use an emptyDir, a configMap, a secret or a persistentVolumeClaim instead of hostPath.
deny contains finding if {
	some j, volume in data.sealgate.lib.kubernetes.as_array(object.get(pod.spec, "volumes", []))
	is_object(volume)
	object.get(volume, "hostPath", null) != null
	finding := data.sealgate.lib.findings.finding(
		"SG-K8S-005",
		sprintf("volume %v mounts a host path", [object.get(volume, "name", j)]),
		array.concat(pod.path, ["volumes", j, "hostPath"]),
	)
}

# METADATA
# title: Host port
# description: A hostPort binds the container to a port of the node, bypassing network policy.
# custom:
#   id: SG-K8S-006
#   severity: medium
#   remediation: Remove `hostPort` and expose the container through a Service.
deny contains finding if {
	some c in containers
	some k, port in data.sealgate.lib.kubernetes.as_array(object.get(c.container, "ports", []))
	is_object(port)
	host_port := object.get(port, "hostPort", 0)
	not host_port in {0, null}
	finding := data.sealgate.lib.findings.finding(
		"SG-K8S-006",
		sprintf("%s binds host port %v", [data.sealgate.lib.kubernetes.describe(c), host_port]),
		array.concat(c.path, ["ports", k, "hostPort"]),
	)
}

# METADATA
# title: AppArmor profile overridden
# description: >-
#   The AppArmor profile may only be the runtime default or a profile loaded on the node
#   (RuntimeDefault or Localhost; in the annotation form runtime/default or localhost/*),
#   never Unconfined.
# custom:
#   id: SG-K8S-007
#   severity: high
#   remediation: Set `appArmorProfile.type` to RuntimeDefault (or Localhost), or remove it.
deny contains finding if {
	some scope in scopes
	profile := object.get(scope.security_context, ["appArmorProfile", "type"], null)
	profile != null
	not profile in {"RuntimeDefault", "Localhost"}
	finding := data.sealgate.lib.findings.finding(
		"SG-K8S-007",
		sprintf("%s sets AppArmor profile %v", [scope.what, profile]),
		array.concat(scope.path, ["appArmorProfile", "type"]),
	)
}

deny contains finding if {
	some key, value in data.sealgate.lib.kubernetes.as_object(object.get(pod.metadata, "annotations", {}))
	is_string(key)
	startswith(key, "container.apparmor.security.beta.kubernetes.io/")
	not allowed_apparmor_annotation(value)
	finding := data.sealgate.lib.findings.finding(
		"SG-K8S-007",
		sprintf("annotation %s sets AppArmor profile %v", [key, value]),
		array.concat(pod.metadata_path, ["annotations", key]),
	)
}

# METADATA
# title: Custom SELinux options
# description: >-
#   The SELinux type may only be one of the container types (container_t, container_init_t,
#   container_kvm_t, container_engine_t); a custom SELinux user or role may not be set.
# custom:
#   id: SG-K8S-008
#   severity: high
#   remediation: Remove `seLinuxOptions` or keep only an allowed `type` (and `level`).
deny contains finding if {
	some scope in scopes
	selinux_type := object.get(scope.security_context, ["seLinuxOptions", "type"], "")
	not selinux_type in {"", null}
	not selinux_type in {t | some t in settings.selinux_types}
	finding := data.sealgate.lib.findings.finding(
		"SG-K8S-008",
		sprintf("%s sets SELinux type %v", [scope.what, selinux_type]),
		array.concat(scope.path, ["seLinuxOptions", "type"]),
	)
}

deny contains finding if {
	some scope in scopes
	some field in ["user", "role"]
	value := object.get(scope.security_context, ["seLinuxOptions", field], "")
	not value in {"", null}
	finding := data.sealgate.lib.findings.finding(
		"SG-K8S-008",
		sprintf("%s sets SELinux %s %v", [scope.what, field, value]),
		array.concat(scope.path, ["seLinuxOptions", field]),
	)
}

# METADATA
# title: Unmasked /proc
# description: The /proc mount type must be Default, which masks and read-protects parts of /proc.
# custom:
#   id: SG-K8S-009
#   severity: high
#   remediation: Remove `securityContext.procMount` or set it to Default.
deny contains finding if {
	some c in containers
	proc_mount := object.get(c.container, ["securityContext", "procMount"], null)
	not proc_mount in {null, "Default"}
	finding := data.sealgate.lib.findings.finding(
		"SG-K8S-009",
		sprintf("%s sets procMount %v", [data.sealgate.lib.kubernetes.describe(c), proc_mount]),
		array.concat(c.path, ["securityContext", "procMount"]),
	)
}

# METADATA
# title: Seccomp disabled
# description: The seccomp profile may not be Unconfined (only RuntimeDefault or Localhost).
# custom:
#   id: SG-K8S-010
#   severity: high
#   remediation: Set `seccompProfile.type` to RuntimeDefault (or Localhost).
deny contains finding if {
	some scope in scopes
	profile := object.get(scope.security_context, ["seccompProfile", "type"], null)
	profile != null
	not profile in {"RuntimeDefault", "Localhost"}
	finding := data.sealgate.lib.findings.finding(
		"SG-K8S-010",
		sprintf("%s sets seccomp profile %v", [scope.what, profile]),
		array.concat(scope.path, ["seccompProfile", "type"]),
	)
}

# METADATA
# title: Unsafe sysctl
# description: >-
#   Only the safe sysctls (namespaced and isolated from the other pods of the node) may be
#   set: kernel.shm_rmid_forced, net.ipv4.ip_local_port_range,
#   net.ipv4.ip_unprivileged_port_start, net.ipv4.tcp_syncookies, net.ipv4.ping_group_range,
#   net.ipv4.ip_local_reserved_ports, net.ipv4.tcp_keepalive_time, net.ipv4.tcp_fin_timeout,
#   net.ipv4.tcp_keepalive_intvl and net.ipv4.tcp_keepalive_probes.
# custom:
#   id: SG-K8S-011
#   severity: medium
#   remediation: Remove the sysctl from `securityContext.sysctls`.
deny contains finding if {
	sysctls := object.get(pod.spec, ["securityContext", "sysctls"], [])
	some k, sysctl in data.sealgate.lib.kubernetes.as_array(sysctls)
	is_object(sysctl)
	name := object.get(sysctl, "name", null)
	not name in {s | some s in settings.safe_sysctls}
	finding := data.sealgate.lib.findings.finding(
		"SG-K8S-011",
		sprintf("the pod sets unsafe sysctl %v", [name]),
		array.concat(pod.path, ["securityContext", "sysctls", k, "name"]),
	)
}

# METADATA
# title: Probe or lifecycle handler names a host
# description: >-
#   The baseline Pod Security Standard (Kubernetes 1.34 and later) forbids `host` in the
#   httpGet and tcpSocket actions of probes (liveness, readiness, startup) and lifecycle
#   handlers (postStart, preStop): the kubelet connects to that host from the node, so a pod
#   can make the node reach node-local and internal endpoints that network policy does not
#   cover. Only 127.0.0.1 and ::1 are allowed.
# custom:
#   id: SG-K8S-019
#   severity: high
#   remediation: >-
#     Remove `host` (the kubelet then probes the pod's own IP) or set it to 127.0.0.1 or ::1.
deny contains finding if {
	some c in containers
	some handler_path in host_handlers
	handler := object.get(c.container, handler_path, null)
	is_object(handler)
	some action in ["httpGet", "tcpSocket"]
	host := object.get(handler, [action, "host"], null)
	host != null
	not host in loopback_hosts
	field := concat(".", array.concat(handler_path, [action, "host"]))
	finding := data.sealgate.lib.findings.finding(
		"SG-K8S-019",
		sprintf(
			"%s sets %s %v; only 127.0.0.1 and ::1 are allowed",
			[data.sealgate.lib.kubernetes.describe(c), field, host],
		),
		array.concat(array.concat(c.path, handler_path), [action, "host"]),
	)
}
