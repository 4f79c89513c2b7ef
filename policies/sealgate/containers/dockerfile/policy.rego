# METADATA
# title: Dockerfile hardening
# description: >-
#   Images that carry or serve protected models are built from pinned base images of allowed
#   registries, run as a non-root user, fetch nothing unverified, keep secrets out of their
#   layers, pin the packages they install and declare a health check. The input is the
#   Dockerfile document of pipeline/inputs/dockerfile.py (stages, instructions with lines,
#   ARGs before the first FROM); every finding points at the offending instruction, or at the
#   FROM of the final stage when something is missing there.
# entrypoint: true
# custom:
#   input: dockerfile
package sealgate.containers.dockerfile

import rego.v1

default stages := []

stages := input.stages if is_array(input.stages)

final_index := input.final_stage if {
	is_number(input.final_stage)
	stages[input.final_stage]
}

final_stage := stages[final_index]

final_from := ["stages", final_index, "from"]

instructions contains [i, j, ins] if {
	some i, stage in stages
	some j, ins in stage.instructions
	is_string(ins.cmd)
}

# ---------------------------------------------------------------------------------------------
# Base images

# A FROM that names an image: not an earlier stage, not `scratch`.
base_images contains [i, image, from] if {
	some i, stage in stages
	from := stage.from
	is_object(from)
	object.get(from, "stage", null) == null
	object.get(from, "scratch", false) != true
	image := image_ref(from)
}

image_ref(from) := from.image if is_string(from.image)

image_ref(from) := "" if not is_string(object.get(from, "image", null))

unresolved_note(from) := sprintf(" (no value for %s)", [concat(", ", from.unresolved)]) if {
	is_array(from.unresolved)
	count(from.unresolved) > 0
} else := ""

# ---------------------------------------------------------------------------------------------
# The user of the final stage

# The user part of USER user[:group]: "root", or uid 0 written with any number of zeros.
root_user(user) if user_part(user) == "root"

root_user(user) if regex.match(`^0+$`, user_part(user))

root_user(user) if user_part(user) == ""

user_part(user) := trim_space(split(user, ":")[0])

# ---------------------------------------------------------------------------------------------
# ADD from remote sources

# Every ADD word but the last (the destination); exec form included.
add_sources(ins) := array.slice(ins.args, 0, count(ins.args) - 1) if is_array(ins.args)

remote_source(src) if regex.match(`^(?i)(https?|ftp)://`, src)

remote_source(src) if git_source(src)

git_source(src) if regex.match(`^(git@|git://|ssh://)`, src)

git_source(src) if regex.match(`^(?i)https?://[^#]*\.git(#.*)?$`, src)

# `ADD --checksum=sha256:<64 hex>` makes BuildKit verify an HTTP(S) download before using it.
verified_download(ins, src) if {
	regex.match(`^(?i)https?://`, src)
	not git_source(src)
	some checksum in object.get(object.get(ins, "flags", {}), "checksum", [])
	regex.match(`^sha256:[a-f0-9]{64}$`, checksum)
}

# ---------------------------------------------------------------------------------------------
# Secrets in ENV and ARG

# Every variable an ENV or ARG defines: [path, instruction, name, value or null].
assignments contains [["args", name], "ARG", name, value] if {
	is_object(input.args)
	some name, value in input.args
}

assignments contains [["stages", i, "instructions", j], ins.cmd, name, value] if {
	some [i, j, ins] in instructions
	ins.cmd in {"ENV", "ARG"}
	is_array(ins.args)
	not legacy_env(ins)
	some word in ins.args
	is_string(word)
	[name, value] := assignment(ins.cmd, word)
}

# The legacy `ENV NAME value with spaces` form.
assignments contains [["stages", i, "instructions", j], "ENV", name, value] if {
	some [i, j, ins] in instructions
	legacy_env(ins)
	name := ins.args[0]
	value := concat(" ", [word | some word in array.slice(ins.args, 1, count(ins.args)); is_string(word)])
}

legacy_env(ins) if {
	ins.cmd == "ENV"
	is_array(ins.args)
	is_string(ins.args[0])
	not contains(ins.args[0], "=")
}

