package deploy

import (
	"errors"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/pilotlight/pilotlight/internal/testenv"
)

// cfnLint finds cfn-lint (from the machine image): a missing one fails the
// test in CI and skips it elsewhere.
func cfnLint(t *testing.T) string {
	t.Helper()
	p, err := exec.LookPath("cfn-lint")
	if err != nil {
		testenv.Missing(t, "cfn-lint not found: CI must lint the templates (the machine image provides cfn-lint 1.51)", "cfn-lint not found: install it to lint the templates")
	}
	return p
}

// The shipped templates pass cfn-lint with no error and no warning (what
// `make lint` runs too); the parameter/resource name clash that once made
// CloudFormation reject primary-region.yaml is caught.
func TestTemplatesPassCfnLint(t *testing.T) {
	bin := cfnLint(t)
	files, err := filepath.Glob("../../cloudformation/*.yaml")
	if err != nil || len(files) == 0 {
		t.Fatalf("templates: %v %v", files, err)
	}
	out, err := exec.Command(bin, append([]string{"--non-zero-exit-code", "warning", "--"}, files...)...).CombinedOutput()
	if err != nil {
		t.Fatalf("cfn-lint: %v\n%s", err, out)
	}
	out, err = exec.Command(bin, "--", "testdata/cfnlint/name-clash.yaml").CombinedOutput()
	var exit *exec.ExitError
	if !errors.As(err, &exit) || !strings.Contains(string(out), "E3007") {
		t.Fatalf("a parameter sharing a resource's name was not caught: %v\n%s", err, out)
	}
}
