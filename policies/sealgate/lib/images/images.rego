# METADATA
# title: Container image references
# description: >-
#   Helpers shared by the container policies: the registry host of an image reference, and
#   whether the reference is pinned by digest and comes from an allowed registry.
package sealgate.lib.images

import rego.v1

# The registry host of an image reference; Docker Hub when none is written.
# A first path component is a host only if it has a dot or a port, or is "localhost".
registry(ref) := host if {
	parts := split(ref, "/")
	count(parts) > 1
	host := parts[0]
	is_host(host)
}

registry(ref) := "docker.io" if {
	parts := split(ref, "/")
	not has_host(parts)
}

has_host(parts) if {
	count(parts) > 1
	is_host(parts[0])
}

is_host(component) if contains(component, ".")

is_host(component) if contains(component, ":")

is_host("localhost") := true

# Pinned by an immutable sha256 digest (a tag may be moved; a digest may not).
pinned(ref) if regex.match(`@sha256:[a-f0-9]{64}$`, ref)

allowed_registry(ref) if registry(ref) in {host | some host in data.config.registries.allowed}