# `NAME=value` words (ENV and ARG), or `NAME` alone (ARG without a default).
assignment(_, word) := [parts[0], concat("=", array.slice(parts, 1, count(parts)))] if {
	parts := split(word, "=")
	count(parts) > 1
}

assignment("ARG", word) := [word, null] if not contains(word, "=")

# Names are split into lower-case words at `_`, `-`, `.` and camelCase humps
# (`dbPassword` -> db, password). A name is secret-like when one of its words is in
# `secret_words`, or it is a `<kind>_KEY` of a kind in `secret_key_kinds`
# (API_KEY, STORAGE_ACCOUNT_KEY, ...; GPG_KEY and PUBLIC_KEY are not), or it contains
# CONNECTION_STRING, unless its last word says it only points at the secret
# (`_FILE`, `_PATH`, `_URL`, `_ID`, `_NAME`, ...: POSTGRES_PASSWORD_FILE=/run/secrets/db is
# the right way to do it). Words are matched whole, so TOKENIZERS_PARALLELISM, MAX_TOKENS,
# KEYRING and PWD (the working directory) are not secrets.
secret_words := {
	"password", "passwd", "passphrase", "pass", "secret", "secrets", "token", "credential",
	"credentials", "creds", "apikey", "accesskey", "secretkey", "privatekey", "clientsecret",
	"connectionstring", "pat", "sas",
}

secret_key_kinds := {
	"api", "access", "account", "app", "client", "encryption", "license", "master", "private",
	"sas", "secret", "service", "shared", "signing", "ssh", "storage", "subscription",
}

reference_words := {
	"file", "path", "dir", "url", "uri", "endpoint", "id", "name", "type", "length", "size",
	"ttl", "expiry", "expires", "header", "env", "var", "ref", "location", "mount", "version",
	"enabled", "required", "policy",
}

# Regexes are costly on the embedded engine, so names of letters, digits, `_`, `-` and `.`
# (nearly all) are split with string functions, and camelCase is looked for only in names
# of mixed case.
name_words(name) := plain_words(name) if plain_name(name)

name_words(name) := [word |
	some word in regex.split(`[^a-z0-9]+`, lower(humps(name)))
	word != ""
] if {
	not plain_name(name)
}

plain_name(name) if strings.replace_n(name_chars, lower(name)) == ""

plain_words(name) := [word |
	some word in split(strings.replace_n({"-": "_", ".": "_"}, lower(humps(name))), "_")
	word != ""
]

name_chars[char] := "" if some char in split("abcdefghijklmnopqrstuvwxyz0123456789_-.", "")

humps(name) := name if {
	upper(name) == name
} else := name if {
	lower(name) == name
} else := regex.replace(name, `([a-z0-9])([A-Z])`, "${1}_${2}")

secret_name(name) if {
	secret_hint(name)
	words := name_words(name)
	count(words) > 0
	secret_word(words)
	not words[count(words) - 1] in reference_words
}

secret_word(words) if {
	some word in words
	word in secret_words
}

secret_word(words) if {
	some k, word in words
	word == "key"
	k > 0
	words[k - 1] in secret_key_kinds
}

secret_word(words) if {
	some k, word in words
	word == "string"
	k > 0
	words[k - 1] == "connection"
}

# A cheap substring test before the regex split: every secret-like name contains one of these.
secret_hint(name) if {
	lowered := lower(name)
	some hint in secret_hints
	contains(lowered, hint)
}

secret_hints := secret_words | {"key", "connection"}

