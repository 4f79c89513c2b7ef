# METADATA
# title: AKS cluster
# description: >-
#   The cluster that serves models: private API server, Entra ID with Azure RBAC and no
#   local accounts, workload identity with the OIDC issuer, network policy, the Azure Policy
#   add-on, Defender, Azure Linux 3 nodes with host encryption and no SSH, and a sandboxed
#   (Kata VM, tainted) pool for model servers.
# custom:
#   input: pulumi-plan
package sealgate.infra.aks

import rego.v1

cluster if data.sealgate.lib.infra.is_type(input, "azure-native:containerservice:ManagedCluster")

inputs := data.sealgate.lib.infra.inputs(input)

settings := data.sealgate.lib.infra.settings(input)

required := data.config.infra.aks

# Every node pool of this input: {path, pool}, inline profiles and AgentPool resources.
pools contains {"path": ["agentPoolProfiles", i], "pool": pool} if {
	cluster
	some i, pool in data.sealgate.lib.infra.as_array(object.get(inputs, "agentPoolProfiles", []))
	is_object(pool)
}

pools contains {"path": [], "pool": inputs} if {
	data.sealgate.lib.infra.is_type(input, "azure-native:containerservice:AgentPool")
}

sandboxed(pool) if {
	object.get(pool, "workloadRuntime", null) == required.sandbox_runtime
	some taint in data.sealgate.lib.infra.as_array(object.get(pool, "nodeTaints", []))
	endswith(sprintf("%v", [taint]), ":NoSchedule")
}

# METADATA
# title: Public API server
# description: The Kubernetes API server has no public endpoint (private cluster, no public FQDN).
# custom:
#   id: SG-AZ-030
#   severity: high
#   remediation: >-
#     Set `apiServerAccessProfile.enablePrivateCluster: true` and `enablePrivateClusterPublicFQDN: false`.
deny contains finding if {
	cluster
	object.get(inputs, ["apiServerAccessProfile", "enablePrivateCluster"], null) != true
	finding := data.sealgate.lib.infra.input_finding(
		"SG-AZ-030",
		"the API server is public (enablePrivateCluster is not true)",
		["apiServerAccessProfile", "enablePrivateCluster"],
	)
}

deny contains finding if {
	cluster
	object.get(inputs, ["apiServerAccessProfile", "enablePrivateClusterPublicFQDN"], false) != false
	finding := data.sealgate.lib.infra.input_finding(
		"SG-AZ-030",
		"the private API server has a public FQDN",
		["apiServerAccessProfile", "enablePrivateClusterPublicFQDN"],
	)
}

# METADATA
# title: Cluster access outside Entra ID
# description: >-
#   Users authenticate with Entra ID, are authorized by Azure RBAC, and no local (certificate)
#   accounts exist.
# custom:
#   id: SG-AZ-031
#   severity: high
#   remediation: >-
#     Set `aadProfile.managed: true`, `aadProfile.enableAzureRBAC: true` and `disableLocalAccounts: true`.
deny contains finding if {
	cluster
	some path in [["aadProfile", "managed"], ["aadProfile", "enableAzureRBAC"], ["disableLocalAccounts"]]
	object.get(inputs, path, null) != true
	finding := data.sealgate.lib.infra.input_finding("SG-AZ-031", sprintf("%s is not true", [concat(".", path)]), path)
}

# METADATA
# title: No workload identity
# description: Pods reach Key Vault with federated workload identities (OIDC issuer), never with stored secrets.
# custom:
#   id: SG-AZ-032
#   severity: high
#   remediation: >-
#     Set `oidcIssuerProfile.enabled: true` and `securityProfile.workloadIdentity.enabled: true`.
deny contains finding if {
	cluster
	some path in [["oidcIssuerProfile", "enabled"], ["securityProfile", "workloadIdentity", "enabled"]]
	object.get(inputs, path, null) != true
	finding := data.sealgate.lib.infra.input_finding("SG-AZ-032", sprintf("%s is not true", [concat(".", path)]), path)
}

# METADATA
# title: No network policy engine
# description: Without a network policy engine the namespace's default-deny NetworkPolicies are not enforced.
# custom:
#   id: SG-AZ-033
#   severity: high
#   remediation: Set `networkProfile.networkPolicy` to cilium, calico or azure.
deny contains finding if {
	cluster
	engine := object.get(inputs, ["networkProfile", "networkPolicy"], null)
	not engine in required.network_policies
	finding := data.sealgate.lib.infra.input_finding(
		"SG-AZ-033",
		sprintf("network policy engine is %v", [engine]),
		["networkProfile", "networkPolicy"],
	)
}

# METADATA
# title: No Azure Policy add-on
# description: The Azure Policy add-on (Gatekeeper) enforces admission policies in the cluster.
# custom:
#   id: SG-AZ-034
#   severity: medium
#   remediation: >-
#     Set `addonProfiles.azurepolicy.enabled: true`.
deny contains finding if {
	cluster
	object.get(inputs, ["addonProfiles", "azurepolicy", "enabled"], null) != true
	finding := data.sealgate.lib.infra.input_finding(
		"SG-AZ-034",
		"the Azure Policy add-on is not enabled",
		["addonProfiles", "azurepolicy", "enabled"],
	)
}

