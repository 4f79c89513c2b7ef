package sealgate.promotion.recipients_test

import rego.v1

import data.sealgate.promotion.recipients

kek := "https://vault.vault.azure.net/keys/sealgate-kek-prod/0123456789abcdef"

stages := [
	{"name": "dev"},
	{"name": "staging"},
	{"name": "prod", "enforced": true, "recipients": [kek, "local-dev-kek"]},
]

facts(to, sealed_to) := {
	"request": {"name": "m", "version": "2.0.0", "to": to},
	"model": {"verified": true, "recipients": sealed_to},
}

ids(findings) := {f.id | some f in findings}

test_sealed_only_to_the_stage_kek_is_allowed if {
	doc1 := facts("prod", [{"type": "keyvault", "key_id": kek}])
	ids(recipients.deny) == set() with input as doc1 with data.config.promotion.stages as stages

	# a local: KEK that only the service reads, listed for the stage (development)
	doc2 := facts("prod", [{"type": "local", "key_id": "local-dev-kek"}])
	ids(recipients.deny) == set() with input as doc2 with data.config.promotion.stages as stages
}

test_consumer_held_key_is_denied_even_next_to_the_kek if {
	tpm := {"type": "tpm", "key_id": "device-key"}
	doc1 := facts("prod", [{"type": "keyvault", "key_id": kek}, tpm])
	ids(recipients.deny) == {"SG-PROMO-051"} with input as doc1 with data.config.promotion.stages as stages
	doc2 := facts("prod", [{"type": "local", "key_id": "my-laptop"}])
	ids(recipients.deny) == {"SG-PROMO-051"} with input as doc2 with data.config.promotion.stages as stages
}

test_another_kek_is_denied if {
	other := {"type": "keyvault", "key_id": "https://vault.vault.azure.net/keys/sealgate-kek-dev/1"}
	doc1 := facts("prod", [other])
	ids(recipients.deny) == {"SG-PROMO-052"} with input as doc1 with data.config.promotion.stages as stages
}

test_unverified_model_has_no_recipients if {
	doc1 := {"request": {"name": "m", "to": "prod"}, "model": {"verified": false}}
	ids(recipients.deny) == {"SG-PROMO-053"} with input as doc1 with data.config.promotion.stages as stages
}

test_enforced_stage_without_keks_denies_everything if {
	bare := [{"name": "prod", "enforced": true}]
	found := {f.id | some f in recipients.deny with input as facts(
		"prod",
		[{"type": "keyvault", "key_id": kek}],
	)
		with data.config.promotion.stages as bare}
	found == {"SG-PROMO-050", "SG-PROMO-052"}
}

test_stages_that_are_not_enforced_accept_any_recipient if {
	doc1 := facts("staging", [{"type": "tpm", "key_id": "device-key"}])
	ids(recipients.deny) == set() with input as doc1 with data.config.promotion.stages as stages
	doc2 := facts("dev", [{"type": "local", "key_id": "my-laptop"}])
	ids(recipients.deny) == set() with input as doc2 with data.config.promotion.stages as stages
}
