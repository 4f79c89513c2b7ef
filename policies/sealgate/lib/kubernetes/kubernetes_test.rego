package sealgate.lib.kubernetes_test

import rego.v1

spec := {"containers": [{"name": "app", "image": "sealgate.azurecr.io/app:1"}]}

test_pod_spec_of_a_pod if {
	p := data.sealgate.lib.kubernetes.pod({"kind": "Pod", "metadata": {"name": "p", "labels": {"a": "1"}}, "spec": spec})
	p.path == ["spec"]
	p.metadata_path == ["metadata"]
	p.spec == spec
	p.labels == {"a": "1"}
}

test_pod_spec_of_template_kinds if {
	every kind in ["Deployment", "StatefulSet", "DaemonSet", "ReplicaSet", "ReplicationController", "Job"] {
		p := data.sealgate.lib.kubernetes.pod({"kind": kind, "spec": {"template": {"spec": spec}}})
		p.path == ["spec", "template", "spec"]
		p.metadata_path == ["spec", "template", "metadata"]
	}
}

test_pod_spec_of_a_cronjob if {
	p := data.sealgate.lib.kubernetes.pod({
		"kind": "CronJob",
		"spec": {"jobTemplate": {"spec": {"template": {"metadata": {"annotations": {"x": "t"}}, "spec": spec}}}},
	})
	p.path == ["spec", "jobTemplate", "spec", "template", "spec"]
	p.metadata_path == ["spec", "jobTemplate", "spec", "template", "metadata"]
	p.annotations == {"x": "t"}
}

test_template_labels_join_and_win if {
	p := data.sealgate.lib.kubernetes.pod({
		"kind": "Deployment",
		"metadata": {"labels": {"a": "object", "b": "object"}, "annotations": null},
		"spec": {"template": {"metadata": {"labels": {"b": "template"}}, "spec": spec}},
	})
	p.labels == {"a": "object", "b": "template"}
	p.annotations == {}
}

test_non_workloads_have_no_pod if {
	not data.sealgate.lib.kubernetes.pod({"kind": "Service", "spec": {"ports": []}})
	not data.sealgate.lib.kubernetes.pod({"kind": "Deployment", "spec": {"template": {"spec": null}}})
	not data.sealgate.lib.kubernetes.pod({"kind": "Deployment", "spec": "x"})
	not data.sealgate.lib.kubernetes.pod("not an object")
}

test_containers_of_every_type if {
	p := data.sealgate.lib.kubernetes.pod({"kind": "Pod", "spec": {
		"containers": [{"name": "app"}, "junk"],
		"initContainers": [{"name": "init"}],
		"ephemeralContainers": [{"image": "debug"}],
	}})
	entries := data.sealgate.lib.kubernetes.containers(p)
	{[e.field, e.index, e.name] | some e in entries} == {
		["containers", 0, "app"],
		["initContainers", 0, "init"],
		["ephemeralContainers", 0, "<unnamed>"],
	}
	some e in entries
	e.name == "init"
	e.path == ["spec", "initContainers", 0]
}

test_null_container_lists_are_empty if {
	p := data.sealgate.lib.kubernetes.pod({"kind": "Pod", "spec": {"containers": null}})
	count(data.sealgate.lib.kubernetes.containers(p)) == 0
}

test_security_context_paths if {
	p := data.sealgate.lib.kubernetes.pod({"kind": "Pod", "spec": {
		"securityContext": {"runAsNonRoot": true},
		"containers": [{"name": "a", "securityContext": {}}, {"name": "b", "securityContext": null}],
	}})
	data.sealgate.lib.kubernetes.pod_security_context_path(p) == ["spec", "securityContext"]
	paths := {data.sealgate.lib.kubernetes.security_context_path(e) | some e in data.sealgate.lib.kubernetes.containers(p)}
	paths == {["spec", "containers", 0, "securityContext"], ["spec", "containers", 1]}
	bare := data.sealgate.lib.kubernetes.pod({"kind": "Pod", "spec": {"containers": []}})
	data.sealgate.lib.kubernetes.pod_security_context_path(bare) == ["spec"]
}

test_effective_setting_precedence if {
	p := data.sealgate.lib.kubernetes.pod({"kind": "Pod", "spec": {
		"securityContext": {"runAsNonRoot": true, "seccompProfile": {"type": "RuntimeDefault"}},
		"containers": [
			{"name": "own", "securityContext": {"runAsNonRoot": false, "seccompProfile": {"type": "Localhost"}}},
			{"name": "inherits"},
			{"name": "null", "securityContext": {"runAsNonRoot": null}},
		],
	}})
	values := {e.name: [
		data.sealgate.lib.kubernetes.effective(p, e, ["runAsNonRoot"]),
		data.sealgate.lib.kubernetes.effective(p, e, ["seccompProfile", "type"]),
		data.sealgate.lib.kubernetes.effective(p, e, ["runAsUser"]),
	] |
		some e in data.sealgate.lib.kubernetes.containers(p)
	}
	values == {
		"own": [false, "Localhost", null],
		"inherits": [true, "RuntimeDefault", null],
		"null": [true, "RuntimeDefault", null],
	}
}

test_describe_and_scopes if {
	p := data.sealgate.lib.kubernetes.pod({"kind": "Pod", "spec": {
		"securityContext": {"runAsUser": 1000},
		"initContainers": [{"name": "unseal", "securityContext": {"runAsUser": 0}}],
	}})
	described := {data.sealgate.lib.kubernetes.describe(e) | some e in data.sealgate.lib.kubernetes.containers(p)}
	described == {"init container unseal"}
	data.sealgate.lib.kubernetes.security_scopes(p) == {
		{"what": "the pod", "security_context": {"runAsUser": 1000}, "path": ["spec", "securityContext"]},
		{
			"what": "init container unseal",
			"security_context": {"runAsUser": 0},
			"path": ["spec", "initContainers", 0, "securityContext"],
		},
	}
}

test_nearest_path if {
	obj := {"securityContext": {"capabilities": {"add": ["CHOWN"]}, "runAsUser": null}}
	data.sealgate.lib.kubernetes.nearest_path(
		obj,
		["c", 0],
		["securityContext", "capabilities", "drop"],
	) == ["c", 0, "securityContext", "capabilities"]
	data.sealgate.lib.kubernetes.nearest_path(
		obj,
		["c", 0],
		["securityContext", "runAsUser"],
	) == ["c", 0, "securityContext"]
	data.sealgate.lib.kubernetes.nearest_path({}, ["c", 0], ["securityContext", "runAsUser"]) == ["c", 0]
	data.sealgate.lib.kubernetes.nearest_path(
		obj,
		[],
		["securityContext", "capabilities", "add"],
	) == ["securityContext", "capabilities", "add"]
}

test_setting_paths if {
	p := data.sealgate.lib.kubernetes.pod({"kind": "Pod", "spec": {
		"securityContext": {"seccompProfile": {}},
		"containers": [{"name": "a", "securityContext": {"runAsNonRoot": false}}],
	}})
	data.sealgate.lib.kubernetes.pod_setting_path(
		p,
		["seccompProfile", "type"],
	) == ["spec", "securityContext", "seccompProfile"]
	paths := {[
		data.sealgate.lib.kubernetes.setting_path(e, ["runAsNonRoot"]),
		data.sealgate.lib.kubernetes.setting_path(e, ["capabilities", "drop"]),
	] |
		some e in data.sealgate.lib.kubernetes.containers(p)
	}
	paths == {[["spec", "containers", 0, "securityContext", "runAsNonRoot"], ["spec", "containers", 0, "securityContext"]]}
}
