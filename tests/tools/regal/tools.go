//go:build tools

// Package tools pins Regal (the Rego linter) for `make deps-go`, which builds it from this module.
package tools

import _ "github.com/open-policy-agent/regal"
