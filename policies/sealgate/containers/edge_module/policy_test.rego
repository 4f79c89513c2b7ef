package sealgate.containers.edge_module_test

import rego.v1

import data.sealgate.containers.edge_module

digest := "sha256:d92c6a81b2ff50096bcda80885427d1f59a25b5f483f7055523504925d16ab23"

image := sprintf("sealgate.azurecr.io/models/onnx-server@%s", [digest])

edge_data := {
	"model_dir": "/models",
	"model_server_label": "sealgate.io/role",
	"model_server_label_value": "model-server",
	"exemptions": [
		{"module": "edgeAgent", "rules": ["SG-EDGE-005"], "reason": "holds no model"},
		{"module": "edgeHub", "rules": ["SG-EDGE-005"], "reason": "holds no model"},
	],
}

model_server_labels := {"sealgate.io/role": "model-server"}

hardened_options := {
	"User": "10001:10001",
	"Labels": model_server_labels,
	"HostConfig": {
		"ReadonlyRootfs": true,
		"CapDrop": ["ALL"],
		"Tmpfs": {"/models": "rw,noexec,nosuid,size=4g"},
	},
}

module(options) := {"name": "model", "system": false, "image": image, "createOptions": options}

# The hardened options with HostConfig fields replaced (object.union merges objects deeply,
# so removing a field needs object.remove on a fresh HostConfig).
with_host(fields) := object.union(hardened_options, {"HostConfig": fields})

without_host(field) := {
	"User": hardened_options.User,
	"Labels": model_server_labels,
	"HostConfig": object.remove(hardened_options.HostConfig, [field]),
}

without_tmpfs_with(fields) := {
	"User": hardened_options.User,
	"Labels": model_server_labels,
	"HostConfig": object.union(object.remove(hardened_options.HostConfig, ["Tmpfs"]), fields),
}

registries := ["mcr.microsoft.com", "sealgate.azurecr.io"]

ids(findings) := {f.id | some f in findings}

paths(findings, id) := {f.path | some f in findings; f.id == id}
test_hardened_module_passes if {
	count(edge_module.deny) == 0 with input as module(hardened_options)
		with data.config.edge as edge_data
		with data.config.registries.allowed as registries
}

test_other_inputs_yield_nothing_but_fail_closed if {
	# A document that is not a module is judged as an empty one: every requirement fails.
	subject := {"stages": []}
	got := ids(edge_module.deny) with input as subject
		with data.config.edge as edge_data
		with data.config.registries.allowed as registries
	got == {"SG-EDGE-002", "SG-EDGE-003", "SG-EDGE-004", "SG-EDGE-006"}
}

test_privileged_is_denied if {
	doc := module(with_host({"Privileged": true}))
	ids(edge_module.deny) == {"SG-EDGE-001"} with input as doc
		with data.config.edge as edge_data
		with data.config.registries.allowed as registries
	paths(edge_module.deny, "SG-EDGE-001") == {["createOptions", "HostConfig", "Privileged"]} with input as doc
		with data.config.edge as edge_data
		with data.config.registries.allowed as registries
	count(edge_module.deny) == 0 with input as module(with_host({"Privileged": false}))
		with data.config.edge as edge_data
		with data.config.registries.allowed as registries
}

test_privileged_as_the_runtime_reads_booleans if {
	every value in ["true", "True", " true ", 1, -1, 0.5] {
		ids(edge_module.deny) == {"SG-EDGE-001"} with input as module(with_host({"Privileged": value}))
			with data.config.edge as edge_data
			with data.config.registries.allowed as registries
	}
	every value in ["false", "", 0, null, "yes"] {
		count(edge_module.deny) == 0 with input as module(with_host({"Privileged": value}))
			with data.config.edge as edge_data
			with data.config.registries.allowed as registries
	}
}

