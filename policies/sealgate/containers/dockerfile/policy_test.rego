package sealgate.containers.dockerfile_test

import rego.v1

import data.sealgate.containers.dockerfile

digest := "sha256:d92c6a81b2ff50096bcda80885427d1f59a25b5f483f7055523504925d16ab23"

base := sprintf("mcr.microsoft.com/azurelinux/base/core:3.0@%s", [digest])

allowed_registries := ["mcr.microsoft.com", "sealgate.azurecr.io"]

from_image(image) := {"raw": image, "image": image, "stage": null, "scratch": false, "unresolved": []}

from_stage(index) := {"raw": "build", "image": "build", "stage": index, "scratch": false, "unresolved": []}

instruction(cmd, value, args) := {
	"cmd": cmd, "value": value, "args": args, "json_form": false, "flags": {}, "heredocs": [],
	"line": 1, "end_line": 1,
}

# The parser splits RUN scripts into commands (inputs/_shell_commands.py, tested there); the
# scripts here split at &&, ||, ; and | into space-separated words.
run(script) := object.union(instruction("RUN", script, [script]), {"commands": script_commands(script)})

script_commands(script) := [{"words": words, "names": names, "programs": [names[first]]} |
	some segment in regex.split(`&&|\|\||[;|\n]`, script)
	words := [trim(w, "\"'") | some w in split(trim_space(segment), " "); w != ""; not regex.match(`^[0-9&]*[<>]`, w)]
	count(words) > 0
	names := [regex.replace(regex.replace(w, `^.*/`, ""), `([^0-9.])[0-9.]+$`, "${1}") | some w in words]
	first := min({k | some k, w in words; not contains(w, "=")} | {count(words) - 1})
]

env(words) := instruction("ENV", concat(" ", words), words)

arg(words) := instruction("ARG", concat(" ", words), words)

healthcheck := instruction("HEALTHCHECK", "CMD [\"/app/health\"]", ["CMD [\"/app/health\"]"])

user_10001 := instruction("USER", "10001", ["10001"])

stage(index, from, instructions, user) := object.union(
	{"index": index, "name": null, "from": from},
	{"instructions": instructions, "user": user},
)

document(stages) := {"args": {}, "stages": stages, "final_stage": count(stages) - 1}

# One hardened stage with extra instructions before its USER and HEALTHCHECK.
hardened(instructions) := document([stage(
	0,
	from_image(base),
	array.concat(instructions, [user_10001, healthcheck]),
	"10001",
)])

ids(findings) := {f.id | some f in findings}

paths(findings, id) := {f.path | some f in findings; f.id == id}
test_hardened_dockerfile_passes if {
	count(dockerfile.deny) == 0 with input as hardened([])
		with data.config.registries.allowed as allowed_registries
}

test_other_inputs_yield_nothing if {
	count(dockerfile.deny) == 0 with input as {"waivers": []}
		with data.config.registries.allowed as allowed_registries
	count(dockerfile.deny) == 0 with input as {"name": "model", "createOptions": {}}
		with data.config.registries.allowed as allowed_registries
}

# SG-DOCKER-001 / SG-DOCKER-002: base images

test_tagged_base_image_is_denied if {
	doc := document([stage(
		0,
		from_image("mcr.microsoft.com/azurelinux/base/core:3.0"),
		[user_10001, healthcheck],
		"10001",
	)])
	ids(dockerfile.deny) == {"SG-DOCKER-001"} with input as doc
		with data.config.registries.allowed as allowed_registries
	paths(dockerfile.deny, "SG-DOCKER-001") == {["stages", 0, "from"]} with input as doc
		with data.config.registries.allowed as allowed_registries
}

test_docker_hub_base_image_is_denied if {
	doc := document([stage(0, from_image(sprintf("python@%s", [digest])), [user_10001, healthcheck], "10001")])
	ids(dockerfile.deny) == {"SG-DOCKER-002"} with input as doc
		with data.config.registries.allowed as allowed_registries
	some f in dockerfile.deny with input as doc
		with data.config.registries.allowed as allowed_registries
	contains(f.msg, "docker.io")
}

