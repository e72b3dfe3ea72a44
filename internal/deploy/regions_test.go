package deploy

import (
	"bytes"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/pilotlight/pilotlight/internal/config"
	"github.com/pilotlight/pilotlight/internal/region"
)

// lintIn runs cfn-lint over templates for regions and returns its output
// and whether it passed (no error, no warning).
func lintIn(t *testing.T, regions []string, templates ...string) (string, bool) {
	t.Helper()
	bin := cfnLint(t)
	args := append([]string{"--non-zero-exit-code", "warning", "--regions"}, regions...)
	args = append(args, "--")
	for _, tpl := range templates {
		args = append(args, filepath.Join("..", "..", "cloudformation", tpl))
	}
	var out bytes.Buffer
	cmd := exec.Command(bin, args...)
	cmd.Stdout, cmd.Stderr = &out, &out
	err := cmd.Run()
	return out.String(), err == nil
}

// Every region deploy accepts for the primary and the DR region lints
// clean (cfn-lint knows which resource types each region has), the witness
// template lints clean in every known region, and the regions deploy
// refuses are exactly those cfn-lint says have no function URLs. (At
// aa72caa deploy accepted regions without AWS::Lambda::Url: E3006.)
func TestTemplatesLintInEveryAcceptedRegion(t *testing.T) {
	if testing.Short() {
		t.Skip("cfn-lint over every region")
	}
	out, _ := lintIn(t, config.KnownRegions, "primary-region.yaml", "dr-region.yaml")
	missing := map[string]bool{}
	for _, m := range regexp.MustCompile(`E3006 Resource type 'AWS::Lambda::Url' does not exist in '([a-z0-9-]+)'`).FindAllStringSubmatch(out, -1) {
		missing[m[1]] = true
	}
	for _, r := range config.KnownRegions {
		if missing[r] != slices.Contains(NoFunctionURLs, r) {
			t.Errorf("%s: cfn-lint says function URLs missing=%v, deploy's NoFunctionURLs says %v", r, missing[r], slices.Contains(NoFunctionURLs, r))
		}
	}
	var accepted []string
	for _, r := range config.KnownRegions {
		p := Plan{Names: region.Names{App: "a", Account: "123456789012"}, Primary: r, DR: "us-west-2", Profile: "free"}
		if r == "us-west-2" {
			p.DR = "us-east-1"
		}
		if p.Check() == nil {
			accepted = append(accepted, r)
		} else if !slices.Contains(NoFunctionURLs, r) {
			t.Errorf("deploy refuses %s: %v", r, p.Check())
		}
	}
	if out, ok := lintIn(t, accepted, "primary-region.yaml", "dr-region.yaml"); !ok {
		t.Fatalf("cfn-lint over the %d regions deploy accepts:\n%s", len(accepted), out)
	}
	if out, ok := lintIn(t, config.KnownRegions, "witness-region.yaml"); !ok {
		t.Fatalf("cfn-lint over the witness template in every region:\n%s", out)
	}
}

func TestDeployRefusesRegionsWithoutFunctionURLs(t *testing.T) {
	p := Plan{Names: region.Names{App: "a", Account: "123456789012"}, Primary: "us-east-1", DR: "mx-central-1", Profile: "free"}
	err := p.Check()
	if err == nil || !strings.Contains(err.Error(), "mx-central-1 has no Lambda function URLs") || !strings.Contains(err.Error(), "choose another") {
		t.Fatalf("err = %v", err)
	}
	p.DR, p.Witness = "us-west-2", "mx-central-1"
	if err := p.Check(); err != nil {
		t.Fatalf("a witness in a region without function URLs: %v", err)
	}
}