test_field_names_are_read_ignoring_case if {
	doc := module({
		"user": "10001:10001",
		"labels": model_server_labels,
		"hostconfig": {"readonlyrootfs": true, "capdrop": ["ALL"], "privileged": "true", "ipcmode": "host", "mounts": [{
			"type": "tmpfs",
			"target": "/models",
		}]},
	})
	ids(edge_module.deny) == {"SG-EDGE-001", "SG-EDGE-012"} with input as doc
		with data.config.edge as edge_data
		with data.config.registries.allowed as registries
}

test_writable_root_filesystem_is_denied if {
	ids(edge_module.deny) == {"SG-EDGE-002"} with input as module(without_host("ReadonlyRootfs"))
		with data.config.edge as edge_data
		with data.config.registries.allowed as registries
	ids(edge_module.deny) == {"SG-EDGE-002"} with input as module(with_host({"ReadonlyRootfs": false}))
		with data.config.edge as edge_data
		with data.config.registries.allowed as registries
	every value in ["false", "yes", "1", 0, null] {
		ids(edge_module.deny) == {"SG-EDGE-002"} with input as module(with_host({"ReadonlyRootfs": value}))
			with data.config.edge as edge_data
			with data.config.registries.allowed as registries
	}

	# What edgeAgent's JSON reader (Newtonsoft) reads as true is true.
	every value in ["true", " True ", "TRUE", 1] {
		count(edge_module.deny) == 0 with input as module(with_host({"ReadonlyRootfs": value}))
			with data.config.edge as edge_data
			with data.config.registries.allowed as registries
	}
	subject := module(without_host("ReadonlyRootfs"))
	paths(edge_module.deny, "SG-EDGE-002") == {["createOptions", "HostConfig", "ReadonlyRootfs"]} with input as subject
		with data.config.edge as edge_data
		with data.config.registries.allowed as registries
}

test_capabilities_must_all_be_dropped if {
	ids(edge_module.deny) == {"SG-EDGE-003"} with input as module(without_host("CapDrop"))
		with data.config.edge as edge_data
		with data.config.registries.allowed as registries
	ids(edge_module.deny) == {"SG-EDGE-003"} with input as module(with_host({"CapDrop": ["NET_RAW", "SYS_ADMIN"]}))
		with data.config.edge as edge_data
		with data.config.registries.allowed as registries
	ids(edge_module.deny) == {"SG-EDGE-003"} with input as module(with_host({"CapDrop": "ALL"}))
		with data.config.edge as edge_data
		with data.config.registries.allowed as registries
	count(edge_module.deny) == 0 with input as module(with_host({"CapDrop": ["all"], "CapAdd": ["NET_BIND_SERVICE"]}))
		with data.config.edge as edge_data
		with data.config.registries.allowed as registries
}

test_root_users_are_denied if {
	every user in ["root", "0", "0:0", "root:root", "00", ""] {
		doc := module(object.union(hardened_options, {"User": user}))
		ids(edge_module.deny) == {"SG-EDGE-004"} with input as doc
			with data.config.edge as edge_data
			with data.config.registries.allowed as registries
		paths(edge_module.deny, "SG-EDGE-004") == {["createOptions", "User"]} with input as doc
			with data.config.edge as edge_data
			with data.config.registries.allowed as registries
	}
}

test_missing_or_malformed_user_is_denied if {
	ids(edge_module.deny) == {"SG-EDGE-004"} with input as module(object.remove(hardened_options, ["User"]))
		with data.config.edge as edge_data
		with data.config.registries.allowed as registries
	ids(edge_module.deny) == {"SG-EDGE-004"} with input as module(object.union(hardened_options, {"User": null}))
		with data.config.edge as edge_data
		with data.config.registries.allowed as registries
	ids(edge_module.deny) == {"SG-EDGE-004"} with input as module(object.union(hardened_options, {"User": 0}))
		with data.config.edge as edge_data
		with data.config.registries.allowed as registries
}

test_non_root_users_pass if {
	every user in ["10001", "10001:10001", "edgehubuser", "app:0"] {
		count(edge_module.deny) == 0 with input as module(object.union(hardened_options, {"User": user}))
			with data.config.edge as edge_data
			with data.config.registries.allowed as registries
	}
}

