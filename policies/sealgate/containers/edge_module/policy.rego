# METADATA
# title: IoT Edge module hardening
# description: >-
#   Every module of an IoT Edge deployment (system modules included) runs a digest-pinned
#   image from an allowed registry, unprivileged, read-only, non-root, without capabilities,
#   host namespaces or the Docker socket, and keeps the unsealed model on tmpfs. The input is
#   one module of pipeline/inputs/iot_edge.py: `createOptions` is Docker's container create
#   body, parsed. Rules that do not fit a system module are exempted in
#   policies/data/edge.yaml (data.config.edge.exemptions), never in this file.
# entrypoint: true
# custom:
#   input: iot-edge
package sealgate.containers.edge_module

import rego.v1

# edgeAgent reads createOptions with Newtonsoft.Json, which binds a field whose name matches
# only when case is ignored ("hostconfig", "privileged"): the fields the rules read are
# looked up the same way (the parser refuses two names that differ only in case).
docker_fields[lower(name)] := name if {
	some name in {
		"HostConfig", "User", "Labels", "Privileged", "ReadonlyRootfs", "CapDrop", "Tmpfs",
		"Mounts", "Binds", "NetworkMode", "PidMode", "IpcMode", "UTSMode",
	}
}

mount_fields[lower(name)] := name if some name in {"Type", "Source", "Target"}

canonical(fields, names) := {object.get(names, lower(key), key): value | some key, value in fields}

default options := {}

options := canonical(input.createOptions, docker_fields) if is_object(input.createOptions)

default host_config := {}

host_config := canonical(options.HostConfig, docker_fields) if is_object(options.HostConfig)

# A boolean as edgeAgent's JSON reader (Newtonsoft ReadAsBoolean) turns it into one: true, a
# string that .NET's bool.TryParse reads as true ("true", "True", " TRUE "), or a non-zero
# number. Microsoft's own end-to-end manifests write "Privileged": "true".
runtime_true(true) := true

runtime_true(value) if {
	is_string(value)
	lower(trim_space(value)) == "true"
}

runtime_true(value) if {
	is_number(value)
	value != 0
}

# Docker mounts as edgeAgent reads them (field names ignoring case).
mounts contains [i, canonical(mount, mount_fields)] if {
	all_mounts := object.get(host_config, "Mounts", [])
	is_array(all_mounts)
	some i, mount in all_mounts
	is_object(mount)
}

host_path := ["createOptions", "HostConfig"]

default module_name := "(unnamed)"

module_name := input.name if is_string(input.name)

# A rule that data exempts for this system module (see policies/data/edge.yaml).
exempt(rule_id) if {
	input.system == true
	some exemption in data.config.edge.exemptions
	exemption.module == input.name
	rule_id in exemption.rules
}

# Every finding names the module (the lib helper, prefixed).
finding(rule_id, msg, path) := data.sealgate.lib.findings.finding(
	rule_id,
	sprintf("module %s: %s", [module_name, msg]),
	path,
)

# Paths compared without trailing slashes ("/models/" is "/models").
normalized(path) := "/" if regex.match(`^/+$`, path)

normalized(path) := trim_right(path, "/") if not regex.match(`^/+$`, path)

drops_all if {
	capabilities := object.get(host_config, "CapDrop", [])
	is_array(capabilities)
	some capability in capabilities
	is_string(capability)
	upper(capability) == "ALL"
}

# The user part of user[:group]: "root", uid 0 (any number of zeros), or empty.
root_user(user) if user_part(user) in {"root", ""}

root_user(user) if regex.match(`^0+$`, user_part(user))

user_part(user) := trim_space(split(user, ":")[0])

model_dir := data.config.edge.model_dir if is_string(data.config.edge.model_dir)

tmpfs_targets contains normalized(target) if {
	tmpfs := object.get(host_config, "Tmpfs", {})
	is_object(tmpfs)
	some target, _ in tmpfs
	is_string(target)
}

tmpfs_targets contains normalized(mount.Target) if {
	some [_, mount] in mounts
	mount.Type == "tmpfs"
	is_string(mount.Target)
}

configured_model_dir if is_string(data.config.edge.model_dir)

