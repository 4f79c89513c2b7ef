# METADATA
# title: Network isolation
# description: >-
#   Every data-plane service (Key Vault or Managed HSM, Storage, the registry, IoT Hub, DPS)
#   has a private endpoint in the plan, each with a private DNS zone group (API Management is
#   injected in the VNet instead, SG-AZ-050); NSGs open nothing to the Internet except HTTPS to
#   the WAF; every subnet has an NSG.
# custom:
#   input: pulumi-plan
package sealgate.infra.network

import rego.v1

config := data.config.infra.network

inputs := data.sealgate.lib.infra.inputs(input)

# METADATA
# title: Data-plane service without a private endpoint
# description: >-
#   A service whose public access is off must still be reachable from the cluster and the
#   pipeline: through a private endpoint (declared as the service's child resource).
# custom:
#   id: SG-AZ-060
#   severity: high
#   remediation: >-
#     Add a PrivateEndpoint for the service (a child of it, as `private_endpoint()` in
#     infra/components/common.py does).
deny contains finding if {
	object.get(input, "type", null) == "pulumi:plan"
	some type_token in config.private_endpoint_types
	some i, r in data.sealgate.lib.infra.as_array(object.get(input, "resources", []))
	is_object(r)
	object.get(r, "type", null) == type_token
	not data.sealgate.lib.infra.has_child(input, object.get(r, "urn", ""), "azure-native:network:PrivateEndpoint")
	finding := data.sealgate.lib.findings.finding(
		"SG-AZ-060",
		sprintf(
			"%s (%s) has no private endpoint%s",
			[
				object.get(r, "name", "?"),
				type_token,
				data.sealgate.lib.infra.deleted_note(input, object.get(r, "urn", ""), "azure-native:network:PrivateEndpoint"),
			],
		),
		["resources", i],
	)
}

# METADATA
# title: NSG open to the Internet
# description: Inbound rules allow traffic from the Internet only to HTTPS (and the gateway's management ports).
# custom:
#   id: SG-AZ-061
#   severity: critical
#   remediation: Restrict the rule's source or destination port; only the WAF subnet accepts 443 from the Internet.
deny contains finding if {
	data.sealgate.lib.infra.is_type(input, "azure-native:network:NetworkSecurityGroup")
	some i, rule in data.sealgate.lib.infra.as_array(object.get(inputs, "securityRules", []))
	is_object(rule)
	object.get(rule, "direction", null) == "Inbound"
	object.get(rule, "access", null) == "Allow"
	object.get(rule, "sourceAddressPrefix", null) in config.internet_sources
	port := object.get(rule, "destinationPortRange", "*")
	not port in config.internet_ports
	finding := data.sealgate.lib.infra.input_finding(
		"SG-AZ-061",
		sprintf(
			"rule %v allows port %v from %v",
			[object.get(rule, "name", i), port, object.get(rule, "sourceAddressPrefix", null)],
		),
		["securityRules", i],
	)
}

# METADATA
# title: Subnet without an NSG
# description: Every subnet has a network security group.
# custom:
#   id: SG-AZ-062
#   severity: medium
#   remediation: Set `networkSecurityGroup.id` on the subnet.
deny contains finding if {
	data.sealgate.lib.infra.is_type(input, "azure-native:network:Subnet")
	not is_string(object.get(inputs, ["networkSecurityGroup", "id"], null))
	finding := data.sealgate.lib.infra.input_finding(
		"SG-AZ-062",
		"the subnet has no network security group",
		["networkSecurityGroup"],
	)
}

# METADATA
# title: Private endpoint without a DNS zone group
# description: >-
#   A private endpoint's name resolves to its private address only through a private DNS
#   zone group; without one, clients resolve the service's public address, which refuses them.
# custom:
#   id: SG-AZ-063
#   severity: high
#   remediation: >-
#     Add a PrivateDnsZoneGroup for the endpoint (a child of it, as `private_endpoint()` in
#     infra/components/common.py does).
deny contains finding if {
	object.get(input, "type", null) == "pulumi:plan"
	some i, r in data.sealgate.lib.infra.as_array(object.get(input, "resources", []))
	is_object(r)
	object.get(r, "type", null) == "azure-native:network:PrivateEndpoint"
	not data.sealgate.lib.infra.has_child(input, object.get(r, "urn", ""), "azure-native:network:PrivateDnsZoneGroup")
	finding := data.sealgate.lib.findings.finding(
		"SG-AZ-063",
		sprintf(
			"private endpoint %s has no private DNS zone group%s",
			[
				object.get(r, "name", "?"),
				data.sealgate.lib.infra.deleted_note(input, object.get(r, "urn", ""), "azure-native:network:PrivateDnsZoneGroup"),
			],
		),
		["resources", i],
	)
}
