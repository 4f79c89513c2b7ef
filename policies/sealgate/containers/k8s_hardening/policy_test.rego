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

findings(obj) := result if {
	result := k8s_hardening.deny with input as obj
		with data.config.registries.allowed as ["sealgate.azurecr.io", "mcr.microsoft.com"]
}

ids(obj) := {f.id | some f in findings(obj)}

paths(obj, id) := {f.path | some f in findings(obj); f.id == id}

base := ["spec", "template", "spec"]

test_hardened_deployment_passes if {
	count(findings(deployment({"containers": [good], "initContainers": [init]}))) == 0
}

test_non_workloads_pass if {
	count(findings({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "c"}, "data": {}})) == 0
}

test_probes_required_on_regular_containers if {
	obj := deployment({"containers": [object.remove(good, ["livenessProbe"]), object.remove(good, ["readinessProbe"])]})
	paths(obj, "SG-K8S-012") == {array.concat(base, ["containers", 0])}
	paths(obj, "SG-K8S-013") == {array.concat(base, ["containers", 1])}
}

test_init_containers_need_no_probes if {
	count(findings(deployment({"containers": [good], "initContainers": [init]}))) == 0
}

test_run_to_completion_pods_need_no_probes if {
	cronjob := {"kind": "CronJob", "metadata": {"name": "c"}, "spec": {"jobTemplate": {"spec": {"template": {"spec": {
		"restartPolicy": "OnFailure",
		"automountServiceAccountToken": false,
		"containers": [init],
	}}}}}}
	count(findings(cronjob)) == 0
	ids(deployment({"restartPolicy": "Always", "containers": [init]})) == {"SG-K8S-012", "SG-K8S-013"}
}

test_read_only_root_file_system if {
	obj := deployment({
		"containers": [object.union(good, {"securityContext": {"readOnlyRootFilesystem": false}})],
		"initContainers": [object.remove(init, ["securityContext"])],
		"ephemeralContainers": [{"name": "debug", "image": pinned, "securityContext": {"privileged": false}}],
	})
	paths(obj, "SG-K8S-014") == {
		array.concat(base, ["containers", 0, "securityContext", "readOnlyRootFilesystem"]),
		array.concat(base, ["initContainers", 0]),
		array.concat(base, ["ephemeralContainers", 0, "securityContext"]),
	}
}

test_limits_cpu_and_memory if {
	obj := deployment({
		"containers": [object.union(good, {"resources": {"limits": {"cpu": "1", "memory": null}}})],
		"initContainers": [object.remove(init, ["resources"])],
	})
	paths(obj, "SG-K8S-015") == {
		array.concat(base, ["containers", 0, "resources", "limits"]),
		array.concat(base, ["initContainers", 0]),
	}
	count([f | some f in findings(obj); f.id == "SG-K8S-015"]) == 3
}

test_ephemeral_containers_need_no_limits if {
	debug := object.remove(init, ["resources"])
	obj := deployment({"containers": [good], "ephemeralContainers": [debug]})
	count(findings(obj)) == 0
}

test_requests_are_not_limits if {
	obj := deployment({"containers": [object.union(
		good,
		{"resources": {"limits": null, "requests": {"cpu": "1", "memory": "1Gi"}}},
	)]})
	paths(obj, "SG-K8S-015") == {array.concat(base, ["containers", 0, "resources"])}
}

test_image_must_be_pinned if {
	obj := deployment({"containers": [object.union(good, {"image": "sealgate.azurecr.io/server:1.0"})]})
	ids(obj) == {"SG-K8S-016"}
	paths(obj, "SG-K8S-016") == {array.concat(base, ["containers", 0, "image"])}
}

test_tag_and_digest_is_pinned if {
	obj := deployment({"containers": [object.union(
		good,
		{"image": sprintf("sealgate.azurecr.io/server:1.0@%s", [digest])},
	)]})
	count(findings(obj)) == 0
}

test_image_must_come_from_an_allowed_registry if {
	obj := deployment({
		"initContainers": [object.union(init, {"image": sprintf("ghcr.io/someone/tool@%s", [digest])})],
		"containers": [good],
	})
	ids(obj) == {"SG-K8S-017"}
	paths(obj, "SG-K8S-017") == {array.concat(base, ["initContainers", 0, "image"])}
	hub := deployment({"containers": [object.union(good, {"image": sprintf("python@%s", [digest])})]})
	ids(hub) == {"SG-K8S-017"}
}

test_missing_image_is_denied_at_the_container if {
	obj := deployment({"containers": [object.remove(good, ["image"])]})
	ids(obj) == {"SG-K8S-016", "SG-K8S-017"}
	paths(obj, "SG-K8S-016") == {array.concat(base, ["containers", 0])}
	ids(deployment({"containers": [object.union(good, {"image": 42})]})) == {"SG-K8S-016", "SG-K8S-017"}
}

test_service_account_token if {
	obj := deployment({"automountServiceAccountToken": true, "containers": [good]})
	paths(obj, "SG-K8S-018") == {array.concat(base, ["automountServiceAccountToken"])}
	unset := {"kind": "Pod", "metadata": {"name": "p"}, "spec": {"containers": [good]}}
	paths(unset, "SG-K8S-018") == {["spec"]}
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
	count(findings(annotated)) == 0
	count(findings(annotated_deployment({"sealgate.io/needs-service-account-token": "true"}))) == 0
	ids(annotated_deployment({"sealgate.io/needs-service-account-token": "yes"})) == {"SG-K8S-018"}
	ids(annotated_deployment(null)) == {"SG-K8S-018"}
}
