package sealgate.containers.k8s_baseline_test

import rego.v1

import data.sealgate.containers.k8s_baseline

deployment(pod_spec) := {
	"apiVersion": "apps/v1",
	"kind": "Deployment",
	"metadata": {"name": "app", "namespace": "apps"},
	"spec": {"template": {"metadata": {"labels": {"app": "app"}}, "spec": pod_spec}},
}

pod(pod_spec) := {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "app"}, "spec": pod_spec}

ids(findings) := {f.id | some f in findings}

paths(findings, id) := {f.path | some f in findings; f.id == id}
app := {"name": "app", "image": "sealgate.azurecr.io/app:1"}

with_sc(container, sc) := object.union(container, {"securityContext": sc})

test_plain_workload_passes if {
	count(k8s_baseline.deny) == 0 with input as deployment({"containers": [app]})
	count(k8s_baseline.deny) == 0 with input as pod({"containers": [app]})
}

test_non_workloads_pass if {
	service := {
		"apiVersion": "v1",
		"kind": "Service",
		"metadata": {"name": "s"},
		"spec": {"ports": [{"port": 80}]},
	}
	count(k8s_baseline.deny) == 0 with input as service
	config_map := {
		"apiVersion": "v1",
		"kind": "ConfigMap",
		"metadata": {"name": "c"},
		"data": {"hostNetwork": "true"},
	}
	count(k8s_baseline.deny) == 0 with input as config_map
}

test_privileged_in_every_container_type if {
	spec := {
		"containers": [app, with_sc(app, {"privileged": true})],
		"initContainers": [with_sc(app, {"privileged": true})],
		"ephemeralContainers": [with_sc(app, {"privileged": true})],
	}
	paths(k8s_baseline.deny, "SG-K8S-001") == {
		["spec", "template", "spec", "containers", 1, "securityContext", "privileged"],
		["spec", "template", "spec", "initContainers", 0, "securityContext", "privileged"],
		["spec", "template", "spec", "ephemeralContainers", 0, "securityContext", "privileged"],
	} with input as deployment(spec)
}

test_privileged_false_passes if {
	count(k8s_baseline.deny) == 0 with input as pod({"containers": [with_sc(app, {"privileged": false})]})
}

test_host_namespaces if {
	obj := pod({"hostNetwork": true, "hostPID": true, "hostIPC": true, "containers": [app]})
	got := paths(k8s_baseline.deny, "SG-K8S-002") with input as obj
	got == {["spec", "hostNetwork"], ["spec", "hostPID"], ["spec", "hostIPC"]}
	count(k8s_baseline.deny) == 0 with input as pod({"hostNetwork": false, "hostIPC": null, "containers": [app]})
}

test_host_namespaces_in_a_cronjob if {
	obj := {
		"kind": "CronJob",
		"metadata": {"name": "c"},
		"spec": {"jobTemplate": {"spec": {"template": {"spec": {"hostPID": true, "containers": [app]}}}}},
	}
	got := paths(k8s_baseline.deny, "SG-K8S-002") with input as obj
	got == {["spec", "jobTemplate", "spec", "template", "spec", "hostPID"]}
}

test_host_process_pod_and_container if {
	obj := pod({
		"securityContext": {"windowsOptions": {"hostProcess": true}},
		"containers": [
			with_sc(app, {"windowsOptions": {"hostProcess": true}}),
			with_sc(app, {"windowsOptions": {"hostProcess": false}}),
		],
	})
	paths(k8s_baseline.deny, "SG-K8S-003") == {
		["spec", "securityContext", "windowsOptions", "hostProcess"],
		["spec", "containers", 0, "securityContext", "windowsOptions", "hostProcess"],
	} with input as obj
}

test_capabilities_beyond_baseline if {
	obj := pod({"containers": [with_sc(
		app,
		{"capabilities": {"add": ["CHOWN", "SYS_ADMIN", "NET_BIND_SERVICE"], "drop": ["ALL"]}},
	)]})
	got := paths(k8s_baseline.deny, "SG-K8S-004") with input as obj
	got == {["spec", "containers", 0, "securityContext", "capabilities", "add", 1]}
}

