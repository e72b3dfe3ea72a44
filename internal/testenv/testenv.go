// Package testenv holds the one rule for tests that need something from
// outside Go — a lab server, moto_server, cfn-lint, Chromium: where it is
// missing the test fails in CI (CI=true), whose .ci/run installs everything
// the tests need, and is skipped elsewhere with how to get it.
package testenv

import (
	"os"
	"testing"
)

// Missing ends t for a missing tool: Fatal with inCI under CI=true, Skip
// with elsewhere otherwise.
func Missing(t testing.TB, inCI, elsewhere string) {
	t.Helper()
	if os.Getenv("CI") == "true" {
		t.Fatal(inCI)
	}
	t.Skip(elsewhere)
}