# Model servers are the modules labelled as in Kubernetes (sealgate.io/role: model-server), a
# Docker label in createOptions.Labels, which edgeAgent passes to the container.
model_server if {
	labels := object.get(options, "Labels", {})
	is_object(labels)
	labels[data.config.edge.model_server_label] == data.config.edge.model_server_label_value
}

image := input.image if is_string(input.image)

placeholder_word(1) := "placeholder"

placeholder_word(n) := "placeholders" if n != 1

# settings.image is a template placeholder (reported once per manifest by SG-EDGE-011).
unresolved_image if {
	some placeholder in input.placeholders
	placeholder.path == ["settings", "image"]
}

# Host paths that expose a container runtime socket: the sockets themselves and the
# directories that contain them.
socket_paths := {
	"/var/run/docker.sock", "/run/docker.sock", "/var/run", "/run", "/var", "/",
	"/var/run/containerd/containerd.sock", "/run/containerd/containerd.sock",
}

runtime_socket(source) if normalized(source) in socket_paths

runtime_socket(source) if regex.match(`(docker|containerd|podman|crio|moby)\.sock$`, source)

runtime_socket(source) if contains(lower(source), "docker_engine")

# METADATA
# title: Module runs privileged
# description: >-
#   A privileged container has every capability and every host device: it owns the edge
#   device, its TPM and every model on it.
# custom:
#   id: SG-EDGE-001
#   severity: critical
#   remediation: >-
#     Remove "Privileged": true from HostConfig; grant a single device with HostConfig.Devices
#     or a single capability with CapAdd if the module really needs one.
deny contains f if {
	runtime_true(host_config.Privileged)
	not exempt("SG-EDGE-001")
	f := finding("SG-EDGE-001", "runs privileged (HostConfig.Privileged)", array.concat(host_path, ["Privileged"]))
}

# METADATA
# title: Module root filesystem is writable
# description: >-
#   HostConfig.ReadonlyRootfs must be true, so that a compromised module cannot change its own
#   code; state goes to explicit volumes and scratch space to tmpfs.
# custom:
#   id: SG-EDGE-002
#   severity: high
#   remediation: >-
#     Set "ReadonlyRootfs": true in HostConfig and mount what the module writes (tmpfs for
#     scratch, a volume for state).
deny contains f if {
	not runtime_true(object.get(host_config, "ReadonlyRootfs", false))
	not exempt("SG-EDGE-002")
	f := finding(
		"SG-EDGE-002",
		"root filesystem is writable (HostConfig.ReadonlyRootfs is not true)",
		array.concat(host_path, ["ReadonlyRootfs"]),
	)
}

# METADATA
# title: Module keeps Linux capabilities
# description: >-
#   HostConfig.CapDrop must contain ALL; the few capabilities a module needs are added back by
#   name with CapAdd.
# custom:
#   id: SG-EDGE-003
#   severity: high
#   remediation: >-
#     Set "CapDrop": ["ALL"] in HostConfig and add back only what is needed, e.g.
#     "CapAdd": ["NET_BIND_SERVICE"].
deny contains f if {
	is_array(object.get(host_config, "CapDrop", []))
	not drops_all
	not exempt("SG-EDGE-003")
	f := finding(
		"SG-EDGE-003",
		"does not drop all capabilities (HostConfig.CapDrop lacks ALL)",
		array.concat(host_path, ["CapDrop"]),
	)
}

deny contains f if {
	not is_array(object.get(host_config, "CapDrop", []))
	not exempt("SG-EDGE-003")
	f := finding("SG-EDGE-003", "HostConfig.CapDrop is not a list", array.concat(host_path, ["CapDrop"]))
}

# METADATA
# title: Module runs as root
# description: >-
#   createOptions.User must name a non-root user; without it the module runs as the image's
#   default user, root in most images. "root", "0", "0:0" and "root:<group>" are root.
# custom:
#   id: SG-EDGE-004
#   severity: high
#   remediation: >-
#     Set "User": "<uid>:<gid>" (for example "10001:10001") in createOptions.
deny contains f if {
	object.get(options, "User", null) == null
	not exempt("SG-EDGE-004")
	f := finding("SG-EDGE-004", "sets no User, so it runs as the image default (root)", ["createOptions", "User"])
}

deny contains f if {
	user := options.User
	user != null
	not is_string(user)
	not exempt("SG-EDGE-004")
	f := finding("SG-EDGE-004", "User must be a string such as \"10001:10001\"", ["createOptions", "User"])
}

