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

ids(doc) := {f.id | some f in recipients.deny with input as doc with data.config.promotion.stages as stages}

test_sealed_only_to_the_stage_kek_is_allowed if {
	ids(facts("prod", [{"type": "keyvault", "key_id": kek}])) == set()

	# a local: KEK that only the service reads, listed for the stage (development)
	ids(facts("prod", [{"type": "local", "key_id": "local-dev-kek"}])) == set()
}

test_consumer_held_key_is_denied_even_next_to_the_kek if {
	tpm := {"type": "tpm", "key_id": "device-key"}
	ids(facts("prod", [{"type": "keyvault", "key_id": kek}, tpm])) == {"SG-PROMO-051"}
	ids(facts("prod", [{"type": "local", "key_id": "my-laptop"}])) == {"SG-PROMO-051"}
}

test_another_kek_is_denied if {
	other := {"type": "keyvault", "key_id": "https://vault.vault.azure.net/keys/sealgate-kek-dev/1"}
	ids(facts("prod", [other])) == {"SG-PROMO-052"}
}

test_unverified_model_has_no_recipients if {
	ids({"request": {"name": "m", "to": "prod"}, "model": {"verified": false}}) == {"SG-PROMO-053"}
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
	ids(facts("staging", [{"type": "tpm", "key_id": "device-key"}])) == set()
	ids(facts("dev", [{"type": "local", "key_id": "my-laptop"}])) == set()
}