# Values that are secrets whatever the variable is called: well-known token formats with a
# fixed prefix and a long random body, private keys, key-bearing connection strings, signed
# URLs and passwords written into URLs (a `$VARIABLE` in the password position is a reference,
# not a secret). Each kind: [substrings, lower case, one of which every match contains;
# pattern]; the regex runs only on values that contain one of the substrings.
secret_value_patterns := {
	"a private key": [["private key"], `-----BEGIN ([A-Z0-9]+ )*PRIVATE KEY( BLOCK)?-----`],
	"an AWS access key": [["akia", "asia"], `\b(AKIA|ASIA)[0-9A-Z]{16}\b`],
	"a GitHub token": [["gh", "github_pat_"], `\b(gh[pousr]_[A-Za-z0-9]{36,}|github_pat_[A-Za-z0-9_]{22,})`],
	"a GitLab token": [["glpat-"], `\bglpat-[A-Za-z0-9_-]{20,}`],
	"a Slack token": [["xox"], `\bxox[abposr]-[A-Za-z0-9-]{10,}`],
	"a Google API key": [["aiza"], `\bAIza[0-9A-Za-z_-]{35}`],
	"an OpenAI or Anthropic key": [["sk-"], `\bsk-(proj-|ant-[a-z0-9]+-)?[A-Za-z0-9_-]{32,}`],
	"a Hugging Face token": [["hf_"], `\bhf_[A-Za-z0-9]{30,}`],
	"an npm token": [["npm_"], `\bnpm_[A-Za-z0-9]{36}`],
	"a Docker Hub token": [["dckr_pat_"], `\bdckr_pat_[A-Za-z0-9_-]{20,}`],
	"an Azure account key": [["accountkey=", "sharedaccesskey="], `(?i)\b(AccountKey|SharedAccessKey)=[A-Za-z0-9+/]{20,}`],
	"an Azure SAS signature": [["sig="], `[?&]sig=[A-Za-z0-9%+/]{20,}`],
	"a JSON Web Token": [["eyj"], `\beyJ[A-Za-z0-9_-]{8,}\.eyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,}`],
	"a password in a URL": [["@"], `\b[A-Za-z][A-Za-z0-9+.-]*://[^/\s:@$]+:[^/\s@$]+@`],
}

secret_values(value) := sort({kind |
	is_string(value)
	lowered := lower(value)
	some kind, [needles, pattern] in secret_value_patterns
	some needle in needles
	contains(lowered, needle)
	regex.match(pattern, value)
})

# ---------------------------------------------------------------------------------------------
# RUN scripts: shell commands as words

# The simple commands of every RUN, as the parser split them once (its command line and its
# heredoc bodies, `sh -c` scripts included): `words` with quotes removed and redirections
# dropped, `names` their basenames without a version suffix, `programs` the names in command
# position (past assignments and wrappers such as sudo, env, xargs). Rules look words up in
# these; none re-splits a script or runs a regex over every word.
run_commands contains [i, j, n, command] if {
	some [i, j, ins] in instructions
	ins.cmd == "RUN"
	some n, command in object.get(ins, "commands", [])
	is_array(command.words)
	is_array(command.names)
}

sudo_finding(i, j) := data.sealgate.lib.findings.finding(
	"SG-DOCKER-006",
	"RUN uses or installs sudo",
	["stages", i, "instructions", j],
)

# ---------------------------------------------------------------------------------------------
# Package managers

# By program name (`pip3.11` and `/usr/bin/pip3` are named `pip`, `dnf5` is `dnf`).
package_managers := {
	"apt-get": "apt", "apt": "apt", "apk": "apk", "dnf": "rpm", "tdnf": "rpm",
	"microdnf": "rpm", "yum": "rpm", "pip": "pip",
}

install_verbs := {"apt": "install", "apk": "add", "rpm": "install", "pip": "install"}

# Options that make the command report what it would do and install nothing.
dry_run_options := {
	"apt": {"-s", "--simulate", "--dry-run", "--just-print", "--no-act", "--recon"},
	"apk": {"-s", "--simulate"},
	"rpm": {"--assumeno"},
	"pip": {"--dry-run"},
}

# Options whose value is the next word (so that the value is not taken for a package).
value_options := {
	"apt": {"-o", "-c", "-t", "--option", "--config-file", "--target-release", "--default-release"},
	"apk": {
		"-X", "--repository", "-t", "--virtual", "-p", "--root", "--keys-dir", "--arch",
		"--cache-dir", "--repositories-file",
	},
	"rpm": {
		"-c", "--config", "--installroot", "--releasever", "--repo", "--repoid", "--enablerepo",
		"--disablerepo", "-x", "--exclude", "--setopt", "--forcearch", "--destdir",
		"--downloaddir",
	},
	"pip": {
		"-r", "--requirement", "-c", "--constraint", "-i", "--index-url", "--extra-index-url",
		"-f", "--find-links", "-t", "--target", "--prefix", "--root", "--platform",
		"--python-version", "--implementation", "--abi", "--trusted-host", "--cache-dir", "--src",
		"--upgrade-strategy", "--progress-bar", "--log", "--proxy", "--timeout", "--retries",
		"--python", "--only-binary", "--no-binary", "--report", "-C", "--config-settings",
		"--global-option", "--exists-action", "--cert", "--client-cert", "--root-user-action",
	},
}

