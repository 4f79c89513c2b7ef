package sealgate.lib.findings_test

import rego.v1

test_a_finding_has_id_msg_and_path_only if {
	data.sealgate.lib.findings.finding("ACME-K8S-001", "bad", ["spec", 0]) == {
		"id": "ACME-K8S-001",
		"msg": "bad",
		"path": ["spec", 0],
	}
}
