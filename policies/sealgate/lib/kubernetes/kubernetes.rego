# METADATA
# title: Kubernetes workloads
# description: >-
#   Helpers shared by the Kubernetes policies: where an object keeps its pod spec (and the
#   path of that spec, so findings name the line), its containers of every type, and the
#   effective security settings of a container (its own value, else the pod's).
#   Every helper copes with missing, null or mistyped fields: a manifest is user input.
package sealgate.lib.kubernetes

import rego.v1

# Kinds that keep the pod spec under spec.template.spec.
template_kinds := {"Deployment", "StatefulSet", "DaemonSet", "ReplicaSet", "ReplicationController", "Job"}

# The path of the pod spec inside an object of the given kind (undefined for other kinds).
pod_spec_path("Pod") := ["spec"]

pod_spec_path(kind) := ["spec", "template", "spec"] if kind in template_kinds

pod_spec_path("CronJob") := ["spec", "jobTemplate", "spec", "template", "spec"]

# The pod of a workload object: its spec and the path to it, and the pod metadata and its
# path (the object's own for a Pod, the template's otherwise). Labels and annotations join
# the object's and the template's, the template winning. Undefined for non-workload objects
# and for a workload without a pod spec mapping.
pod(obj) := result if {
	is_object(obj)
	path := pod_spec_path(object.get(obj, "kind", null))
	spec := object.get(obj, path, null)
	is_object(spec)
	metadata_path := array.concat(array.slice(path, 0, count(path) - 1), ["metadata"])
	metadata := as_object(object.get(obj, metadata_path, {}))
	object_metadata := as_object(object.get(obj, "metadata", {}))
	result := {
		"kind": obj.kind,
		"spec": spec,
		"path": path,
		"metadata": metadata,
		"metadata_path": metadata_path,
		"labels": object.union(
			as_object(object.get(object_metadata, "labels", {})),
			as_object(object.get(metadata, "labels", {})),
		),
		"annotations": object.union(
			as_object(object.get(object_metadata, "annotations", {})),
			as_object(object.get(metadata, "annotations", {})),
		),
	}
}

container_fields := ["containers", "initContainers", "ephemeralContainers"]

# Every container of the pod, each as {container, field, index, name, path}; `field` is
# containers, initContainers or ephemeralContainers.
containers(p) := {entry |
	some field in container_fields
	some i, container in as_array(object.get(p.spec, field, []))
	is_object(container)
	entry := {
		"container": container,
		"field": field,
		"index": i,
		"name": container_name(container),
		"path": array.concat(p.path, [field, i]),
	}
}

container_name(container) := name if {
	name := container.name
	is_string(name)
} else := "<unnamed>"

# The securityContext of a pod spec or a container, {} when missing or not a mapping.
security_context(obj) := as_object(object.get(obj, "securityContext", {}))

# The path of the pod's securityContext if it has one, else of the pod spec.
pod_security_context_path(p) := array.concat(p.path, ["securityContext"]) if {
	is_object(object.get(p.spec, "securityContext", null))
} else := p.path

# The path of a container's securityContext if it has one, else of the container.
security_context_path(entry) := array.concat(entry.path, ["securityContext"]) if {
	is_object(object.get(entry.container, "securityContext", null))
} else := entry.path

# The value a setting takes for a container: the container's own securityContext value
# when set (not null), else the pod securityContext's, else null. `keys` is a path inside
# the securityContext, e.g. ["seccompProfile", "type"].
effective(p, entry, keys) := value if {
	value := object.get(security_context(entry.container), keys, null)
	value != null
} else := object.get(security_context(p.spec), keys, null)

as_object(value) := value if {
	is_object(value)
} else := {}

as_array(value) := value if {
	is_array(value)
} else := []

container_words := {
	"containers": "container",
	"initContainers": "init container",
	"ephemeralContainers": "ephemeral container",
}

# "container app", "init container unseal": how messages name a container.
describe(entry) := sprintf("%s %s", [container_words[entry.field], entry.name])

# Where a pod-level or container-level setting lives: one entry for the pod's
# securityContext and one per container, each {what, security_context, path}, `path` being
# the securityContext's own path (whether or not it is written).
security_scopes(p) := {pod_scope(p)} | {scope |
	some entry in containers(p)
	scope := {
		"what": describe(entry),
		"security_context": security_context(entry.container),
		"path": array.concat(entry.path, ["securityContext"]),
	}
}

pod_scope(p) := {
	"what": "the pod",
	"security_context": security_context(p.spec),
	"path": array.concat(p.path, ["securityContext"]),
}

# The path of `keys` inside `obj` (found at `base`), cut back to its longest prefix that is
# written (not missing, not null): where to point a finding about a missing setting.
nearest_path(obj, base, keys) := array.concat(base, array.slice(keys, 0, n)) if {
	n := max({k |
		some k in numbers.range(0, count(keys))
		object.get(obj, array.slice(keys, 0, k), null) != null
	})
}

# The nearest written path of a container's securityContext setting, e.g. ["runAsNonRoot"].
setting_path(entry, keys) := nearest_path(entry.container, entry.path, array.concat(["securityContext"], keys))

# The same for the pod's securityContext.
pod_setting_path(p, keys) := nearest_path(p.spec, p.path, array.concat(["securityContext"], keys))