option_value(manager, words, n) if {
	n > 0
	words[n - 1] in value_options[manager]
}

# Every command that installs packages, computed once for all the rules:
# [stage, instruction, manager, index of the manager word, index of the verb, command].
installs contains [i, j, manager, k, verb, command] if {
	some [i, j, _, command] in run_commands
	[k, manager, verb] := install_command(command)
	not dry_run(manager, command.words)
}

# [index of the manager word, manager, index of its install verb]: the first package
# manager name whose first non-option word after it is the install verb.
install_command(command) := candidates[0] if {
	candidates := sort([[k, manager, verb] |
		some k, name in command.names
		manager := package_managers[name]
		verb := first_argument(manager, command.words, k)
		command.words[verb] == install_verbs[manager]
	])
	count(candidates) > 0
}

dry_run(manager, words) if {
	some word in words
	word in dry_run_options[manager]
}

# apt-get reads clustered short options (`-qs`, `-sy`); only letters that take no value.
dry_run("apt", words) if {
	some word in words
	startswith(word, "-")
	not startswith(word, "--")
	contains(word, "s")
	regex.match(`^-[qyfmubVdhs]+$`, word)
}

dry_run("apt", words) if {
	some word in words
	startswith(lower(word), "apt::get::simulate=")
	regex.match(`(?i)^APT::Get::Simulate=("?)(true|1|yes)("?)$`, word)
}

first_argument(manager, words, k) := min(arguments) if {
	arguments := {n |
		some n, candidate in words
		n > k
		not startswith(candidate, "-")
		not option_value(manager, words, n)
	}
	count(arguments) > 0
}

# The packages an install command names: words after the verb that are neither options nor
# option values (the parser has dropped redirections). Words that hold a variable
# (`$PACKAGES`) are not judged: their value is not in the Dockerfile.
package_words(manager, words, verb) := [word |
	some n, word in words
	n > verb
	not startswith(word, "-")
	not option_value(manager, words, n)
	not contains(word, "$")
]

pinned_package("apt", word) if contains(word, "=")

pinned_package("apt", word) if endswith(word, ".deb")

pinned_package("apk", word) if contains(word, "=")

pinned_package("apk", word) if endswith(word, ".apk")

pinned_package("rpm", word) if regex.match(`-[0-9][A-Za-z0-9._+~^:-]*$`, word)

pinned_package("rpm", word) if endswith(word, ".rpm")

pinned_package("pip", word) if {
	contains(word, "==")
	not contains(word, "*")
}

pinned_package("pip", word) if endswith(word, ".whl")

pinned_package("pip", word) if {
	contains(word, "@")
	regex.match(`@[0-9a-f]{40}$`, word)
}

pinned_in(manager, _, word) if pinned_package(manager, word)

# A local project installed without its dependencies: nothing is resolved from an index.
pinned_in("pip", words, word) if {
	substring(word, 0, 1) in {".", "/"}
	regex.match(`^(\.{1,2}(/|$)|/)`, word)
	"--no-deps" in words
}

requirement_files(words) := array.concat(
	[words[n + 1] |
		some n, word in words
		word in {"-r", "--requirement"}
	],
	[file |
		some word in words
		some prefix in ["--requirement=", "-r"]
		startswith(word, prefix)
		word != "-r"
		file := substring(word, count(prefix), -1)
	],
)

install_examples := {
	"apt": "apt-get install pkg=1.2.3-1",
	"apk": "apk add pkg=1.2.3-r0",
	"rpm": "tdnf install pkg-1.2.3-1.azl3",
	"pip": "pip install pkg==1.2.3",
}

manager_names := {"apt": "apt", "apk": "apk", "rpm": "dnf/tdnf/yum", "pip": "pip"}

recommends_disabled(words) if {
	some word in words
	startswith(lower(word), "apt::install-recommends=")
	regex.match(`(?i)^APT::Install-Recommends=("?)(false|0|no)("?)$`, word)
}

