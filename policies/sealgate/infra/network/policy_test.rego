package sealgate.infra.network_test

import rego.v1

import data.sealgate.infra.network

ids(doc) := {f.id | some f in network.deny with input as doc}

vault := {"type": "azure-native:keyvault:Vault", "urn": "urn:v", "name": "v", "parent": "", "inputs": {}}

endpoint := {
	"type": "azure-native:network:PrivateEndpoint",
	"urn": "urn:pe",
	"name": "pe",
	"parent": "urn:v",
	"inputs": {},
}

zone_group := {
	"type": "azure-native:network:PrivateDnsZoneGroup",
	"urn": "urn:zg",
	"name": "zg",
	"parent": "urn:pe",
	"inputs": {},
}

test_service_with_private_endpoint_passes if {
	count(ids({"type": "pulumi:plan", "resources": [vault, endpoint, zone_group]})) == 0
}

test_service_without_private_endpoint_denied if {
	findings := network.deny with input as {
		"type": "pulumi:plan",
		"resources": [vault, object.union(endpoint, {"parent": "urn:other"}), zone_group],
	}
	{[f.id, f.path] | some f in findings} == {["SG-AZ-060", ["resources", 0]]}
}

# API Management is injected in the VNet (Internal mode) instead: Azure refuses a private
# endpoint on an injected service, so none is required of it (SG-AZ-050 holds its VNet mode).
test_injected_api_management_needs_no_private_endpoint if {
	apim := {"type": "azure-native:apimanagement:ApiManagementService", "urn": "urn:apim", "name": "apim", "inputs": {"virtualNetworkType": "Internal"}}
	count(ids({"type": "pulumi:plan", "resources": [apim]})) == 0
}

test_endpoint_without_dns_zone_group_denied if {
	findings := network.deny with input as {"type": "pulumi:plan", "resources": [vault, endpoint]}
	{[f.id, f.path, f.msg] | some f in findings} == {[
		"SG-AZ-063",
		["resources", 1],
		"private endpoint pe has no private DNS zone group",
	]}
}

test_deleted_dns_zone_group_is_named if {
	findings := network.deny with input as {"type": "pulumi:plan", "resources": [vault, endpoint], "deleted": [zone_group]}
	[f.msg | some f in findings] == ["private endpoint pe has no private DNS zone group (this change deletes zg)"]
}

nsg(rules) := {"type": "azure-native:network:NetworkSecurityGroup", "inputs": {"securityRules": rules}}

rule(source, port) := {
	"name": "r",
	"direction": "Inbound",
	"access": "Allow",
	"sourceAddressPrefix": source,
	"destinationPortRange": port,
}

test_nsg_rules if {
	count(ids(nsg([rule("Internet", "443"), rule("VirtualNetwork", "22")]))) == 0
	ids(nsg([rule("*", "22")])) == {"SG-AZ-061"}
	ids(nsg([rule("Internet", "*")])) == {"SG-AZ-061"}
	count(ids(nsg([object.union(rule("Internet", "22"), {"access": "Deny"})]))) == 0
}

test_subnet_needs_nsg if {
	ids({"type": "azure-native:network:Subnet", "inputs": {}}) == {"SG-AZ-062"}
	count(ids({"type": "azure-native:network:Subnet", "inputs": {"networkSecurityGroup": {"id": "/nsg"}}})) == 0
}
