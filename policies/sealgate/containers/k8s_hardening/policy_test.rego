package sealgate.containers.k8s_hardening_test

import rego.v1

import data.sealgate.containers.k8s_hardening

digest := "sha256:4c1e7a9b2d5f8e0a3c6b9d2f5e8a1c4b7d0e3f6a9c2b5e8d1f4a7c0e3b6d9f2a"

pinned := sprintf("sealgate.azurecr.io/server@%s", [digest])

good := {
	"name": "server",
	"image": pinned,
	"livenessProbe": {"httpGet": {"path": "/healthz", "port": 8080}},
	"readinessProbe": {"httpGet": {"path": "/ready", "port": 8080}},
	"resources": {"limits": {"cpu": "1", "memory": "1Gi"}},
	"securityContext": {"readOnlyRootFilesystem": true},
}

init := object.remove(good, ["livenessProbe", "readinessProbe"])

deployment(pod_spec) := {
	"apiVersion": "apps/v1",
	"kind": "Deployment",
	"metadata": {"name": "app", "namespace": "apps"},
	"spec": {"template": {"metadata": {}, "spec": object.union({"automountServiceAccountToken": false}, pod_spec)}},
}

registries := ["sealgate.azurecr.io", "mcr.microsoft.com"]

ids(findings) := {f.id | some f in findings}

paths(findings, id) := {f.path | some f in findings; f.id == id}
base := ["spec", "template", "spec"]

test_hardened_deployment_passes if {
	count(k8s_hardening.deny) == 0 with input as deployment({"containers": [good], "initContainers": [init]})
		with data.config.registries.allowed as registries
}

test_non_workloads_pass if {
	subject := {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "c"}, "data": {}}
	count(k8s_hardening.deny) == 0 with input as subject
		with data.config.registries.allowed as registries
}

test_probes_required_on_regular_containers if {
	obj := deployment({"containers": [object.remove(good, ["livenessProbe"]), object.remove(good, ["readinessProbe"])]})
	paths(k8s_hardening.deny, "SG-K8S-012") == {array.concat(base, ["containers", 0])} with input as obj
		with data.config.registries.allowed as registries
	paths(k8s_hardening.deny, "SG-K8S-013") == {array.concat(base, ["containers", 1])} with input as obj
		with data.config.registries.allowed as registries
}

test_init_containers_need_no_probes if {
	count(k8s_hardening.deny) == 0 with input as deployment({"containers": [good], "initContainers": [init]})
		with data.config.registries.allowed as registries
}

test_run_to_completion_pods_need_no_probes if {
	cronjob := {"kind": "CronJob", "metadata": {"name": "c"}, "spec": {"jobTemplate": {"spec": {"template": {"spec": {
		"restartPolicy": "OnFailure",
		"automountServiceAccountToken": false,
		"containers": [init],
	}}}}}}
	count(k8s_hardening.deny) == 0 with input as cronjob
		with data.config.registries.allowed as registries
	subject := deployment({"restartPolicy": "Always", "containers": [init]})
	ids(k8s_hardening.deny) == {"SG-K8S-012", "SG-K8S-013"} with input as subject
		with data.config.registries.allowed as registries
}

test_read_only_root_file_system if {
	obj := deployment({
		"containers": [object.union(good, {"securityContext": {"readOnlyRootFilesystem": false}})],
		"initContainers": [object.remove(init, ["securityContext"])],
		"ephemeralContainers": [{"name": "debug", "image": pinned, "securityContext": {"privileged": false}}],
	})
	paths(k8s_hardening.deny, "SG-K8S-014") == {
		array.concat(base, ["containers", 0, "securityContext", "readOnlyRootFilesystem"]),
		array.concat(base, ["initContainers", 0]),
		array.concat(base, ["ephemeralContainers", 0, "securityContext"]),
	} with input as obj
		with data.config.registries.allowed as registries
}

test_limits_cpu_and_memory if {
	obj := deployment({
		"containers": [object.union(good, {"resources": {"limits": {"cpu": "1", "memory": null}}})],
		"initContainers": [object.remove(init, ["resources"])],
	})
	paths(k8s_hardening.deny, "SG-K8S-015") == {
		array.concat(base, ["containers", 0, "resources", "limits"]),
		array.concat(base, ["initContainers", 0]),
	} with input as obj
		with data.config.registries.allowed as registries
	count([f | some f in k8s_hardening.deny; f.id == "SG-K8S-015"]) == 3 with input as obj
		with data.config.registries.allowed as registries
}

