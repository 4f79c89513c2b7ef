package sealgate.infra.aks_test

import rego.v1

import data.sealgate.infra.aks

node_pool := {
	"name": "system",
	"osSKU": "AzureLinux",
	"enableEncryptionAtHost": true,
	"securityProfile": {"sshAccess": "Disabled"},
	"availabilityZones": ["1", "2", "3"],
}

cluster(inputs) := {"type": "azure-native:containerservice:ManagedCluster", "stack": "prod", "inputs": object.union(
	{
		"sku": {"tier": "Standard"},
		"apiServerAccessProfile": {"enablePrivateCluster": true, "enablePrivateClusterPublicFQDN": false},
		"aadProfile": {"managed": true, "enableAzureRBAC": true},
		"disableLocalAccounts": true,
		"oidcIssuerProfile": {"enabled": true},
		"securityProfile": {"workloadIdentity": {"enabled": true}, "defender": {"securityMonitoring": {"enabled": true}}},
		"networkProfile": {"networkPolicy": "cilium"},
		"addonProfiles": {"azurepolicy": {"enabled": true}},
		"agentPoolProfiles": [node_pool],
	},
	inputs,
)}

sandbox := object.union(
	node_pool,
	{"name": "models", "workloadRuntime": "KataVmIsolation", "nodeTaints": ["sealgate.io/sandboxed=true:NoSchedule"]},
)

ids(doc) := {f.id | some f in aks.deny with input as doc}

test_hardened_cluster_passes if count(ids(cluster({}))) == 0

test_control_plane_weakenings_denied if {
	ids(json.remove(cluster({}), ["inputs/apiServerAccessProfile"])) == {"SG-AZ-030"}
	ids(cluster({"apiServerAccessProfile": {"enablePrivateClusterPublicFQDN": true}})) == {"SG-AZ-030"}
	ids(cluster({"disableLocalAccounts": false})) == {"SG-AZ-031"}
	ids(json.remove(cluster({}), ["inputs/oidcIssuerProfile"])) == {"SG-AZ-032"}
	ids(cluster({"networkProfile": {"networkPolicy": "none"}})) == {"SG-AZ-033"}
	ids(json.remove(cluster({}), ["inputs/addonProfiles"])) == {"SG-AZ-034"}
	ids(json.remove(cluster({}), ["inputs/securityProfile/defender"])) == {"SG-AZ-035"}
}

test_node_pool_hardening_points_at_the_pool if {
	findings := aks.deny with input as cluster({"agentPoolProfiles": [object.union(node_pool, {"osSKU": "Ubuntu"})]})
	{f.path | some f in findings} == {["inputs", "agentPoolProfiles", 0, "osSKU"]}
}

# Pod sandboxing requires osSKU AzureLinux; the AzureLinux3 SKU name is refused for it.
test_sandboxing_needs_the_azure_linux_sku if {
	findings := aks.deny with input as cluster({"agentPoolProfiles": [object.union(node_pool, {"osSKU": "AzureLinux3"})]})
	{f.id | some f in findings} == {"SG-AZ-036"}
}

test_zones_and_tier_are_environment_aware if {
	one_zone := cluster({
		"sku": {"tier": "Free"},
		"agentPoolProfiles": [object.union(node_pool, {"availabilityZones": ["1"]})],
	})
	ids(one_zone) == {"SG-AZ-037"}
	count(ids(object.union(one_zone, {"stack": "dev"}))) == 0
}

test_sandboxed_pool if {
	pool := {"type": "azure-native:containerservice:AgentPool", "name": "models", "stack": "prod", "inputs": sandbox}
	count(ids(pool)) == 0
	ids(json.remove(pool, ["inputs/nodeTaints"])) == {"SG-AZ-038"}
}

test_plan_needs_a_sandboxed_pool if {
	c := {"type": "azure-native:containerservice:ManagedCluster", "urn": "c", "inputs": {}}
	ids({"type": "pulumi:plan", "resources": [c]}) == {"SG-AZ-038"}
	p := {"type": "azure-native:containerservice:AgentPool", "urn": "p", "inputs": sandbox}
	count(ids({"type": "pulumi:plan", "resources": [c, p]})) == 0
	count(ids({"type": "pulumi:plan", "resources": []})) == 0
}
