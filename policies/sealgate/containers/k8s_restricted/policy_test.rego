package sealgate.containers.k8s_restricted_test

import rego.v1

import data.sealgate.containers.k8s_restricted

pod(pod_spec) := {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "app"}, "spec": pod_spec}

job(pod_spec) := {
	"apiVersion": "batch/v1",
	"kind": "Job",
	"metadata": {"name": "j"},
	"spec": {"template": {"spec": pod_spec}},
}

ids(findings) := {f.id | some f in findings}

paths(findings, id) := {f.path | some f in findings; f.id == id}
hardened_sc := {"allowPrivilegeEscalation": false, "capabilities": {"drop": ["ALL"]}}

hardened_pod_sc := {"runAsNonRoot": true, "seccompProfile": {"type": "RuntimeDefault"}}

container(name, sc) := {
	"name": name,
	"image": "sealgate.azurecr.io/app:1",
	"securityContext": object.union(hardened_sc, sc),
}

hardened(extra) := pod(object.union({"securityContext": hardened_pod_sc, "containers": [container("app", {})]}, extra))

test_hardened_pod_passes if {
	count(k8s_restricted.deny) == 0 with input as hardened({})
}

test_non_workloads_pass if {
	subject := {"apiVersion": "v1", "kind": "Service", "metadata": {"name": "s"}, "spec": {}}
	count(k8s_restricted.deny) == 0 with input as subject
}

test_allowed_volume_types_pass if {
	volumes := [
		{"name": "a", "configMap": {"name": "c"}},
		{"name": "b", "secret": {"secretName": "s"}},
		{"name": "c", "emptyDir": {"medium": "Memory"}},
		{"name": "d", "persistentVolumeClaim": {"claimName": "p"}},
		{"name": "e", "projected": {"sources": []}},
		{"name": "f", "csi": {"driver": "secrets-store.csi.k8s.io"}},
		{"name": "g", "ephemeral": {}},
		{"name": "h", "downwardAPI": {}},
		{"name": "i", "image": {"reference": "sealgate.azurecr.io/weights:1"}},
	]
	count(k8s_restricted.deny) == 0 with input as hardened({"volumes": volumes})
}

test_other_volume_types_are_denied if {
	obj := hardened({"volumes": [
		{"name": "ok", "emptyDir": {}},
		{"name": "host", "hostPath": {"path": "/"}},
		{"name": "repo", "gitRepo": {"repository": "r"}},
	]})
	got := paths(k8s_restricted.deny, "SG-K8S-020") with input as obj
	got == {["spec", "volumes", 1, "hostPath"], ["spec", "volumes", 2, "gitRepo"]}
}

test_privilege_escalation_must_be_false if {
	obj := hardened({
		"containers": [
			container("explicit", {"allowPrivilegeEscalation": true}),
			container("unset", {"allowPrivilegeEscalation": null}),
		],
		"ephemeralContainers": [{
			"name": "debug",
			"image": "busybox",
			"securityContext": {"capabilities": {"drop": ["ALL"]}},
		}],
	})
	paths(k8s_restricted.deny, "SG-K8S-021") == {
		["spec", "containers", 0, "securityContext", "allowPrivilegeEscalation"],
		["spec", "containers", 1, "securityContext"],
		["spec", "ephemeralContainers", 0, "securityContext"],
	} with input as obj
}

test_missing_security_context_points_at_the_container if {
	obj := hardened({"initContainers": [{"name": "init", "image": "i"}]})
	paths(k8s_restricted.deny, "SG-K8S-021") == {["spec", "initContainers", 0]} with input as obj
	paths(k8s_restricted.deny, "SG-K8S-025") == {["spec", "initContainers", 0]} with input as obj
}

test_run_as_non_root_on_the_pod_covers_containers if {
	count(k8s_restricted.deny) == 0 with input as hardened({"initContainers": [container("init", {})]})
}

test_run_as_non_root_on_every_container_suffices if {
	obj := pod({
		"securityContext": {"seccompProfile": {"type": "RuntimeDefault"}},
		"containers": [container("a", {"runAsNonRoot": true}), container("b", {"runAsNonRoot": true})],
	})
	count(k8s_restricted.deny) == 0 with input as obj
}

test_container_overriding_to_false_is_denied if {
	obj := hardened({"containers": [container("ok", {}), container("root", {"runAsNonRoot": false})]})
	got := paths(k8s_restricted.deny, "SG-K8S-022") with input as obj
	got == {["spec", "containers", 1, "securityContext", "runAsNonRoot"]}
}

test_container_without_pod_setting_is_denied if {
	obj := pod({
		"securityContext": {"seccompProfile": {"type": "RuntimeDefault"}},
		"containers": [container("a", {"runAsNonRoot": true}), container("b", {})],
	})
	paths(k8s_restricted.deny, "SG-K8S-022") == {["spec", "containers", 1, "securityContext"]} with input as obj
}

