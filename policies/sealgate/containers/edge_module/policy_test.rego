package sealgate.containers.edge_module_test

import rego.v1

import data.sealgate.containers.edge_module

digest := "sha256:d92c6a81b2ff50096bcda80885427d1f59a25b5f483f7055523504925d16ab23"

image := sprintf("sealgate.azurecr.io/models/onnx-server@%s", [digest])

edge_data := {
	"model_dir": "/models",
	"exemptions": [
		{"module": "edgeAgent", "rules": ["SG-EDGE-005"], "reason": "holds no model"},
		{"module": "edgeHub", "rules": ["SG-EDGE-005"], "reason": "holds no model"},
	],
}

hardened_options := {
	"User": "10001:10001",
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
	"HostConfig": object.remove(hardened_options.HostConfig, [field]),
}

without_tmpfs_with(fields) := {
	"User": hardened_options.User,
	"HostConfig": object.union(object.remove(hardened_options.HostConfig, ["Tmpfs"]), fields),
}

findings(doc) := result if {
	result := edge_module.deny with input as doc
		with data.config.edge as edge_data
		with data.config.registries.allowed as ["mcr.microsoft.com", "sealgate.azurecr.io"]
}

ids(doc) := {f.id | some f in findings(doc)}

paths(doc, id) := {f.path | some f in findings(doc); f.id == id}

test_hardened_module_passes if {
	count(findings(module(hardened_options))) == 0
}

test_other_inputs_yield_nothing_but_fail_closed if {
	# A document that is not a module is judged as an empty one: every requirement fails.
	ids({"stages": []}) == {"SG-EDGE-002", "SG-EDGE-003", "SG-EDGE-004", "SG-EDGE-005", "SG-EDGE-006"}
}

test_privileged_is_denied if {
	doc := module(with_host({"Privileged": true}))
	ids(doc) == {"SG-EDGE-001"}
	paths(doc, "SG-EDGE-001") == {["createOptions", "HostConfig", "Privileged"]}
	count(findings(module(with_host({"Privileged": false})))) == 0
}

test_writable_root_filesystem_is_denied if {
	ids(module(without_host("ReadonlyRootfs"))) == {"SG-EDGE-002"}
	ids(module(with_host({"ReadonlyRootfs": false}))) == {"SG-EDGE-002"}
	ids(module(with_host({"ReadonlyRootfs": "true"}))) == {"SG-EDGE-002"}
	paths(module(without_host("ReadonlyRootfs")), "SG-EDGE-002") == {["createOptions", "HostConfig", "ReadonlyRootfs"]}
}

test_capabilities_must_all_be_dropped if {
	ids(module(without_host("CapDrop"))) == {"SG-EDGE-003"}
	ids(module(with_host({"CapDrop": ["NET_RAW", "SYS_ADMIN"]}))) == {"SG-EDGE-003"}
	ids(module(with_host({"CapDrop": "ALL"}))) == {"SG-EDGE-003"}
	count(findings(module(with_host({"CapDrop": ["all"], "CapAdd": ["NET_BIND_SERVICE"]})))) == 0
}

test_root_users_are_denied if {
	every user in ["root", "0", "0:0", "root:root", "00", ""] {
		doc := module(object.union(hardened_options, {"User": user}))
		ids(doc) == {"SG-EDGE-004"}
		paths(doc, "SG-EDGE-004") == {["createOptions", "User"]}
	}
}

test_missing_or_malformed_user_is_denied if {
	ids(module(object.remove(hardened_options, ["User"]))) == {"SG-EDGE-004"}
	ids(module(object.union(hardened_options, {"User": null}))) == {"SG-EDGE-004"}
	ids(module(object.union(hardened_options, {"User": 0}))) == {"SG-EDGE-004"}
}

test_non_root_users_pass if {
	every user in ["10001", "10001:10001", "edgehubuser", "app:0"] {
		count(findings(module(object.union(hardened_options, {"User": user})))) == 0
	}
}

test_model_dir_must_be_tmpfs if {
	doc := module(without_host("Tmpfs"))
	ids(doc) == {"SG-EDGE-005"}
	paths(doc, "SG-EDGE-005") == {["createOptions", "HostConfig", "Tmpfs"]}
	ids(module(without_tmpfs_with({"Tmpfs": {"/tmp": "rw"}}))) == {"SG-EDGE-005"}
	ids(module(without_tmpfs_with({"Tmpfs": {"/models/llm": "rw"}}))) == {"SG-EDGE-005"}
}