# ---------------------------------------------------------------------------------------------
# HEALTHCHECK

# The stages whose instructions the final image inherits: the final stage and, through
# `FROM <stage>`, the stages it builds on.
parents[i] := [from_stage] if {
	some i, stage in stages
	from_stage := stage.from.stage
	is_number(from_stage)
}

parents[i] := [] if {
	some i, stage in stages
	not is_number(object.get(object.get(stage, "from", {}), "stage", null))
}

final_chain := graph.reachable(parents, {final_index})

# The HEALTHCHECK in effect for the final image: the last one of the latest stage in the chain.
healthchecks := sort([[i, j] |
	some i in final_chain
	some j, ins in stages[i].instructions
	ins.cmd == "HEALTHCHECK"
])

effective_healthcheck := healthchecks[count(healthchecks) - 1]

disabled_healthcheck(ins) if upper(trim_space(ins.value)) == "NONE"

# =============================================================================================
# The deny rules, grouped here (one place for every definition of deny); each section's helpers are above.

# ---------------------------------------------------------------------------------------------
# Rules: Base images

# METADATA
# title: Base image is not pinned by digest
# description: >-
#   Every FROM that names an image (not an earlier stage, not scratch) must pin it by an
#   immutable sha256 digest; a tag can be moved to different content at any time. ARGs are
#   substituted with their defaults first, so `FROM ${BASE}` is judged by what it builds.
# custom:
#   id: SG-DOCKER-001
#   severity: high
#   remediation: >-
#     Pin the image by digest, e.g. `FROM mcr.microsoft.com/azurelinux/base/python:3.12@sha256:<digest>`
#     (`docker buildx imagetools inspect IMAGE` prints it); let a bot such as Dependabot or
#     Renovate move the digest.
deny contains finding if {
	some [i, image, from] in base_images
	not data.sealgate.lib.images.pinned(image)
	finding := data.sealgate.lib.findings.finding(
		"SG-DOCKER-001",
		sprintf("stage %d: base image \"%s\"%s is not pinned by a sha256 digest", [i, image, unresolved_note(from)]),
		["stages", i, "from"],
	)
}

# METADATA
# title: Base image comes from a registry that is not allowed
# description: >-
#   Base images are pulled only from the registries listed in policies/data/registries.yaml
#   (the platform's own registry and Microsoft's); Docker Hub is the registry of an image
#   reference that names none.
# custom:
#   id: SG-DOCKER-002
#   severity: high
#   remediation: >-
#     Import the image into the platform registry (`az acr import`) and build FROM it there, or
#     use the equivalent image from mcr.microsoft.com.
deny contains finding if {
	some [i, image, from] in base_images
	not data.sealgate.lib.images.allowed_registry(image)
	finding := data.sealgate.lib.findings.finding(
		"SG-DOCKER-002",
		sprintf(
			"stage %d: base image \"%s\"%s comes from %s, which is not an allowed registry",
			[i, image, unresolved_note(from), data.sealgate.lib.images.registry(image)],
		),
		["stages", i, "from"],
	)
}

# ---------------------------------------------------------------------------------------------
# Rules: The user of the final stage

# METADATA
# title: Final stage runs as root
# description: >-
#   The image that ships must run as a non-root user: the final stage needs a USER (its own or
#   one inherited from the stage it builds on) whose user is neither `root` nor uid 0. Earlier
#   build stages may run as root. A USER given by a variable (`USER $APP_UID`) is accepted;
#   its value is set where the variable is defined.
# custom:
#   id: SG-DOCKER-003
#   severity: high
#   remediation: >-
#     Create an unprivileged user and end the final stage with `USER <uid>:<gid>` (a numeric id
#     such as 10001 also works where the image has no passwd entry).
deny contains finding if {
	object.get(final_stage, "user", null) == null
	finding := data.sealgate.lib.findings.finding(
		"SG-DOCKER-003",
		sprintf("final stage %d sets no USER, so the container runs as root", [final_index]),
		final_from,
	)
}