test_pod_false_is_denied_even_if_containers_are_true if {
	obj := pod({
		"securityContext": {"runAsNonRoot": false, "seccompProfile": {"type": "RuntimeDefault"}},
		"containers": [container("a", {"runAsNonRoot": true}), container("b", {})],
	})
	paths(k8s_restricted.deny, "SG-K8S-022") == {["spec", "securityContext", "runAsNonRoot"]} with input as obj
}

test_run_as_user_zero if {
	obj := hardened({
		"securityContext": object.union(hardened_pod_sc, {"runAsUser": 0}),
		"containers": [container("a", {"runAsUser": 1000}), container("b", {"runAsUser": 0})],
	})
	paths(k8s_restricted.deny, "SG-K8S-023") == {
		["spec", "securityContext", "runAsUser"],
		["spec", "containers", 1, "securityContext", "runAsUser"],
	} with input as obj
}

test_non_zero_user_overriding_pod_root_is_still_denied_at_the_pod if {
	obj := hardened({
		"securityContext": object.union(hardened_pod_sc, {"runAsUser": 0}),
		"containers": [container("a", {"runAsUser": 1000})],
	})
	ids(k8s_restricted.deny) == {"SG-K8S-023"} with input as obj
}

test_seccomp_on_the_pod_covers_containers if {
	count(k8s_restricted.deny) == 0 with input as hardened({"ephemeralContainers": [container("debug", {})]})
}

test_seccomp_on_each_container_suffices if {
	obj := pod({"securityContext": {"runAsNonRoot": true}, "containers": [
		container("a", {"seccompProfile": {"type": "RuntimeDefault"}}),
		container("b", {"seccompProfile": {"type": "Localhost", "localhostProfile": "profiles/b.json"}}),
	]})
	count(k8s_restricted.deny) == 0 with input as obj
}

test_seccomp_missing_on_a_container_without_pod_profile if {
	obj := pod({"securityContext": {"runAsNonRoot": true, "seccompProfile": {}}, "containers": [
		container("a", {"seccompProfile": {"type": "RuntimeDefault"}}),
		container("b", {}),
	]})
	paths(k8s_restricted.deny, "SG-K8S-024") == {["spec", "containers", 1, "securityContext"]} with input as obj
}

test_container_unconfined_overrides_pod_default if {
	obj := hardened({"containers": [container("a", {"seccompProfile": {"type": "Unconfined"}})]})
	got := paths(k8s_restricted.deny, "SG-K8S-024") with input as obj
	got == {["spec", "containers", 0, "securityContext", "seccompProfile", "type"]}
}

test_pod_unconfined_is_denied if {
	obj := pod({
		"securityContext": {"runAsNonRoot": true, "seccompProfile": {"type": "Unconfined"}},
		"containers": [container("a", {})],
	})
	paths(k8s_restricted.deny, "SG-K8S-024") == {["spec", "securityContext", "seccompProfile", "type"]} with input as obj
}

test_capabilities_must_drop_all if {
	obj := hardened({"containers": [
		container("some", {"capabilities": {"drop": ["NET_RAW"]}}),
		{
			"name": "none",
			"image": "i",
			"securityContext": {"allowPrivilegeEscalation": false, "capabilities": {"add": ["NET_BIND_SERVICE"]}},
		},
		container("null", {"capabilities": {"drop": null}}),
	]})
	paths(k8s_restricted.deny, "SG-K8S-025") == {
		["spec", "containers", 0, "securityContext", "capabilities", "drop"],
		["spec", "containers", 1, "securityContext", "capabilities"],
		["spec", "containers", 2, "securityContext", "capabilities"],
	} with input as obj
}

test_only_net_bind_service_may_be_added if {
	obj := hardened({"containers": [container(
		"a",
		{"capabilities": {"drop": ["ALL"], "add": ["NET_BIND_SERVICE", "CHOWN"]}},
	)]})
	got := paths(k8s_restricted.deny, "SG-K8S-025") with input as obj
	got == {["spec", "containers", 0, "securityContext", "capabilities", "add", 1]}
}

test_windows_pods_are_exempt_from_linux_controls if {
	obj := pod({
		"os": {"name": "windows"},
		"securityContext": {"runAsNonRoot": true},
		"containers": [{"name": "w", "image": "w"}],
	})
	count(k8s_restricted.deny) == 0 with input as obj
	linux := pod({
		"os": {"name": "linux"},
		"securityContext": {"runAsNonRoot": true},
		"containers": [{"name": "l", "image": "l"}],
	})
	ids(k8s_restricted.deny) == {"SG-K8S-021", "SG-K8S-024", "SG-K8S-025"} with input as linux
}

test_job_paths if {
	obj := job({"containers": [{"name": "j", "image": "j"}]})
	paths(k8s_restricted.deny, "SG-K8S-022") == {["spec", "template", "spec", "containers", 0]} with input as obj
}
