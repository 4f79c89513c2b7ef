# METADATA
# title: Cluster workloads in the plan
# description: >-
#   Namespaces enforce the restricted Pod Security Standard (Pod Security Admission), every
#   namespace of the plan has a default-deny NetworkPolicy for ingress and egress, and model
#   servers use workload identity. The container policies check the same objects as
#   Kubernetes manifests.
# custom:
#   input: pulumi-plan
package sealgate.infra.workloads

import rego.v1

psa_label := "pod-security.kubernetes.io/enforce"

namespace := {"object": object.get(input, "inputs", {}), "path": ["inputs"]} if {
	data.sealgate.lib.infra.is_type(input, "kubernetes:core/v1:Namespace")
}

plan_objects(type_token) := [object.get(r, "inputs", {}) | some r in data.sealgate.lib.infra.plan_resources(
	input,
	type_token,
)]

default_deny(policy) if {
	object.get(policy, ["spec", "podSelector"], null) == {}
	types := {t | some t in data.sealgate.lib.infra.as_array(object.get(policy, ["spec", "policyTypes"], []))}
	{"Ingress", "Egress"} - types == set()
}

# METADATA
# title: Namespace without restricted Pod Security
# description: Pod Security Admission enforces the restricted profile in every namespace that the platform creates.
# custom:
#   id: SG-AZ-090
#   severity: high
#   remediation: >-
#     Label the namespace `pod-security.kubernetes.io/enforce: restricted`.
deny contains finding if {
	labels := object.get(namespace.object, ["metadata", "labels"], {})
	object.get(labels, psa_label, null) != "restricted"
	finding := data.sealgate.lib.findings.finding(
		"SG-AZ-090",
		sprintf(
			"namespace %v does not enforce the restricted Pod Security Standard (%s is %v)",
			[object.get(namespace.object, ["metadata", "name"], "?"), psa_label, object.get(labels, psa_label, null)],
		),
		array.concat(namespace.path, ["metadata", "labels"]),
	)
}

# METADATA
# title: Namespace without default-deny network policy
# description: Each namespace of the plan denies all ingress and egress unless another NetworkPolicy allows it.
# custom:
#   id: SG-AZ-091
#   severity: high
#   remediation: >-
#     Add a NetworkPolicy with `podSelector: {}` and `policyTypes: [Ingress, Egress]` in the namespace.
deny contains finding if {
	some ns in plan_objects("kubernetes:core/v1:Namespace")
	name := object.get(ns, ["metadata", "name"], null)
	denying := [p |
		some p in plan_objects("kubernetes:networking.k8s.io/v1:NetworkPolicy")
		object.get(p, ["metadata", "namespace"], null) == name
		default_deny(p)
	]
	count(denying) == 0
	finding := data.sealgate.lib.findings.finding(
		"SG-AZ-091",
		sprintf("namespace %v has no default-deny NetworkPolicy", [name]),
		["resources"],
	)
}

# METADATA
# title: Model server without workload identity
# description: >-
#   The model server never unwraps keys: only the key release service does, after it verified
#   the token of the pod's own named service account and asked the unseal policy. That
#   account is federated with the server's own Azure identity (workload identity; it holds
#   no Key Vault role), never the default account or the node's identity.
# custom:
#   id: SG-AZ-092
#   severity: high
#   remediation: >-
#     Label the pod template `azure.workload.identity/use: "true"` and set `serviceAccountName`
#     to the server's own account; give that identity no Key Vault role (keys come from the key
#     release service, `sealgate unseal --keyserver URL`).
deny contains finding if {
	data.sealgate.lib.infra.is_type(input, "kubernetes:apps/v1:Deployment")
	template := object.get(input, ["inputs", "spec", "template"], {})
	object.get(template, ["metadata", "labels", "sealgate.io/role"], null) == "model-server"
	not workload_identity(template)
	finding := data.sealgate.lib.infra.input_finding(
		"SG-AZ-092",
		"the model server does not use workload identity",
		["spec", "template"],
	)
}

workload_identity(template) if {
	object.get(template, ["metadata", "labels", "azure.workload.identity/use"], null) == "true"
	is_string(object.get(template, ["spec", "serviceAccountName"], null))
	object.get(template, ["spec", "serviceAccountName"], "default") != "default"
}