test_scratch_and_stage_references_need_no_digest if {
	scratch := object.union(from_image("scratch"), {"scratch": true})
	doc := document([
		stage(0, from_image(base), [], null),
		stage(1, scratch, [user_10001, healthcheck], "10001"),
		stage(2, from_stage(1), [], "10001"),
	])
	count(dockerfile.deny) == 0 with input as doc
		with data.config.registries.allowed as allowed_registries
}

test_every_external_stage_is_checked if {
	doc := document([
		stage(0, from_image("golang:1.23"), [], null),
		stage(1, from_image(base), [user_10001, healthcheck], "10001"),
	])
	ids(dockerfile.deny) == {"SG-DOCKER-001", "SG-DOCKER-002"} with input as doc
		with data.config.registries.allowed as allowed_registries
	paths(dockerfile.deny, "SG-DOCKER-001") == {["stages", 0, "from"]} with input as doc
		with data.config.registries.allowed as allowed_registries
}

test_arg_substituted_base_image_is_judged_by_its_value if {
	resolved := object.union(from_image(base), {"raw": "${BASE}"})
	count(dockerfile.deny) == 0 with input as document([stage(0, resolved, [user_10001, healthcheck], "10001")])
		with data.config.registries.allowed as allowed_registries

	# ARG REGISTRY with no default: FROM ${REGISTRY}/model@sha256:... resolves to "/model@..."
	unresolved := object.union(
		from_image(sprintf("/model@%s", [digest])),
		{"raw": "${REGISTRY}/model@sha256:...", "unresolved": ["REGISTRY"]},
	)
	doc := document([stage(0, unresolved, [user_10001, healthcheck], "10001")])
	ids(dockerfile.deny) == {"SG-DOCKER-002"} with input as doc
		with data.config.registries.allowed as allowed_registries
	some f in dockerfile.deny with input as doc
		with data.config.registries.allowed as allowed_registries
	contains(f.msg, "no value for REGISTRY")
}

# SG-DOCKER-003: the final stage's user

test_missing_user_is_denied_at_the_final_from if {
	doc := document([stage(0, from_image(base), [healthcheck], null)])
	ids(dockerfile.deny) == {"SG-DOCKER-003"} with input as doc
		with data.config.registries.allowed as allowed_registries
	paths(dockerfile.deny, "SG-DOCKER-003") == {["stages", 0, "from"]} with input as doc
		with data.config.registries.allowed as allowed_registries
}

test_root_users_are_denied if {
	every user in ["root", "0", "0:0", "000", "root:app", "0:10001"] {
		doc := document([stage(0, from_image(base), [healthcheck], user)])
		ids(dockerfile.deny) == {"SG-DOCKER-003"} with input as doc
			with data.config.registries.allowed as allowed_registries
		paths(dockerfile.deny, "SG-DOCKER-003") == {["stages", 0, "user"]} with input as doc
			with data.config.registries.allowed as allowed_registries
	}
}

test_non_root_users_pass if {
	every user in ["10001", "10001:10001", "app", "app:root", "$APP_UID", "rootless", "100"] {
		count(dockerfile.deny) == 0 with input as document([stage(0, from_image(base), [healthcheck], user)])
			with data.config.registries.allowed as allowed_registries
	}
}

test_only_the_final_stage_must_be_non_root if {
	doc := document([
		stage(0, from_image(base), [instruction("USER", "root", ["root"])], "root"),
		stage(1, from_image(base), [user_10001, healthcheck], "10001"),
	])
	count(dockerfile.deny) == 0 with input as doc
		with data.config.registries.allowed as allowed_registries

	reversed := document([
		stage(0, from_image(base), [user_10001], "10001"),
		stage(1, from_image(base), [healthcheck], "root"),
	])
	paths(dockerfile.deny, "SG-DOCKER-003") == {["stages", 1, "user"]} with input as reversed
		with data.config.registries.allowed as allowed_registries
}