deny contains finding if {
	user := final_stage.user
	is_string(user)
	root_user(user)
	finding := data.sealgate.lib.findings.finding(
		"SG-DOCKER-003",
		sprintf("final stage %d runs as USER \"%s\", which is root", [final_index, user]),
		["stages", final_index, "user"],
	)
}

# ---------------------------------------------------------------------------------------------
# Rules: ADD from remote sources

# METADATA
# title: ADD fetches a remote source without verification
# description: >-
#   `ADD <url>` and `ADD <git repository>` put whatever the server returns into the image. An
#   HTTP(S) download is accepted only with `--checksum=sha256:<digest>`, which BuildKit
#   verifies; git sources are refused (they move).
# custom:
#   id: SG-DOCKER-004
#   severity: high
#   remediation: >-
#     COPY the file from the build context, or `ADD --checksum=sha256:<digest> <url> <dest>`,
#     or download it in a RUN step that checks a pinned sha256 (`sha256sum -c`).
deny contains finding if {
	some [i, j, ins] in instructions
	ins.cmd == "ADD"
	some src in add_sources(ins)
	is_string(src)
	remote_source(src)
	not verified_download(ins, src)
	finding := data.sealgate.lib.findings.finding(
		"SG-DOCKER-004",
		sprintf("ADD fetches \"%s\" without a verified checksum", [src]),
		["stages", i, "instructions", j],
	)
}

# ---------------------------------------------------------------------------------------------
# Rules: Secrets in ENV and ARG

# METADATA
# title: Secret in ENV or ARG
# description: >-
#   ENV values are stored in the image and ARG values in its history and build provenance, so
#   neither may carry a secret. A variable is flagged when its name says it holds one
#   (password, secret, token, credential, API/private/access/storage key, connection string;
#   whole words only, and not names that end in _FILE, _PATH, _URL, _ID, _NAME and similar
#   pointers), or when its value looks like one (private key, well-known token formats,
#   account keys, SAS signatures, JWTs, a password inside a URL). The value is never repeated
#   in the report.
# custom:
#   id: SG-DOCKER-005
#   severity: critical
#   remediation: >-
#     Pass build-time secrets with `RUN --mount=type=secret,id=NAME` (`docker build --secret`),
#     and runtime secrets through the orchestrator (Key Vault, a mounted secret file); rotate
#     any secret that was committed.
deny contains finding if {
	some [path, cmd, name, _] in assignments
	is_string(name)
	secret_name(name)
	finding := data.sealgate.lib.findings.finding(
		"SG-DOCKER-005",
		sprintf("%s %s: the name says it holds a secret; secrets must not be set in ENV or ARG", [cmd, name]),
		path,
	)
}

deny contains finding if {
	some [path, cmd, name, value] in assignments
	is_string(name)
	not secret_name(name)
	kinds := secret_values(value)
	count(kinds) > 0
	kind := kinds[0]
	finding := data.sealgate.lib.findings.finding(
		"SG-DOCKER-005",
		sprintf("%s %s: the value looks like %s", [cmd, name, kind]),
		path,
	)
}

# ---------------------------------------------------------------------------------------------
# Rules: RUN scripts: shell commands as words

# METADATA
# title: sudo in a RUN instruction
# description: >-
#   Build steps already run as the stage's user; sudo in an image adds a setuid root path that
#   a compromised process can use to escalate. Neither running sudo (as a command, or through
#   env, xargs and similar wrappers) nor installing it is allowed. Naming the sudo group
#   (`useradd --groups sudo`) is neither: without the sudo program the group grants nothing,
#   and installing the program is reported.
# custom:
#   id: SG-DOCKER-006
#   severity: medium
#   remediation: >-
#     Run privileged build steps as root before the final USER instruction (`USER root`,
#     the step, then `USER app`) and do not install sudo.
deny contains finding if {
	some [i, j, _, command] in run_commands
	"sudo" in command.programs
	finding := sudo_finding(i, j)
}

# Installing it, pinned or not: sudo, sudo=1.9.13p3-1, sudo-1.9.15p5-3.azl3.
deny contains finding if {
	some [i, j, manager, _, verb, command] in installs
	some word in package_words(manager, command.words, verb)
	startswith(word, "sudo")
	regex.match(`^sudo([=~:-][0-9].*)?$`, word)
	finding := sudo_finding(i, j)
}