test_model_dir_must_be_tmpfs if {
	doc := module(without_host("Tmpfs"))
	ids(edge_module.deny) == {"SG-EDGE-005"} with input as doc
		with data.config.edge as edge_data
		with data.config.registries.allowed as registries
	paths(edge_module.deny, "SG-EDGE-005") == {["createOptions", "HostConfig", "Tmpfs"]} with input as doc
		with data.config.edge as edge_data
		with data.config.registries.allowed as registries
	ids(edge_module.deny) == {"SG-EDGE-005"} with input as module(without_tmpfs_with({"Tmpfs": {"/tmp": "rw"}}))
		with data.config.edge as edge_data
		with data.config.registries.allowed as registries
	ids(edge_module.deny) == {"SG-EDGE-005"} with input as module(without_tmpfs_with({"Tmpfs": {"/models/llm": "rw"}}))
		with data.config.edge as edge_data
		with data.config.registries.allowed as registries
}

test_model_dir_tmpfs_forms if {
	count(edge_module.deny) == 0 with input as module(without_tmpfs_with({"Tmpfs": {"/models/": "rw,size=4g"}}))
		with data.config.edge as edge_data
		with data.config.registries.allowed as registries
	subject := module(without_tmpfs_with({"Mounts": [{"Type": "tmpfs", "Target": "/models"}]}))
	count(edge_module.deny) == 0 with input as subject
		with data.config.edge as edge_data
		with data.config.registries.allowed as registries
	bind := {"Mounts": [{"Type": "bind", "Source": "/data/models", "Target": "/models"}]}
	ids(edge_module.deny) == {"SG-EDGE-005"} with input as module(without_tmpfs_with(bind))
		with data.config.edge as edge_data
		with data.config.registries.allowed as registries
	ids(edge_module.deny) == {"SG-EDGE-005"} with input as module(without_tmpfs_with({"Tmpfs": ["/models"]}))
		with data.config.edge as edge_data
		with data.config.registries.allowed as registries
}

test_model_dir_must_be_configured if {
	doc := module(hardened_options)
	result := edge_module.deny with input as doc
		with data.config.edge as object.remove(edge_data, ["model_dir"])
		with data.config.registries.allowed as ["sealgate.azurecr.io"]
	{f.id | some f in result} == {"SG-EDGE-005"}
}

test_system_modules_use_exemptions_from_data if {
	hub := object.union(module(without_host("Tmpfs")), {"name": "edgeHub", "system": true})
	count(edge_module.deny) == 0 with input as hub
		with data.config.edge as edge_data
		with data.config.registries.allowed as registries

	# Only the exempted rule: everything else still applies to a system module.
	writable_hub := object.union(
		module(without_tmpfs_with({"ReadonlyRootfs": false})),
		{"name": "edgeHub", "system": true},
	)
	ids(edge_module.deny) == {"SG-EDGE-002"} with input as writable_hub
		with data.config.edge as edge_data
		with data.config.registries.allowed as registries

	# A user module named like a system module gets no exemption.
	impostor := object.union(module(without_host("Tmpfs")), {"name": "edgeHub", "system": false})
	ids(edge_module.deny) == {"SG-EDGE-005"} with input as impostor
		with data.config.edge as edge_data
		with data.config.registries.allowed as registries
}

test_unpinned_image_is_denied if {
	doc := object.union(module(hardened_options), {"image": "sealgate.azurecr.io/models/onnx-server:2.1"})
	ids(edge_module.deny) == {"SG-EDGE-006"} with input as doc
		with data.config.edge as edge_data
		with data.config.registries.allowed as registries
	paths(edge_module.deny, "SG-EDGE-006") == {["image"]} with input as doc
		with data.config.edge as edge_data
		with data.config.registries.allowed as registries
}