deny contains f if {
	user := options.User
	is_string(user)
	root_user(user)
	not exempt("SG-EDGE-004")
	f := finding("SG-EDGE-004", sprintf("runs as User \"%s\", which is root", [user]), ["createOptions", "User"])
}

# METADATA
# title: Model directory is not on tmpfs
# description: >-
#   The model is unsealed only into memory-backed storage, so the model directory
#   (data.config.edge.model_dir, /models) of a model server must be a tmpfs mount of the
#   module: HostConfig.Tmpfs or a HostConfig.Mounts entry of Type tmpfs with that Target.
#   Model servers are the modules labelled as in Kubernetes, createOptions.Labels
#   {"sealgate.io/role": "model-server"} (data.config.edge.model_server_label and
#   model_server_label_value). Without a configured model directory every model server fails.
# custom:
#   id: SG-EDGE-005
#   severity: high
#   remediation: >-
#     Add "Tmpfs": {"/models": "rw,noexec,nosuid,size=4g"} to HostConfig (size it to the
#     model), or a Mounts entry {"Type": "tmpfs", "Target": "/models"}.
deny contains f if {
	model_server
	not normalized(model_dir) in tmpfs_targets
	not exempt("SG-EDGE-005")
	f := finding(
		"SG-EDGE-005",
		sprintf("the model directory %s is not a tmpfs mount", [model_dir]),
		array.concat(host_path, ["Tmpfs"]),
	)
}

deny contains f if {
	model_server
	not configured_model_dir
	not exempt("SG-EDGE-005")
	f := finding(
		"SG-EDGE-005",
		"no model directory is configured (data.config.edge.model_dir)",
		array.concat(host_path, ["Tmpfs"]),
	)
}

# METADATA
# title: Module image is not pinned by digest
# description: >-
#   settings.image must pin the image by an immutable sha256 digest: the device pulls whatever
#   a tag points to when the module restarts.
# custom:
#   id: SG-EDGE-006
#   severity: high
#   remediation: >-
#     Write the image as REGISTRY/REPOSITORY@sha256:<digest> (a release pipeline resolves the
#     tag it tested to its digest).
deny contains f if {
	not image
	not unresolved_image
	not exempt("SG-EDGE-006")
	f := finding("SG-EDGE-006", "names no image (settings.image)", ["image"])
}

deny contains f if {
	not data.sealgate.lib.images.pinned(image)
	not unresolved_image
	not exempt("SG-EDGE-006")
	f := finding("SG-EDGE-006", sprintf("image \"%s\" is not pinned by a sha256 digest", [image]), ["image"])
}

# METADATA
# title: Module image comes from a registry that is not allowed
# description: >-
#   Module images come only from the registries in policies/data/registries.yaml (the
#   platform registry and mcr.microsoft.com, where the IoT Edge runtime images live).
# custom:
#   id: SG-EDGE-007
#   severity: high
#   remediation: >-
#     Import the image into the platform registry (`az acr import`) and reference it there.
deny contains f if {
	not data.sealgate.lib.images.allowed_registry(image)
	not unresolved_image
	not exempt("SG-EDGE-007")
	f := finding(
		"SG-EDGE-007",
		sprintf(
			"image \"%s\" comes from %s, which is not an allowed registry",
			[image, data.sealgate.lib.images.registry(image)],
		),
		["image"],
	)
}

# METADATA
# title: Module uses the host network
# description: >-
#   With NetworkMode "host" a module can bind any port of the device and reach every local
#   service, the edge runtime's own endpoints included; modules talk through edgeHub.
# custom:
#   id: SG-EDGE-008
#   severity: high
#   remediation: >-
#     Remove "NetworkMode": "host" and publish the ports the module serves with PortBindings.
deny contains f if {
	host_config.NetworkMode == "host"
	not exempt("SG-EDGE-008")
	f := finding(
		"SG-EDGE-008",
		"uses the host network (HostConfig.NetworkMode \"host\")",
		array.concat(host_path, ["NetworkMode"]),
	)
}

