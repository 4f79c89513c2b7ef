package sealgate.infra.workloads_test

import rego.v1

import data.sealgate.infra.workloads

ids(doc) := {f.id | some f in workloads.deny with input as doc}

ns(enforce) := {"metadata": {"name": "models", "labels": {"pod-security.kubernetes.io/enforce": enforce}}}

deny_all := {
	"metadata": {"name": "default-deny", "namespace": "models"},
	"spec": {"podSelector": {}, "policyTypes": ["Ingress", "Egress"]},
}

test_restricted_namespace_passes if {
	count(ids({"type": "kubernetes:core/v1:Namespace", "inputs": ns("restricted")})) == 0
	count(ids(object.union({"apiVersion": "v1", "kind": "Namespace"}, ns("baseline")))) == 0
}

test_namespace_without_restricted_denied if {
	findings := workloads.deny with input as {"type": "kubernetes:core/v1:Namespace", "inputs": ns("baseline")}
	{[f.id, f.path] | some f in findings} == {["SG-AZ-090", ["inputs", "metadata", "labels"]]}
	ids({"type": "kubernetes:core/v1:Namespace", "inputs": {"metadata": {"name": "x"}}}) == {"SG-AZ-090"}
}

plan(policies) := {"type": "pulumi:plan", "resources": array.concat(
	[{"type": "kubernetes:core/v1:Namespace", "urn": "n", "inputs": ns("restricted")}],
	[{"type": "kubernetes:networking.k8s.io/v1:NetworkPolicy", "urn": "p", "inputs": p} | some p in policies],
)}

test_default_deny_per_namespace if {
	count(ids(plan([deny_all]))) == 0
	ids(plan([])) == {"SG-AZ-091"}
	ids(plan([object.union(deny_all, {"spec": {"policyTypes": ["Ingress"]}})])) == {"SG-AZ-091"}
	ids(plan([object.union(deny_all, {"metadata": {"namespace": "other"}})])) == {"SG-AZ-091"}
}

deployment(labels, spec) := {"type": "kubernetes:apps/v1:Deployment", "inputs": {"spec": {"template": {
	"metadata": {"labels": object.union({"sealgate.io/role": "model-server"}, labels)},
	"spec": spec,
}}}}

test_model_server_workload_identity if {
	count(ids(deployment({"azure.workload.identity/use": "true"}, {"serviceAccountName": "model-server"}))) == 0
	ids(deployment({}, {"serviceAccountName": "model-server"})) == {"SG-AZ-092"}
	ids(deployment({"azure.workload.identity/use": "true"}, {})) == {"SG-AZ-092"}
}
