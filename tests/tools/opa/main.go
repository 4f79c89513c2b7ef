// Command opa is OPA's own command line, built from its pinned Go module so the tests run the
// same server, `opa test` and `opa check` as production without a downloaded binary.
package main

import (
	"os"

	"github.com/open-policy-agent/opa/cmd"
)

func main() {
	if err := cmd.RootCommand.Execute(); err != nil {
		os.Exit(1)
	}
}