test_model_dir_tmpfs_forms if {
	count(findings(module(without_tmpfs_with({"Tmpfs": {"/models/": "rw,size=4g"}})))) == 0
	count(findings(module(without_tmpfs_with({"Mounts": [{"Type": "tmpfs", "Target": "/models"}]})))) == 0
	bind := {"Mounts": [{"Type": "bind", "Source": "/data/models", "Target": "/models"}]}
	ids(module(without_tmpfs_with(bind))) == {"SG-EDGE-005"}
	ids(module(without_tmpfs_with({"Tmpfs": ["/models"]}))) == {"SG-EDGE-005"}
}

test_model_dir_must_be_configured if {
	doc := module(hardened_options)
	result := edge_module.deny with input as doc
		with data.config.edge as {"exemptions": []}
		with data.config.registries.allowed as ["sealgate.azurecr.io"]
	{f.id | some f in result} == {"SG-EDGE-005"}
}

test_system_modules_use_exemptions_from_data if {
	hub := object.union(module(without_host("Tmpfs")), {"name": "edgeHub", "system": true})
	count(findings(hub)) == 0

	# Only the exempted rule: everything else still applies to a system module.
	writable_hub := object.union(
		module(without_tmpfs_with({"ReadonlyRootfs": false})),
		{"name": "edgeHub", "system": true},
	)
	ids(writable_hub) == {"SG-EDGE-002"}

	# A user module named like a system module gets no exemption.
	impostor := object.union(module(without_host("Tmpfs")), {"name": "edgeHub", "system": false})
	ids(impostor) == {"SG-EDGE-005"}
}

test_unpinned_image_is_denied if {
	doc := object.union(module(hardened_options), {"image": "sealgate.azurecr.io/models/onnx-server:2.1"})
	ids(doc) == {"SG-EDGE-006"}
	paths(doc, "SG-EDGE-006") == {["image"]}
}

test_missing_image_is_denied if {
	ids(object.union(module(hardened_options), {"image": null})) == {"SG-EDGE-006"}
	ids(object.remove(module(hardened_options), ["image"])) == {"SG-EDGE-006"}
}

test_registry_must_be_allowed if {
	doc := object.union(
		module(hardened_options),
		{"image": "docker.io/contoso/server@sha256:d92c6a81b2ff50096bcda80885427d1f59a25b5f483f7055523504925d16ab23"},
	)
	ids(doc) == {"SG-EDGE-007"}
	some f in findings(doc)
	contains(f.msg, "docker.io")
}

test_host_network_is_denied if {
	doc := module(with_host({"NetworkMode": "host"}))
	ids(doc) == {"SG-EDGE-008"}
	paths(doc, "SG-EDGE-008") == {["createOptions", "HostConfig", "NetworkMode"]}
	count(findings(module(with_host({"NetworkMode": "bridge"})))) == 0
}

test_host_pid_is_denied if {
	doc := module(with_host({"PidMode": "host"}))
	ids(doc) == {"SG-EDGE-009"}
	paths(doc, "SG-EDGE-009") == {["createOptions", "HostConfig", "PidMode"]}
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
		ids(doc) == {"SG-EDGE-010"}
		paths(doc, "SG-EDGE-010") == {["createOptions", "HostConfig", "Binds", 1]}
	}
}

test_docker_socket_mounts_are_denied if {
	mounts := [
		{"Type": "tmpfs", "Target": "/models"},
		{"Type": "bind", "Source": "/var/run/docker.sock", "Target": "/var/run/docker.sock"},
	]
	doc := module(with_host({"Mounts": mounts}))
	ids(doc) == {"SG-EDGE-010"}
	paths(doc, "SG-EDGE-010") == {["createOptions", "HostConfig", "Mounts", 1]}
	pipe := [{"Type": "npipe", "Source": "\\\\.\\pipe\\docker_engine", "Target": "\\\\.\\pipe\\docker_engine"}]
	ids(module(with_host({"Mounts": pipe}))) == {"SG-EDGE-010"}
}

test_ordinary_binds_pass if {
	binds := ["/var/lib/iotedge/edgehub:/iotedge/storage:rw", "/var/run/iotedge/model:/run/model"]
	count(findings(module(with_host({"Binds": binds})))) == 0
	volume := [{"Type": "volume", "Source": "docker.sock", "Target": "/data"}]
	count(findings(module(with_host({"Mounts": volume})))) == 0
}
