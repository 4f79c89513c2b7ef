# METADATA
# title: Findings
# description: >-
#   The one way a policy builds a finding. A finding names its rule (an id declared in that
#   rule's annotation), says what is wrong, and points at the field. Its severity is the one
#   the rule's annotation declares, which the gate fills in: a finding never restates it.
package sealgate.lib.findings

import rego.v1

# A finding of rule `id`: `msg` says what is wrong, `path` is the field (keys and indexes).
finding(id, msg, path) := {"id": id, "msg": msg, "path": path}