# SG-DOCKER-004: ADD from remote sources

test_add_from_url_is_denied if {
	add := instruction("ADD", "https://example.com/model.onnx /models/", ["https://example.com/model.onnx", "/models/"])
	doc := hardened([add])
	ids(dockerfile.deny) == {"SG-DOCKER-004"} with input as doc
		with data.config.registries.allowed as allowed_registries
	paths(dockerfile.deny, "SG-DOCKER-004") == {["stages", 0, "instructions", 0]} with input as doc
		with data.config.registries.allowed as allowed_registries
}

test_add_from_url_in_exec_form_is_denied if {
	add := object.union(
		instruction("ADD", "[\"ftp://mirror/x.tgz\", \"/opt/\"]", ["ftp://mirror/x.tgz", "/opt/"]),
		{"json_form": true},
	)
	ids(dockerfile.deny) == {"SG-DOCKER-004"} with input as hardened([add])
		with data.config.registries.allowed as allowed_registries
}

test_add_with_verified_checksum_passes if {
	add := object.union(
		instruction("ADD", "https://example.com/ort.tgz /tmp/", ["https://example.com/ort.tgz", "/tmp/"]),
		{"flags": {"checksum": [concat("", ["sha256:", substring(digest, 7, 64)])]}},
	)
	count(dockerfile.deny) == 0 with input as hardened([add])
		with data.config.registries.allowed as allowed_registries
}

test_add_with_a_weak_checksum_is_denied if {
	add := object.union(
		instruction("ADD", "https://example.com/ort.tgz /tmp/", ["https://example.com/ort.tgz", "/tmp/"]),
		{"flags": {"checksum": ["md5:0123"]}},
	)
	ids(dockerfile.deny) == {"SG-DOCKER-004"} with input as hardened([add])
		with data.config.registries.allowed as allowed_registries
}

test_add_from_git_is_denied_even_with_a_checksum if {
	every source in ["https://github.com/org/repo.git#v1", "git@github.com:org/repo.git", "git://example.com/repo"] {
		add := object.union(
			instruction("ADD", concat(" ", [source, "/src"]), [source, "/src"]),
			{"flags": {"checksum": [concat("", ["sha256:", substring(digest, 7, 64)])]}},
		)
		ids(dockerfile.deny) == {"SG-DOCKER-004"} with input as hardened([add])
			with data.config.registries.allowed as allowed_registries
	}
}

test_local_add_passes if {
	count(dockerfile.deny) == 0 with input as hardened([instruction("ADD", "app.tar.gz /opt/", ["app.tar.gz", "/opt/"])])
		with data.config.registries.allowed as allowed_registries
}

# SG-DOCKER-005: secrets in ENV and ARG

test_secret_names_are_denied if {
	every name in [
		"HF_TOKEN", "DB_PASSWORD", "dbPassword", "OPENAI_API_KEY", "apiKey", "CLIENT_SECRET",
		"AZURE_STORAGE_CONNECTION_STRING", "STORAGE_ACCOUNT_KEY", "AWS_SECRET_ACCESS_KEY",
		"REGISTRY_CREDENTIALS", "SSH_PRIVATE_KEY", "ADO_PAT", "SIGNING_KEY",
	] {
		doc := hardened([env([concat("=", [name, "x"])])])
		ids(dockerfile.deny) == {"SG-DOCKER-005"} with input as doc
			with data.config.registries.allowed as allowed_registries
		paths(dockerfile.deny, "SG-DOCKER-005") == {["stages", 0, "instructions", 0]} with input as doc
			with data.config.registries.allowed as allowed_registries
	}
}

