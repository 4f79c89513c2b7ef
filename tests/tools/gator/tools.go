//go:build tools

// Package tools pins Gatekeeper's `gator` (its template test runner) for `make deps-go`, which
// builds it from this module.
package tools

import _ "github.com/open-policy-agent/gatekeeper/v3/cmd/gator"
