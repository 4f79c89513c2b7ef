package sealgate.infra.network_test

import rego.v1

import data.sealgate.infra.network

ids contains f.id if some f in network.deny

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
	count(ids) == 0 with input as {"type": "pulumi:plan", "resources": [vault, endpoint, zone_group]}
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
	apim := {
		"type": "azure-native:apimanagement:ApiManagementService",
		"urn": "urn:apim",
		"name": "apim",
		"inputs": {"virtualNetworkType": "Internal"},
	}
	count(ids) == 0 with input as {"type": "pulumi:plan", "resources": [apim]}
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
	count(ids) == 0 with input as nsg([rule("Internet", "443"), rule("VirtualNetwork", "22")])
	ids == {"SG-AZ-061"} with input as nsg([rule("*", "22")])
	ids == {"SG-AZ-061"} with input as nsg([rule("Internet", "*")])
	count(ids) == 0 with input as nsg([object.union(rule("Internet", "22"), {"access": "Deny"})])
}

test_subnet_needs_nsg if {
	ids == {"SG-AZ-062"} with input as {"type": "azure-native:network:Subnet", "inputs": {}}
	count(ids) == 0 with input as {
		"type": "azure-native:network:Subnet",
		"inputs": {"networkSecurityGroup": {"id": "/nsg"}},
	}
}