test_ordinary_names_are_not_secrets if {
	words := [
		"GPG_KEY=A035C8C19219BA821ECEA86B64E628F8D684696D", "PUBLIC_KEY=/etc/release.pub",
		"TOKENIZERS_PARALLELISM=false", "MAX_TOKENS=512", "MAX_NEW_TOKENS=256",
		"POSTGRES_PASSWORD_FILE=/run/secrets/db", "HF_TOKEN_PATH=/run/secrets/hf",
		"KEY_VAULT_NAME=kv-models", "KEYRING=/usr/share/keyrings/x.gpg", "PWD=/app",
		"SECRET_NAME=model-key", "ACCESS_KEY_ID=AKIDEXAMPLE", "BYPASS=1", "PASSTHROUGH=1",
	]
	count(dockerfile.deny) == 0 with input as hardened([env(words)])
		with data.config.registries.allowed as allowed_registries
}

test_arg_without_default_still_leaks_into_history if {
	doc := hardened([arg(["NPM_TOKEN"])])
	ids(dockerfile.deny) == {"SG-DOCKER-005"} with input as doc
		with data.config.registries.allowed as allowed_registries
}

test_global_arg_is_located_at_its_line if {
	doc := object.union(hardened([]), {"args": {"HF_TOKEN": null, "BASE": base}})
	paths(dockerfile.deny, "SG-DOCKER-005") == {["args", "HF_TOKEN"]} with input as doc
		with data.config.registries.allowed as allowed_registries
}

test_legacy_env_form if {
	doc := hardened([env(["DB_PASSWORD", "hunter2", "again"])])
	ids(dockerfile.deny) == {"SG-DOCKER-005"} with input as doc
		with data.config.registries.allowed as allowed_registries
	count(dockerfile.deny) == 0 with input as hardened([env(["GREETING", "hello", "world"])])
		with data.config.registries.allowed as allowed_registries
}

test_secret_looking_values_are_denied if {
	every value in [
		"ghp_0123456789abcdefghijABCDEFGHIJ0123456789",
		"-----BEGIN OPENSSH PRIVATE KEY-----",
		"-----BEGIN RSA PRIVATE KEY-----",
		"https://build:Zq8v2kLm4Rt7@pkgs.example.com/simple",
		"DefaultEndpointsProtocol=https;AccountName=m;AccountKey=b3BlbnNlc2FtZTAxMjM0NTY3ODk=",
		"https://m.blob.core.windows.net/c?sv=2022-11-02&sig=Xq1n%2Bv8kz0W9aV3d5yQ2rT4u6w8",
		"AKIAIOSFODNN7EXAMPLE",
		"hf_AbCdEfGhIjKlMnOpQrStUvWxYz0123456789",
		"eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0.SflKxwRJSMeKKF2QT4fwpMeJf36POk6yJV_adQssw5c",
	] {
		doc := hardened([env([concat("=", ["SETTING", value])])])
		ids(dockerfile.deny) == {"SG-DOCKER-005"} with input as doc
			with data.config.registries.allowed as allowed_registries
		some f in dockerfile.deny with input as doc
			with data.config.registries.allowed as allowed_registries
		not contains(f.msg, value)
	}
}

test_references_and_plain_values_are_not_secrets if {
	words := [
		"PIP_INDEX_URL=https://${PIP_USER}:${PIP_PASSWORD}@pkgs.example.com/simple",
		"MODEL_URL=https://models.example.com/phi-2/model.onnx",
		"DATABASE_HOST=db.internal:5432", "SEED=12345",
	]
	count(dockerfile.deny) == 0 with input as hardened([env(words)])
		with data.config.registries.allowed as allowed_registries
}

# SG-DOCKER-006: sudo

test_running_sudo_is_denied if {
	doc := hardened([run("apt-get update && sudo mkdir -p /models")])
	ids(dockerfile.deny) == {"SG-DOCKER-006"} with input as doc
		with data.config.registries.allowed as allowed_registries
	ids(dockerfile.deny) == {"SG-DOCKER-006"} with input as hardened([run("/usr/bin/sudo -u app true")])
		with data.config.registries.allowed as allowed_registries
}

test_installing_sudo_is_denied if {
	every script in [
		"apt-get install -y --no-install-recommends sudo=1.9.13p3-1+deb12u1",
		"tdnf install -y sudo-1.9.15p5-3.azl3",
		"apk add --no-cache sudo=1.9.15_p5-r0",
	] {
		ids(dockerfile.deny) == {"SG-DOCKER-006"} with input as hardened([run(script)])
			with data.config.registries.allowed as allowed_registries
	}
}