# METADATA
# title: Module shares the host PID namespace
# description: >-
#   With PidMode "host" a module sees, signals and (with ptrace) reads the memory of every
#   process of the device, including a model server holding a decrypted model.
# custom:
#   id: SG-EDGE-009
#   severity: high
#   remediation: >-
#     Remove "PidMode": "host" from HostConfig.
deny contains f if {
	host_config.PidMode == "host"
	not exempt("SG-EDGE-009")
	f := finding(
		"SG-EDGE-009",
		"shares the host PID namespace (HostConfig.PidMode \"host\")",
		array.concat(host_path, ["PidMode"]),
	)
}

# METADATA
# title: Module mounts the container runtime socket
# description: >-
#   Whoever reaches the Docker (moby) socket can start a privileged container and own the
#   device; a bind of the socket, or of a directory holding it (/var/run, /run, /), is
#   refused in HostConfig.Binds and HostConfig.Mounts.
# custom:
#   id: SG-EDGE-010
#   severity: critical
#   remediation: >-
#     Remove the bind; a module that must manage containers should ask the IoT Edge runtime
#     through its own API instead of the container engine.
deny contains f if {
	not exempt("SG-EDGE-010")
	binds := object.get(host_config, "Binds", [])
	is_array(binds)
	some i, bind in binds
	is_string(bind)
	source := split(bind, ":")[0]
	runtime_socket(source)
	f := finding(
		"SG-EDGE-010",
		sprintf("mounts the container runtime socket (%s)", [source]),
		array.concat(host_path, ["Binds", i]),
	)
}

deny contains f if {
	not exempt("SG-EDGE-010")
	some [i, mount] in mounts
	object.get(mount, "Type", "volume") in {"bind", "npipe"}
	source := mount.Source
	is_string(source)
	runtime_socket(source)
	f := finding(
		"SG-EDGE-010",
		sprintf("mounts the container runtime socket (%s)", [source]),
		array.concat(host_path, ["Mounts", i]),
	)
}

# METADATA
# title: Deployment template with unresolved placeholders
# description: >-
#   A deployment template (deployment.template.json of the IoT Edge tooling) names images and
#   settings by placeholders (${MODULES.name}, ${env:NAME}, $CONTAINER_REGISTRY,
#   <Container_Registry>) that are substituted when it is rendered; what the device will run is
#   unknown until then. The template is reported once, at its first placeholder, and the
#   placeholder images are not judged as images. Values under registryCredentials are not
#   counted.
# custom:
#   id: SG-EDGE-011
#   severity: high
#   remediation: >-
#     Render the template before gating (`iotedgedev genconfig`, or the release pipeline's
#     substitution step) and gate the generated config/deployment.*.json.
deny contains f if {
	template := input.template
	is_object(template)

	# The manifest's finding, not the module's: no module prefix.
	f := data.sealgate.lib.findings.finding(
		"SG-EDGE-011",
		sprintf(
			"deployment template with %d unresolved %s, the first %s at %s: render it before gating",
			[template.placeholders, placeholder_word(template.placeholders), template.first, template.field],
		),
		["template"],
	)
}

# METADATA
# title: Module shares the host IPC namespace
# description: >-
#   With IpcMode "host" a module shares the device's System V IPC and POSIX shared memory
#   (/dev/shm) with every host process: it can read and change another process's shared
#   memory segments, those of a model server included.
# custom:
#   id: SG-EDGE-012
#   severity: high
#   remediation: >-
#     Remove "IpcMode": "host" from HostConfig (the default, "private" or "shareable", keeps
#     the module's IPC to itself).
deny contains f if {
	host_config.IpcMode == "host"
	not exempt("SG-EDGE-012")
	f := finding(
		"SG-EDGE-012",
		"shares the host IPC namespace (HostConfig.IpcMode \"host\")",
		array.concat(host_path, ["IpcMode"]),
	)
}

# METADATA
# title: Module shares the host UTS namespace
# description: >-
#   With UTSMode "host" a module shares the device's hostname and domain name; with
#   CAP_SYS_ADMIN it can change them for every process of the device.
# custom:
#   id: SG-EDGE-013
#   severity: medium
#   remediation: >-
#     Remove "UTSMode": "host" from HostConfig; set the module's own name with "Hostname".
deny contains f if {
	host_config.UTSMode == "host"
	not exempt("SG-EDGE-013")
	f := finding(
		"SG-EDGE-013",
		"shares the host UTS namespace (HostConfig.UTSMode \"host\")",
		array.concat(host_path, ["UTSMode"]),
	)
}