test_missing_image_is_denied if {
	ids(edge_module.deny) == {"SG-EDGE-006"} with input as object.union(module(hardened_options), {"image": null})
		with data.config.edge as edge_data
		with data.config.registries.allowed as registries
	ids(edge_module.deny) == {"SG-EDGE-006"} with input as object.remove(module(hardened_options), ["image"])
		with data.config.edge as edge_data
		with data.config.registries.allowed as registries
}

test_registry_must_be_allowed if {
	doc := object.union(
		module(hardened_options),
		{"image": "docker.io/contoso/server@sha256:d92c6a81b2ff50096bcda80885427d1f59a25b5f483f7055523504925d16ab23"},
	)
	ids(edge_module.deny) == {"SG-EDGE-007"} with input as doc
		with data.config.edge as edge_data
		with data.config.registries.allowed as registries
	some f in edge_module.deny with input as doc
		with data.config.edge as edge_data
		with data.config.registries.allowed as registries
	contains(f.msg, "docker.io")
}

test_host_network_is_denied if {
	doc := module(with_host({"NetworkMode": "host"}))
	ids(edge_module.deny) == {"SG-EDGE-008"} with input as doc
		with data.config.edge as edge_data
		with data.config.registries.allowed as registries
	paths(edge_module.deny, "SG-EDGE-008") == {["createOptions", "HostConfig", "NetworkMode"]} with input as doc
		with data.config.edge as edge_data
		with data.config.registries.allowed as registries
	count(edge_module.deny) == 0 with input as module(with_host({"NetworkMode": "bridge"}))
		with data.config.edge as edge_data
		with data.config.registries.allowed as registries
}

test_host_pid_is_denied if {
	doc := module(with_host({"PidMode": "host"}))
	ids(edge_module.deny) == {"SG-EDGE-009"} with input as doc
		with data.config.edge as edge_data
		with data.config.registries.allowed as registries
	paths(edge_module.deny, "SG-EDGE-009") == {["createOptions", "HostConfig", "PidMode"]} with input as doc
		with data.config.edge as edge_data
		with data.config.registries.allowed as registries
}

test_docker_socket_binds_are_denied if {
	every bind in [
		"/var/run/docker.sock:/var/run/docker.sock",
		"/run/docker.sock:/docker.sock:ro",
		"/var/run/:/host/run",
		"/:/host:ro",
		"/run/containerd/containerd.sock:/c.sock",
	] {
		doc := module(with_host({"Binds": ["/var/lib/model:/state", bind]}))
		ids(edge_module.deny) == {"SG-EDGE-010"} with input as doc
			with data.config.edge as edge_data
			with data.config.registries.allowed as registries
		paths(edge_module.deny, "SG-EDGE-010") == {["createOptions", "HostConfig", "Binds", 1]} with input as doc
			with data.config.edge as edge_data
			with data.config.registries.allowed as registries
	}
}

test_docker_socket_mounts_are_denied if {
	mounts := [
		{"Type": "tmpfs", "Target": "/models"},
		{"Type": "bind", "Source": "/var/run/docker.sock", "Target": "/var/run/docker.sock"},
	]
	doc := module(with_host({"Mounts": mounts}))
	ids(edge_module.deny) == {"SG-EDGE-010"} with input as doc
		with data.config.edge as edge_data
		with data.config.registries.allowed as registries
	paths(edge_module.deny, "SG-EDGE-010") == {["createOptions", "HostConfig", "Mounts", 1]} with input as doc
		with data.config.edge as edge_data
		with data.config.registries.allowed as registries
	pipe := [{"Type": "npipe", "Source": "\\\\.\\pipe\\docker_engine", "Target": "\\\\.\\pipe\\docker_engine"}]
	ids(edge_module.deny) == {"SG-EDGE-010"} with input as module(with_host({"Mounts": pipe}))
		with data.config.edge as edge_data
		with data.config.registries.allowed as registries
}