# SG-DOCKER-007 / SG-DOCKER-008: package managers

test_pinned_installs_pass if {
	every script in [
		concat(" ", [
			"apt-get update && apt-get install -y --no-install-recommends",
			"curl=7.88.1-10+deb12u8 ca-certificates=20230311 && rm -rf /var/lib/apt/lists/*",
		]),
		"apt-get -o Acquire::Retries=3 install -y --no-install-recommends -t bookworm-backports tini=0.19.0-1",
		"apt-get install -y -o APT::Install-Recommends=false ./vendor/tool_1.0_amd64.deb",
		"apk add --no-cache --virtual .build-deps gcc=13.2.1_git20240309-r0 musl-dev=1.2.5-r0",
		"pip install --no-cache-dir torch==2.3.1 'uvicorn[standard]==0.30.1'",
		"python3 -m pip install --require-hashes -r requirements.txt",
		"pip3 install --no-cache-dir --require-hashes --requirement=requirements.lock",
		"pip install --no-deps . && pip install /wheels/model_server-1.0-py3-none-any.whl",
		"pip install git+https://github.com/org/lib@0123456789abcdef0123456789abcdef01234567",
		"tdnf install -y python3-3.12.9-1.azl3 && tdnf clean all",
		"dnf -y --setopt=install_weak_deps=False install gcc-13.2.1-7.fc40 ./local.rpm",
		"apt-get install -y --no-install-recommends $BUILD_PACKAGES",
		"apt-get update",
		"pip --version",
	] {
		count(dockerfile.deny) == 0 with input as hardened([run(script)])
			with data.config.registries.allowed as allowed_registries
	}
}

test_unpinned_installs_are_denied if {
	every script in [
		"apt-get install -y --no-install-recommends curl",
		"apt install -y --no-install-recommends git=1:2.39.5-0+deb12u1 jq",
		"apk add --no-cache curl",
		"pip install --no-cache-dir torch",
		"pip install 'numpy>=1.26'",
		"pip install 'numpy==1.*'",
		"pip install --upgrade pip",
		"pip install -e .",
		"uv pip install fastapi",
		"tdnf install -y python3-pip",
		"yum install -y gcc",
		"apt-get install -tsid --no-install-recommends curl",
		"apt-get install -qy --show-progress --no-install-recommends curl",
		"microdnf install -y openssl",
		"DEBIAN_FRONTEND=noninteractive apt-get -y install --no-install-recommends curl 2>/dev/null",
	] {
		doc := hardened([run(script)])
		ids(dockerfile.deny) == {"SG-DOCKER-007"} with input as doc
			with data.config.registries.allowed as allowed_registries
		paths(dockerfile.deny, "SG-DOCKER-007") == {["stages", 0, "instructions", 0]} with input as doc
			with data.config.registries.allowed as allowed_registries
	}
}

test_unpinned_message_names_the_packages if {
	subject := hardened([run("apt-get install -y --no-install-recommends curl jq=1.6-2.1 git")])
	some f in dockerfile.deny with input as subject
		with data.config.registries.allowed as allowed_registries
	f.id == "SG-DOCKER-007"
	contains(f.msg, "curl, git")
	not contains(f.msg, "jq")
}

test_requirements_without_hashes_are_denied if {
	every script in [
		"pip install -r requirements.txt",
		"pip install -rrequirements.txt",
		"pip install --requirement=requirements.txt",
	] {
		ids(dockerfile.deny) == {"SG-DOCKER-007"} with input as hardened([run(script)])
			with data.config.registries.allowed as allowed_registries
	}
}

test_apt_without_no_install_recommends_is_denied if {
	doc := hardened([run("apt-get update && apt-get install -y curl=7.88.1-10+deb12u8")])
	ids(dockerfile.deny) == {"SG-DOCKER-008"} with input as doc
		with data.config.registries.allowed as allowed_registries
	paths(dockerfile.deny, "SG-DOCKER-008") == {["stages", 0, "instructions", 0]} with input as doc
		with data.config.registries.allowed as allowed_registries
}