test_ephemeral_containers_need_no_limits if {
	debug := object.remove(init, ["resources"])
	obj := deployment({"containers": [good], "ephemeralContainers": [debug]})
	count(k8s_hardening.deny) == 0 with input as obj
		with data.config.registries.allowed as registries
}

test_requests_are_not_limits if {
	obj := deployment({"containers": [object.union(
		good,
		{"resources": {"limits": null, "requests": {"cpu": "1", "memory": "1Gi"}}},
	)]})
	paths(k8s_hardening.deny, "SG-K8S-015") == {array.concat(base, ["containers", 0, "resources"])} with input as obj
		with data.config.registries.allowed as registries
}

test_image_must_be_pinned if {
	obj := deployment({"containers": [object.union(good, {"image": "sealgate.azurecr.io/server:1.0"})]})
	ids(k8s_hardening.deny) == {"SG-K8S-016"} with input as obj
		with data.config.registries.allowed as registries
	paths(k8s_hardening.deny, "SG-K8S-016") == {array.concat(base, ["containers", 0, "image"])} with input as obj
		with data.config.registries.allowed as registries
}

test_tag_and_digest_is_pinned if {
	obj := deployment({"containers": [object.union(
		good,
		{"image": sprintf("sealgate.azurecr.io/server:1.0@%s", [digest])},
	)]})
	count(k8s_hardening.deny) == 0 with input as obj
		with data.config.registries.allowed as registries
}

test_image_must_come_from_an_allowed_registry if {
	obj := deployment({
		"initContainers": [object.union(init, {"image": sprintf("ghcr.io/someone/tool@%s", [digest])})],
		"containers": [good],
	})
	ids(k8s_hardening.deny) == {"SG-K8S-017"} with input as obj
		with data.config.registries.allowed as registries
	paths(k8s_hardening.deny, "SG-K8S-017") == {array.concat(base, ["initContainers", 0, "image"])} with input as obj
		with data.config.registries.allowed as registries
	hub := deployment({"containers": [object.union(good, {"image": sprintf("python@%s", [digest])})]})
	ids(k8s_hardening.deny) == {"SG-K8S-017"} with input as hub
		with data.config.registries.allowed as registries
}

test_missing_image_is_denied_at_the_container if {
	obj := deployment({"containers": [object.remove(good, ["image"])]})
	ids(k8s_hardening.deny) == {"SG-K8S-016", "SG-K8S-017"} with input as obj
		with data.config.registries.allowed as registries
	paths(k8s_hardening.deny, "SG-K8S-016") == {array.concat(base, ["containers", 0])} with input as obj
		with data.config.registries.allowed as registries
	subject := deployment({"containers": [object.union(good, {"image": 42})]})
	ids(k8s_hardening.deny) == {"SG-K8S-016", "SG-K8S-017"} with input as subject
		with data.config.registries.allowed as registries
}

test_service_account_token if {
	obj := deployment({"automountServiceAccountToken": true, "containers": [good]})
	paths(k8s_hardening.deny, "SG-K8S-018") == {array.concat(base, ["automountServiceAccountToken"])} with input as obj
		with data.config.registries.allowed as registries
	unset := {"kind": "Pod", "metadata": {"name": "p"}, "spec": {"containers": [good]}}
	paths(k8s_hardening.deny, "SG-K8S-018") == {["spec"]} with input as unset
		with data.config.registries.allowed as registries
}

annotated_deployment(annotations) := {
	"kind": "Deployment",
	"metadata": {"name": "d"},
	"spec": {"template": {
		"metadata": {"annotations": annotations},
		"spec": {"automountServiceAccountToken": true, "containers": [good]},
	}},
}

test_service_account_token_annotation if {
	annotated := {
		"kind": "Pod",
		"metadata": {"name": "p", "annotations": {"sealgate.io/needs-service-account-token": "true"}},
		"spec": {"containers": [good]},
	}
	count(k8s_hardening.deny) == 0 with input as annotated
		with data.config.registries.allowed as registries
	count(k8s_hardening.deny) == 0 with input as annotated_deployment({"sealgate.io/needs-service-account-token": "true"})
		with data.config.registries.allowed as registries
	subject := annotated_deployment({"sealgate.io/needs-service-account-token": "yes"})
	ids(k8s_hardening.deny) == {"SG-K8S-018"} with input as subject
		with data.config.registries.allowed as registries
	ids(k8s_hardening.deny) == {"SG-K8S-018"} with input as annotated_deployment(null)
		with data.config.registries.allowed as registries
}