test_ordinary_binds_pass if {
	binds := ["/var/lib/iotedge/edgehub:/iotedge/storage:rw", "/var/run/iotedge/model:/run/model"]
	count(edge_module.deny) == 0 with input as module(with_host({"Binds": binds}))
		with data.config.edge as edge_data
		with data.config.registries.allowed as registries
	volume := [{"Type": "volume", "Source": "docker.sock", "Target": "/data"}]
	count(edge_module.deny) == 0 with input as module(with_host({"Mounts": volume}))
		with data.config.edge as edge_data
		with data.config.registries.allowed as registries
}

test_model_dir_applies_to_labelled_model_servers_only if {
	unlabelled := {"User": "10001:10001", "HostConfig": object.remove(hardened_options.HostConfig, ["Tmpfs"])}
	count(edge_module.deny) == 0 with input as module(unlabelled)
		with data.config.edge as edge_data
		with data.config.registries.allowed as registries
	other_role := object.union(unlabelled, {"Labels": {"sealgate.io/role": "telemetry"}})
	count(edge_module.deny) == 0 with input as module(other_role)
		with data.config.edge as edge_data
		with data.config.registries.allowed as registries
	labelled := object.union(unlabelled, {"Labels": model_server_labels})
	ids(edge_module.deny) == {"SG-EDGE-005"} with input as module(labelled)
		with data.config.edge as edge_data
		with data.config.registries.allowed as registries
}

test_template_is_reported_once_and_its_images_are_not_judged if {
	template := {"placeholders": 2, "first": "${MODULES.model}", "field": "modulesContent.x.settings.image"}
	doc := object.union(module(hardened_options), {
		"image": "${MODULES.model}",
		"placeholders": [{"value": "${MODULES.model}", "path": ["settings", "image"]}],
		"template": template,
	})
	ids(edge_module.deny) == {"SG-EDGE-011"} with input as doc
		with data.config.edge as edge_data
		with data.config.registries.allowed as registries
	paths(edge_module.deny, "SG-EDGE-011") == {["template"]} with input as doc
		with data.config.edge as edge_data
		with data.config.registries.allowed as registries
	some f in edge_module.deny with input as doc
		with data.config.edge as edge_data
		with data.config.registries.allowed as registries
	f.msg == concat(" ", [
		"deployment template with 2 unresolved placeholders, the first ${MODULES.model}",
		"at modulesContent.x.settings.image: render it before gating",
	])

	# The other modules of the template: image placeholders are not judged, nothing reported.
	other := object.union(doc, {"template": null})
	count(edge_module.deny) == 0 with input as other
		with data.config.edge as edge_data
		with data.config.registries.allowed as registries

	# A placeholder elsewhere does not excuse an image.
	elsewhere := object.union(module(hardened_options), {
		"image": "docker.io/contoso/server:1",
		"placeholders": [{"value": "${X}", "path": ["env", "A", "value"]}],
	})
	ids(edge_module.deny) == {"SG-EDGE-006", "SG-EDGE-007"} with input as elsewhere
		with data.config.edge as edge_data
		with data.config.registries.allowed as registries
}

test_host_ipc_and_uts_are_denied if {
	doc := module(with_host({"IpcMode": "host", "UTSMode": "host"}))
	ids(edge_module.deny) == {"SG-EDGE-012", "SG-EDGE-013"} with input as doc
		with data.config.edge as edge_data
		with data.config.registries.allowed as registries
	paths(edge_module.deny, "SG-EDGE-012") == {["createOptions", "HostConfig", "IpcMode"]} with input as doc
		with data.config.edge as edge_data
		with data.config.registries.allowed as registries
	paths(edge_module.deny, "SG-EDGE-013") == {["createOptions", "HostConfig", "UTSMode"]} with input as doc
		with data.config.edge as edge_data
		with data.config.registries.allowed as registries
	count(edge_module.deny) == 0 with input as module(with_host({"IpcMode": "shareable", "UTSMode": ""}))
		with data.config.edge as edge_data
		with data.config.registries.allowed as registries
}