test_dry_runs_install_nothing if {
	every script in [
		"apt-get install -s curl",
		"apt-get install --simulate curl",
		"apt-get --dry-run install curl",
		"apt-get install --no-act sudo",
		"apt-get -qs install curl",
		"apt-get -o APT::Get::Simulate=true install curl",
		"apk add --simulate curl",
		"tdnf install --assumeno gcc",
		"pip install --dry-run torch",
	] {
		count(dockerfile.deny) == 0 with input as hardened([run(script)])
			with data.config.registries.allowed as allowed_registries
	}
}

test_sudo_group_and_lookalikes_are_not_sudo if {
	every script in ["useradd --groups sudo app", "usermod -aG sudo app", "echo pseudo > /etc/sudoers.d/a"] {
		count(dockerfile.deny) == 0 with input as hardened([run(script)])
			with data.config.registries.allowed as allowed_registries
	}
}

test_every_stage_is_checked_for_installs if {
	doc := document([
		stage(0, from_image(base), [run("pip install flask")], null),
		stage(1, from_image(base), [user_10001, healthcheck], "10001"),
	])
	paths(dockerfile.deny, "SG-DOCKER-007") == {["stages", 0, "instructions", 0]} with input as doc
		with data.config.registries.allowed as allowed_registries
}

# SG-DOCKER-009: HEALTHCHECK

test_missing_healthcheck_is_denied_at_the_final_from if {
	doc := document([stage(0, from_image(base), [user_10001], "10001")])
	ids(dockerfile.deny) == {"SG-DOCKER-009"} with input as doc
		with data.config.registries.allowed as allowed_registries
	paths(dockerfile.deny, "SG-DOCKER-009") == {["stages", 0, "from"]} with input as doc
		with data.config.registries.allowed as allowed_registries
}

test_healthcheck_none_is_denied if {
	none := instruction("HEALTHCHECK", "NONE", ["NONE"])
	doc := document([stage(0, from_image(base), [healthcheck, user_10001, none], "10001")])
	ids(dockerfile.deny) == {"SG-DOCKER-009"} with input as doc
		with data.config.registries.allowed as allowed_registries
	paths(dockerfile.deny, "SG-DOCKER-009") == {["stages", 0, "instructions", 2]} with input as doc
		with data.config.registries.allowed as allowed_registries
}

test_healthcheck_in_an_earlier_unrelated_stage_does_not_count if {
	doc := document([
		stage(0, from_image(base), [healthcheck], null),
		stage(1, from_image(base), [user_10001], "10001"),
	])
	ids(dockerfile.deny) == {"SG-DOCKER-009"} with input as doc
		with data.config.registries.allowed as allowed_registries
}

test_healthcheck_is_inherited_from_the_parent_stage if {
	doc := document([
		stage(0, from_image(base), [user_10001, healthcheck], "10001"),
		stage(1, from_stage(0), [instruction("COPY", "app /app", ["app", "/app"])], "10001"),
	])
	count(dockerfile.deny) == 0 with input as doc
		with data.config.registries.allowed as allowed_registries
}

test_child_stage_can_disable_or_restore_the_healthcheck if {
	none := instruction("HEALTHCHECK", "NONE", ["NONE"])
	disabled := document([
		stage(0, from_image(base), [user_10001, healthcheck], "10001"),
		stage(1, from_stage(0), [none], "10001"),
	])
	paths(dockerfile.deny, "SG-DOCKER-009") == {["stages", 1, "instructions", 0]} with input as disabled
		with data.config.registries.allowed as allowed_registries
	restored := document([
		stage(0, from_image(base), [user_10001, none], "10001"),
		stage(1, from_stage(0), [healthcheck], "10001"),
	])
	count(dockerfile.deny) == 0 with input as restored
		with data.config.registries.allowed as allowed_registries
}