test_baseline_capabilities_pass if {
	obj := pod({"containers": [with_sc(app, {"capabilities": {"add": ["AUDIT_WRITE", "KILL", "SYS_CHROOT"]}})]})
	count(k8s_baseline.deny) == 0 with input as obj
	count(k8s_baseline.deny) == 0 with input as pod({"containers": [with_sc(app, {"capabilities": {"add": null}})]})
}

test_capability_prefix_is_not_the_same_capability if {
	obj := pod({"containers": [with_sc(app, {"capabilities": {"add": ["CAP_CHOWN"]}})]})
	ids(k8s_baseline.deny) == {"SG-K8S-004"} with input as obj
}

test_host_path_volume if {
	obj := deployment({
		"containers": [app],
		"volumes": [{"name": "cache", "emptyDir": {}}, {"name": "docker", "hostPath": {"path": "/var/run/docker.sock"}}],
	})
	paths(k8s_baseline.deny, "SG-K8S-005") == {["spec", "template", "spec", "volumes", 1, "hostPath"]} with input as obj
}

test_host_ports if {
	obj := pod({"containers": [object.union(
		app,
		{"ports": [{"containerPort": 8080}, {"containerPort": 9090, "hostPort": 9090}, {"containerPort": 80, "hostPort": 0}]},
	)]})
	paths(k8s_baseline.deny, "SG-K8S-006") == {["spec", "containers", 0, "ports", 1, "hostPort"]} with input as obj
}

test_apparmor_fields if {
	obj := pod({
		"securityContext": {"appArmorProfile": {"type": "Unconfined"}},
		"containers": [
			with_sc(app, {"appArmorProfile": {"type": "RuntimeDefault"}}),
			with_sc(app, {"appArmorProfile": {"type": "Unconfined"}}),
		],
	})
	paths(k8s_baseline.deny, "SG-K8S-007") == {
		["spec", "securityContext", "appArmorProfile", "type"],
		["spec", "containers", 1, "securityContext", "appArmorProfile", "type"],
	} with input as obj
}

test_apparmor_annotations_on_the_pod_template if {
	annotations := {
		"container.apparmor.security.beta.kubernetes.io/a": "runtime/default",
		"container.apparmor.security.beta.kubernetes.io/b": "localhost/k8s-profile",
		"container.apparmor.security.beta.kubernetes.io/c": "unconfined",
		"example.com/other": "unconfined",
	}
	obj := {
		"kind": "Deployment",
		"metadata": {"name": "d"},
		"spec": {"template": {"metadata": {"annotations": annotations}, "spec": {"containers": [app]}}},
	}
	paths(k8s_baseline.deny, "SG-K8S-007") == {[
		"spec",
		"template",
		"metadata",
		"annotations",
		"container.apparmor.security.beta.kubernetes.io/c",
	]} with input as obj
}

test_selinux_type_user_role if {
	obj := pod({
		"securityContext": {"seLinuxOptions": {"type": "container_init_t", "user": "system_u"}},
		"containers": [
			with_sc(app, {"seLinuxOptions": {"type": "spc_t", "level": "s0:c1,c2"}}),
			with_sc(app, {"seLinuxOptions": {"role": "sysadm_r", "type": ""}}),
		],
	})
	paths(k8s_baseline.deny, "SG-K8S-008") == {
		["spec", "securityContext", "seLinuxOptions", "user"],
		["spec", "containers", 0, "securityContext", "seLinuxOptions", "type"],
		["spec", "containers", 1, "securityContext", "seLinuxOptions", "role"],
	} with input as obj
}

test_selinux_allowed_types_and_level_pass if {
	obj := pod({"containers": [
		with_sc(app, {"seLinuxOptions": {"type": "container_t", "level": "s0:c1,c2"}}),
		with_sc(app, {"seLinuxOptions": {"type": "container_kvm_t", "user": "", "role": null}}),
		with_sc(app, {"seLinuxOptions": {"type": "container_engine_t"}}),
	]})
	count(k8s_baseline.deny) == 0 with input as obj
}

test_proc_mount if {
	obj := pod({"containers": [with_sc(app, {"procMount": "Default"}), with_sc(app, {"procMount": "Unmasked"})]})
	paths(k8s_baseline.deny, "SG-K8S-009") == {["spec", "containers", 1, "securityContext", "procMount"]} with input as obj
}

