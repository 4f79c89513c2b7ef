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

ids contains f.id if some f in aks.deny

test_hardened_cluster_passes if count(ids) == 0 with input as cluster({})

test_control_plane_weakenings_denied if {
	ids == {"SG-AZ-030"} with input as json.remove(cluster({}), ["inputs/apiServerAccessProfile"])
	ids == {"SG-AZ-030"} with input as cluster({"apiServerAccessProfile": {"enablePrivateClusterPublicFQDN": true}})
	ids == {"SG-AZ-031"} with input as cluster({"disableLocalAccounts": false})
	ids == {"SG-AZ-032"} with input as json.remove(cluster({}), ["inputs/oidcIssuerProfile"])
	ids == {"SG-AZ-033"} with input as cluster({"networkProfile": {"networkPolicy": "none"}})
	ids == {"SG-AZ-034"} with input as json.remove(cluster({}), ["inputs/addonProfiles"])
	ids == {"SG-AZ-035"} with input as json.remove(cluster({}), ["inputs/securityProfile/defender"])
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
	ids == {"SG-AZ-037"} with input as one_zone
	count(ids) == 0 with input as object.union(one_zone, {"stack": "dev"})
}

test_sandboxed_pool if {
	pool := {"type": "azure-native:containerservice:AgentPool", "name": "models", "stack": "prod", "inputs": sandbox}
	count(ids) == 0 with input as pool
	ids == {"SG-AZ-038"} with input as json.remove(pool, ["inputs/nodeTaints"])
}

test_plan_needs_a_sandboxed_pool if {
	c := {"type": "azure-native:containerservice:ManagedCluster", "urn": "c", "inputs": {}}
	ids == {"SG-AZ-038"} with input as {"type": "pulumi:plan", "resources": [c]}
	p := {"type": "azure-native:containerservice:AgentPool", "urn": "p", "inputs": sandbox}
	count(ids) == 0 with input as {"type": "pulumi:plan", "resources": [c, p]}
	count(ids) == 0 with input as {"type": "pulumi:plan", "resources": []}
}
