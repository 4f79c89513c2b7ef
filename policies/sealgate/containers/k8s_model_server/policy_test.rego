package sealgate.containers.k8s_model_server_test

import rego.v1

import data.sealgate.containers.k8s_model_server

ids(findings) := {f.id | some f in findings}

paths(findings, id) := {f.path | some f in findings; f.id == id}
server(mounts) := {"name": "server", "image": "sealgate.azurecr.io/server:1", "volumeMounts": mounts}

memory := {"name": "models", "emptyDir": {"medium": "Memory", "sizeLimit": "4Gi"}}

models_mount := {"name": "models", "mountPath": "/models", "readOnly": true}

model_server(pod_spec) := {
	"apiVersion": "apps/v1",
	"kind": "Deployment",
	"metadata": {"name": "scorer", "labels": {"sealgate.io/role": "model-server"}},
	"spec": {"template": {"metadata": {}, "spec": object.union({"runtimeClassName": "kata-vm-isolation"}, pod_spec)}},
}

base := ["spec", "template", "spec"]

test_sandboxed_model_server_in_memory_passes if {
	subject := model_server({"containers": [server([models_mount])], "volumes": [memory]})
	count(k8s_model_server.deny) == 0 with input as subject
}

test_other_workloads_are_not_model_servers if {
	obj := {
		"kind": "Deployment",
		"metadata": {"name": "web", "labels": {"sealgate.io/role": "frontend"}},
		"spec": {"template": {"spec": {"containers": [server([])]}}},
	}
	count(k8s_model_server.deny) == 0 with input as obj
	service := {
		"kind": "Service",
		"metadata": {"name": "s", "labels": {"sealgate.io/role": "model-server"}},
		"spec": {},
	}
	count(k8s_model_server.deny) == 0 with input as service
}

test_runtime_class_required if {
	obj := model_server({"runtimeClassName": "runc", "containers": [server([models_mount])], "volumes": [memory]})
	paths(k8s_model_server.deny, "SG-K8S-030") == {array.concat(base, ["runtimeClassName"])} with input as obj
	unset := {
		"kind": "Pod",
		"metadata": {"name": "p", "labels": {"sealgate.io/role": "model-server"}},
		"spec": {"containers": [server([models_mount])], "volumes": [memory]},
	}
	paths(k8s_model_server.deny, "SG-K8S-030") == {["spec"]} with input as unset
}

test_label_on_the_pod_template_counts if {
	obj := {"kind": "Deployment", "metadata": {"name": "d"}, "spec": {"template": {
		"metadata": {"labels": {"sealgate.io/role": "model-server"}},
		"spec": {"containers": [server([models_mount])], "volumes": [memory]},
	}}}
	ids(k8s_model_server.deny) == {"SG-K8S-030"} with input as obj
}

test_model_dir_on_disk if {
	obj := model_server({"containers": [server([models_mount])], "volumes": [{"name": "models", "emptyDir": {}}]})
	paths(k8s_model_server.deny, "SG-K8S-031") == {array.concat(base, ["volumes", 0, "emptyDir"])} with input as obj
	pvc := model_server({
		"containers": [server([models_mount])],
		"volumes": [{"name": "models", "persistentVolumeClaim": {"claimName": "c"}}],
	})
	paths(k8s_model_server.deny, "SG-K8S-031") == {array.concat(base, ["volumes", 0])} with input as pvc
	medium := model_server({
		"containers": [server([models_mount])],
		"volumes": [{"name": "models", "emptyDir": {"medium": ""}}],
	})
	got := paths(k8s_model_server.deny, "SG-K8S-031") with input as medium
	got == {array.concat(base, ["volumes", 0, "emptyDir", "medium"])}
}

test_model_dir_not_mounted if {
	obj := model_server({"containers": [server([{"name": "tmp", "mountPath": "/tmp"}])], "volumes": [memory]})
	paths(k8s_model_server.deny, "SG-K8S-031") == {array.concat(base, ["containers"])} with input as obj
	bare := {
		"kind": "Pod",
		"metadata": {"name": "p", "labels": {"sealgate.io/role": "model-server"}},
		"spec": {"runtimeClassName": "kata-vm-isolation"},
	}
	paths(k8s_model_server.deny, "SG-K8S-031") == {["spec"]} with input as bare
}

test_mount_of_an_undefined_volume if {
	obj := model_server({"containers": [server([{"name": "weights", "mountPath": "/models"}])], "volumes": [memory]})
	got := paths(k8s_model_server.deny, "SG-K8S-031") with input as obj
	got == {array.concat(base, ["containers", 0, "volumeMounts", 0])}
}

test_every_mount_of_the_model_dir_is_checked if {
	unseal := {"name": "unseal", "image": "i", "volumeMounts": [{"name": "staging", "mountPath": "/models/"}]}
	obj := model_server({
		"initContainers": [unseal],
		"containers": [server([models_mount])],
		"volumes": [memory, {"name": "staging", "emptyDir": {}}],
	})
	paths(k8s_model_server.deny, "SG-K8S-031") == {array.concat(base, ["volumes", 1, "emptyDir"])} with input as obj
}