# ---------------------------------------------------------------------------------------------
# Rules: Package managers

# METADATA
# title: Package installed without a pinned version
# description: >-
#   Every package that a RUN installs names its version, so that a rebuild installs the same
#   software: `apt-get install pkg=version`, `apk add pkg=version`, `dnf|tdnf|yum|microdnf
#   install pkg-version` (or a .deb/.apk/.rpm file), `pip install pkg==version` (or a wheel,
#   a VCS URL at a full commit, a local project with --no-deps). `pip install -r FILE` needs
#   `--require-hashes`. Commands are found in every RUN, heredoc and `sh -c` scripts included;
#   a dry run (`apt-get install -s`/`--simulate`/`--dry-run`/`--just-print`/`--no-act`,
#   `apk add -s`, `dnf install --assumeno`, `pip install --dry-run`) installs nothing.
# custom:
#   id: SG-DOCKER-007
#   severity: medium
#   remediation: >-
#     Pin each package to the version you tested (`apt-cache policy PKG`, `apk policy PKG`,
#     `dnf list PKG`, `pip index versions PKG`); for pip, use a lock file with hashes
#     (`pip-compile --generate-hashes`) and `pip install --require-hashes -r requirements.txt`.
deny contains finding if {
	some [i, j, manager, _, verb, command] in installs
	unpinned := [word |
		some word in package_words(manager, command.words, verb)
		not pinned_in(manager, command.words, word)
	]
	count(unpinned) > 0
	finding := data.sealgate.lib.findings.finding(
		"SG-DOCKER-007",
		sprintf(
			"%s installs %s without a pinned version (write e.g. %s)",
			[manager_names[manager], concat(", ", unpinned), install_examples[manager]],
		),
		["stages", i, "instructions", j],
	)
}

deny contains finding if {
	some [i, j, "pip", _, _, command] in installs
	files := requirement_files(command.words)
	count(files) > 0
	not "--require-hashes" in command.words
	finding := data.sealgate.lib.findings.finding(
		"SG-DOCKER-007",
		sprintf("pip installs from %s without --require-hashes", [concat(", ", files)]),
		["stages", i, "instructions", j],
	)
}

# METADATA
# title: apt installs recommended packages
# description: >-
#   `apt-get install` without `--no-install-recommends` also installs every recommended
#   package: software nobody asked for, unpinned, enlarging the attack surface.
# custom:
#   id: SG-DOCKER-008
#   severity: low
#   remediation: >-
#     Write `apt-get install -y --no-install-recommends pkg=version ...`, and name the
#     recommended packages you do need.
deny contains finding if {
	some [i, j, "apt", k, _, command] in installs
	not "--no-install-recommends" in command.words
	not recommends_disabled(command.words)
	finding := data.sealgate.lib.findings.finding(
		"SG-DOCKER-008",
		sprintf("%s install without --no-install-recommends", [command.names[k]]),
		["stages", i, "instructions", j],
	)
}

# ---------------------------------------------------------------------------------------------
# Rules: HEALTHCHECK

# METADATA
# title: Final stage has no HEALTHCHECK
# description: >-
#   The final image declares how to tell that it is healthy, so that a hung model server is
#   restarted rather than left serving errors. The HEALTHCHECK may come from a stage the final
#   stage builds on; `HEALTHCHECK NONE` counts as missing.
# custom:
#   id: SG-DOCKER-009
#   severity: low
#   remediation: >-
#     Add e.g. `HEALTHCHECK --interval=30s --timeout=3s CMD ["/app/healthcheck"]` to the final
#     stage (exec form, with a binary present in the image).
deny contains finding if {
	final_stage
	count(healthchecks) == 0
	finding := data.sealgate.lib.findings.finding(
		"SG-DOCKER-009",
		sprintf("final stage %d declares no HEALTHCHECK", [final_index]),
		final_from,
	)
}

deny contains finding if {
	[i, j] := effective_healthcheck
	disabled_healthcheck(stages[i].instructions[j])
	finding := data.sealgate.lib.findings.finding(
		"SG-DOCKER-009",
		sprintf("final stage %d disables its health check (HEALTHCHECK NONE)", [final_index]),
		["stages", i, "instructions", j],
	)
}
