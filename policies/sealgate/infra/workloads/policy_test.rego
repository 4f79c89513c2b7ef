package sealgate.infra.workloads_test

import rego.v1

import data.sealgate.infra.workloads

ids contains f.id if some f in workloads.deny

ns(enforce) := {"metadata": {"name": "models", "labels": {"pod-security.kubernetes.io/enforce": enforce}}}

deny_all := {
	"metadata": {"name": "default-deny", "namespace": "models"},
	"spec": {"podSelector": {}, "policyTypes": ["Ingress", "Egress"]},
}

test_restricted_namespace_passes if {
	count(ids) == 0 with input as {"type": "kubernetes:core/v1:Namespace", "inputs": ns("restricted")}
	count(ids) == 0 with input as object.union({"apiVersion": "v1", "kind": "Namespace"}, ns("baseline"))
}

test_namespace_without_restricted_denied if {
	findings := workloads.deny with input as {"type": "kubernetes:core/v1:Namespace", "inputs": ns("baseline")}
	{[f.id, f.path] | some f in findings} == {["SG-AZ-090", ["inputs", "metadata", "labels"]]}
	ids == {"SG-AZ-090"} with input as {"type": "kubernetes:core/v1:Namespace", "inputs": {"metadata": {"name": "x"}}}
}

plan(policies) := {"type": "pulumi:plan", "resources": array.concat(
	[{"type": "kubernetes:core/v1:Namespace", "urn": "n", "inputs": ns("restricted")}],
	[{"type": "kubernetes:networking.k8s.io/v1:NetworkPolicy", "urn": "p", "inputs": p} | some p in policies],
)}

test_default_deny_per_namespace if {
	count(ids) == 0 with input as plan([deny_all])
	ids == {"SG-AZ-091"} with input as plan([])
	ids == {"SG-AZ-091"} with input as plan([object.union(deny_all, {"spec": {"policyTypes": ["Ingress"]}})])
	ids == {"SG-AZ-091"} with input as plan([object.union(deny_all, {"metadata": {"namespace": "other"}})])
}

deployment(labels, spec) := {"type": "kubernetes:apps/v1:Deployment", "inputs": {"spec": {"template": {
	"metadata": {"labels": object.union({"sealgate.io/role": "model-server"}, labels)},
	"spec": spec,
}}}}

test_model_server_workload_identity if {
	count(ids) == 0 with input as deployment(
		{"azure.workload.identity/use": "true"},
		{"serviceAccountName": "model-server"},
	)
	ids == {"SG-AZ-092"} with input as deployment({}, {"serviceAccountName": "model-server"})
	ids == {"SG-AZ-092"} with input as deployment({"azure.workload.identity/use": "true"}, {})
}