test_model_dir_from_the_annotation if {
	spec := {"containers": [server([{"name": "weights", "mountPath": "/srv/weights"}, models_mount])], "volumes": [
		{"name": "weights", "persistentVolumeClaim": {"claimName": "w"}},
		memory,
	]}
	plain := model_server(spec)
	count(k8s_model_server.deny) == 0 with input as plain
	annotated := object.union(plain, {"metadata": {"annotations": {"sealgate.io/model-dir": "/srv/weights/"}}})
	paths(k8s_model_server.deny, "SG-K8S-031") == {array.concat(base, ["volumes", 0])} with input as annotated
}

test_blank_annotation_falls_back_to_the_default if {
	obj := object.union(
		model_server({"containers": [server([models_mount])], "volumes": [memory]}),
		{"metadata": {"annotations": {"sealgate.io/model-dir": ""}}},
	)
	count(k8s_model_server.deny) == 0 with input as obj
}

test_root_model_dir if {
	obj := object.union(
		model_server({"containers": [server([{"name": "models", "mountPath": "/"}])], "volumes": [memory]}),
		{"metadata": {"annotations": {"sealgate.io/model-dir": "/"}}},
	)
	count(k8s_model_server.deny) == 0 with input as obj
}

test_malformed_mounts_are_ignored if {
	obj := model_server({
		"containers": [server(["junk", {"name": "models", "mountPath": 7}, models_mount])],
		"volumes": ["junk", memory],
	})
	count(k8s_model_server.deny) == 0 with input as obj
}

test_only_kata_is_accepted_by_default if {
	kata := model_server({"containers": [server([models_mount])], "volumes": [memory]})
	count(k8s_model_server.deny) == 0 with input as kata
	gvisor := model_server({"runtimeClassName": "gvisor", "containers": [server([models_mount])], "volumes": [memory]})
	ids(k8s_model_server.deny) == {"SG-K8S-030"} with input as gvisor
}

test_gvisor_is_accepted_where_the_data_lists_it if {
	gvisor := model_server({"runtimeClassName": "gvisor", "containers": [server([models_mount])], "volumes": [memory]})
	count(k8s_model_server.deny) == 0 with input as gvisor
		with data.config.containers.kubernetes.model_server_runtime_classes as ["kata-vm-isolation", "gvisor"]
	kata := model_server({"containers": [server([models_mount])], "volumes": [memory]})
	count(k8s_model_server.deny) == 0 with input as kata
		with data.config.containers.kubernetes.model_server_runtime_classes as ["kata-vm-isolation", "gvisor"]
}

test_a_class_outside_the_configured_set_is_denied if {
	kata := model_server({"containers": [server([models_mount])], "volumes": [memory]})
	got := paths(k8s_model_server.deny, "SG-K8S-030") with input as kata
		with data.config.containers.kubernetes.model_server_runtime_classes as ["gvisor"]
	got == {array.concat(base, ["runtimeClassName"])}
	runc := model_server({"runtimeClassName": "runc", "containers": [server([models_mount])], "volumes": [memory]})
	ids(k8s_model_server.deny) == {"SG-K8S-030"} with input as runc
		with data.config.containers.kubernetes.model_server_runtime_classes as ["kata-vm-isolation", "gvisor"]
}

test_malformed_runtime_class_data_accepts_nothing if {
	kata := model_server({"containers": [server([models_mount])], "volumes": [memory]})
	ids(k8s_model_server.deny) == {"SG-K8S-030"} with input as kata
		with data.config.containers.kubernetes.model_server_runtime_classes as "kata-vm-isolation"
	nothing := model_server({"runtimeClassName": null, "containers": [server([models_mount])], "volumes": [memory]})
	ids(k8s_model_server.deny) == {"SG-K8S-030"} with input as nothing
		with data.config.containers.kubernetes.model_server_runtime_classes as [null, 7]
}

test_the_message_names_the_accepted_classes if {
	runc := model_server({"runtimeClassName": "runc", "containers": [server([models_mount])], "volumes": [memory]})
	some f in k8s_model_server.deny with input as runc
		with data.config.containers.kubernetes.model_server_runtime_classes as ["kata-vm-isolation", "gvisor"]
	startswith(f.msg, `model server does not run in an accepted sandbox runtime class`)
	endswith(f.msg, ` ["gvisor", "kata-vm-isolation"] (runtimeClassName: runc)`)
}

confidential_spec := {
	"nodeSelector": {"sealgate.io/pool": "confidential"},
	"containers": [server([models_mount])],
	"volumes": [memory],
}

unsandboxed(pod_spec) := {
	"apiVersion": "apps/v1",
	"kind": "Deployment",
	"metadata": {"name": "scorer", "labels": {"sealgate.io/role": "model-server"}},
	"spec": {"template": {"metadata": {}, "spec": pod_spec}},
}

test_a_model_server_on_the_confidential_pool_needs_no_kata if {
	count(k8s_model_server.deny) == 0 with input as unsandboxed(confidential_spec)
}

test_another_pool_label_is_not_confidential if {
	spec := object.union(confidential_spec, {"nodeSelector": {"sealgate.io/pool": "general"}})
	ids(k8s_model_server.deny) == {"SG-K8S-030"} with input as unsandboxed(spec)
}

# (OPA merges an object given with `with` into the data document, so the empty selector `{}`
# would keep the built-in one there; values that are no selector show the same check.)
test_a_selector_that_is_no_mapping_exempts_nothing if {
	every selector in [[], "confidential", null] {
		ids(k8s_model_server.deny) == {"SG-K8S-030"} with input as unsandboxed(confidential_spec)
			with data.config.containers.kubernetes.model_server_confidential_node_selector as selector
	}
}