# METADATA
# title: No Defender for Containers
# description: Defender's runtime security monitoring reports threats on nodes and pods.
# custom:
#   id: SG-AZ-035
#   severity: medium
#   remediation: >-
#     Set `securityProfile.defender.securityMonitoring.enabled: true` with a Log Analytics workspace.
deny contains finding if {
	cluster
	object.get(inputs, ["securityProfile", "defender", "securityMonitoring", "enabled"], null) != true
	finding := data.sealgate.lib.infra.input_finding(
		"SG-AZ-035",
		"Defender security monitoring is not enabled",
		["securityProfile", "defender", "securityMonitoring", "enabled"],
	)
}

# METADATA
# title: Node pool not hardened
# description: >-
#   Every node runs Azure Linux (osSKU AzureLinux, which pod sandboxing requires) with
#   encryption at host and SSH access disabled.
# custom:
#   id: SG-AZ-036
#   severity: high
#   remediation: >-
#     Set `osSKU: AzureLinux` (pod sandboxing requires it), `enableEncryptionAtHost: true` and
#     `securityProfile.sshAccess: Disabled` on every pool.
deny contains finding if {
	some p in pools
	os := object.get(p.pool, "osSKU", null)
	not os in required.node_os
	finding := data.sealgate.lib.infra.input_finding(
		"SG-AZ-036",
		sprintf("node pool %v runs %v, not AzureLinux", [object.get(p.pool, "name", object.get(input, "name", "?")), os]),
		array.concat(p.path, ["osSKU"]),
	)
}

deny contains finding if {
	some p in pools
	object.get(p.pool, "enableEncryptionAtHost", null) != true
	finding := data.sealgate.lib.infra.input_finding(
		"SG-AZ-036",
		sprintf("node pool %v does not encrypt at host", [object.get(p.pool, "name", object.get(input, "name", "?"))]),
		array.concat(p.path, ["enableEncryptionAtHost"]),
	)
}

deny contains finding if {
	some p in pools
	object.get(p.pool, ["securityProfile", "sshAccess"], null) != "Disabled"
	finding := data.sealgate.lib.infra.input_finding(
		"SG-AZ-036",
		sprintf("node pool %v allows SSH", [object.get(p.pool, "name", object.get(input, "name", "?"))]),
		array.concat(p.path, ["securityProfile", "sshAccess"]),
	)
}

# METADATA
# title: Cluster below the environment's availability
# description: >-
#   In production every node pool spans the required availability zones and the control plane
#   has the Standard tier (SLA).
# custom:
#   id: SG-AZ-037
#   setting: availability_zones
#   severity: medium
#   remediation: >-
#     Set `availabilityZones` on every pool and `sku.tier: Standard`.
deny contains finding if {
	some p in pools
	zones := data.sealgate.lib.infra.as_array(object.get(p.pool, "availabilityZones", []))
	count(zones) < settings.min_zones
	finding := data.sealgate.lib.infra.input_finding(
		"SG-AZ-037",
		sprintf(
			"node pool %v spans %d zones; this environment requires %d",
			[object.get(p.pool, "name", object.get(input, "name", "?")), count(zones), settings.min_zones],
		),
		array.concat(p.path, ["availabilityZones"]),
	)
}

deny contains finding if {
	cluster
	tier := object.get(inputs, ["sku", "tier"], null)
	not tier in settings.aks_tier
	finding := data.sealgate.lib.infra.input_finding(
		"SG-AZ-037",
		sprintf("control plane tier %v is not allowed in this environment", [tier]),
		["sku", "tier"],
	)
}

# METADATA
# title: No sandboxed model-serving pool
# description: >-
#   Model servers run in Kata VMs on a pool created with workloadRuntime KataVmIsolation and
#   tainted NoSchedule, so that only pods that tolerate the taint (the sandboxed model
#   servers) land on it. A plan must contain such a pool.
# custom:
#   id: SG-AZ-038
#   severity: high
#   remediation: >-
#     Add an AgentPool with `workloadRuntime: KataVmIsolation` and a `NoSchedule` taint.
deny contains finding if {
	data.sealgate.lib.infra.is_type(input, "azure-native:containerservice:AgentPool")
	object.get(inputs, "workloadRuntime", null) == required.sandbox_runtime
	not sandboxed(inputs)
	finding := data.sealgate.lib.infra.input_finding(
		"SG-AZ-038",
		"the sandboxed pool has no NoSchedule taint: other pods could land on it",
		["nodeTaints"],
	)
}

deny contains finding if {
	count(data.sealgate.lib.infra.plan_resources(input, "azure-native:containerservice:ManagedCluster")) > 0
	sandboxed_pools := [r |
		some r in data.sealgate.lib.infra.plan_resources(input, "azure-native:containerservice:AgentPool")
		sandboxed(object.get(r, "inputs", {}))
	]
	count(sandboxed_pools) == 0
	finding := data.sealgate.lib.findings.finding(
		"SG-AZ-038",
		"the plan has a cluster but no sandboxed (KataVmIsolation, tainted) node pool",
		["resources"],
	)
}
