package sealgate.lib.images_test

import rego.v1

digest := "sha256:3f0a5c1d6f2a3b4c5d6e7f8091a2b3c4d5e6f708192a3b4c5d6e7f8091a2b3c4"

test_registry_host if {
	data.sealgate.lib.images.registry("mcr.microsoft.com/azurelinux/base/python:3.12") == "mcr.microsoft.com"
	data.sealgate.lib.images.registry("localhost:5000/model") == "localhost:5000"
	data.sealgate.lib.images.registry("localhost/model") == "localhost"
}

test_docker_hub_is_the_default_registry if {
	data.sealgate.lib.images.registry("python:3.12") == "docker.io"
	data.sealgate.lib.images.registry("library/python") == "docker.io"
}

test_pinned_by_digest if {
	data.sealgate.lib.images.pinned(sprintf("sealgate.azurecr.io/server@%s", [digest]))
	not data.sealgate.lib.images.pinned("sealgate.azurecr.io/server:1.0")
	not data.sealgate.lib.images.pinned("sealgate.azurecr.io/server@sha256:abc")
}

test_allowed_registry if {
	hosts := ["sealgate.azurecr.io"]
	data.sealgate.lib.images.allowed_registry("sealgate.azurecr.io/server:1") with data.config.registries.allowed as hosts
	not data.sealgate.lib.images.allowed_registry("evil.azurecr.io/server:1") with data.config.registries.allowed as hosts
	not data.sealgate.lib.images.allowed_registry("python:3.12") with data.config.registries.allowed as hosts
}