test_seccomp_unconfined_pod_and_container if {
	obj := pod({
		"securityContext": {"seccompProfile": {"type": "Unconfined"}},
		"initContainers": [with_sc(app, {"seccompProfile": {"type": "Unconfined"}})],
		"containers": [with_sc(app, {"seccompProfile": {"type": "Localhost", "localhostProfile": "p.json"}})],
	})
	paths(k8s_baseline.deny, "SG-K8S-010") == {
		["spec", "securityContext", "seccompProfile", "type"],
		["spec", "initContainers", 0, "securityContext", "seccompProfile", "type"],
	} with input as obj
}

test_missing_seccomp_is_baseline if {
	count(k8s_baseline.deny) == 0 with input as pod({"securityContext": {"seccompProfile": null}, "containers": [app]})
}

test_unsafe_sysctls if {
	obj := pod({
		"securityContext": {"sysctls": [
			{"name": "net.ipv4.tcp_keepalive_time", "value": "600"},
			{"name": "kernel.msgmax", "value": "65536"},
		]},
		"containers": [app],
	})
	paths(k8s_baseline.deny, "SG-K8S-011") == {["spec", "securityContext", "sysctls", 1, "name"]} with input as obj
}

test_malformed_fields_do_not_fail if {
	obj := pod({
		"securityContext": {"sysctls": "kernel.msgmax", "seLinuxOptions": null},
		"containers": [
			{"name": "a", "securityContext": null, "ports": [8080, {"hostPort": null}]},
			"not a container",
		],
		"volumes": ["junk", {"name": "v", "hostPath": null}],
	})
	count(k8s_baseline.deny) == 0 with input as obj
}

test_findings_are_well_formed if {
	obj := deployment({"hostIPC": true, "containers": [with_sc(app, {"privileged": true})]})
	findings := k8s_baseline.deny with input as obj
	count(findings) == 2
	every f in findings {
		is_string(f.msg)
		object.keys(f) == {"id", "msg", "path"}
		f.path[0] == "spec"
	}
}

with_handler([probe], handler) := object.union(app, {probe: handler})

with_handler(["lifecycle", hook], handler) := object.union(app, {"lifecycle": {hook: handler}})

test_probe_and_lifecycle_hosts if {
	every handler_path in k8s_baseline.host_handlers {
		every action in ["httpGet", "tcpSocket"] {
			container := with_handler(handler_path, {action: {"host": "bad.host", "port": 80}})
			expected := array.concat(
				array.concat(["spec", "template", "spec", "containers", 0], handler_path),
				[action, "host"],
			)
			paths(k8s_baseline.deny, "SG-K8S-019") == {expected} with input as deployment({"containers": [container]})
		}
	}
}

test_probe_hosts_in_init_containers_and_messages if {
	readiness := {"readinessProbe": {"tcpSocket": {"host": "8.8.8.8", "port": 80}}}
	init := object.union(object.union(app, {"name": "init"}), readiness)
	findings := k8s_baseline.deny with input as pod({"containers": [app], "initContainers": [init]})
	[found] := [f | some f in findings; f.id == "SG-K8S-019"]
	found.path == ["spec", "initContainers", 0, "readinessProbe", "tcpSocket", "host"]
	found.msg == "init container init sets readinessProbe.tcpSocket.host 8.8.8.8; only 127.0.0.1 and ::1 are allowed"
}

test_loopback_and_absent_probe_hosts_pass if {
	every host in ["127.0.0.1", "::1", "", null] {
		probe := {"livenessProbe": {"httpGet": {"host": host, "path": "/", "port": 80}}}
		count(k8s_baseline.deny) == 0 with input as pod({"containers": [object.union(app, probe)]})
	}
	plain := {
		"livenessProbe": {"httpGet": {"path": "/", "port": 80}},
		"lifecycle": {"preStop": {"exec": {"command": ["sleep", "5"]}}},
	}
	count(k8s_baseline.deny) == 0 with input as pod({"containers": [object.union(app, plain)]})
}

test_malformed_probes_do_not_fail if {
	odd := {"livenessProbe": "yes", "lifecycle": ["postStart"], "readinessProbe": {"httpGet": "x"}}
	count(k8s_baseline.deny) == 0 with input as pod({"containers": [object.union(app, odd)]})
}
