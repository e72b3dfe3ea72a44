package inventory

import (
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/pilotlight/pilotlight/internal/testenv"
)

// The runtime table is cfn-lint's (rule E2533), so a runtime Lambda will
// not create is a blocker here before CloudFormation refuses it.
func TestRuntimesMatchCfnLint(t *testing.T) {
	out, err := exec.Command("python3", "-c", "import cfnlint,os;print(os.path.dirname(cfnlint.__file__))").Output()
	if err != nil {
		testenv.Missing(t, "cfn-lint's package not found: CI must check the runtime table (the machine image provides cfn-lint 1.51)", "cfn-lint's package not found: skipping the runtime table check")
	}
	b, err := os.ReadFile(filepath.Join(strings.TrimSpace(string(out)), "data", "AdditionalSpecs", "LmbdRuntimeLifecycle.json"))
	if err != nil {
		t.Fatal(err)
	}
	var data map[string]struct {
		Deprecated string `json:"deprecated"`
		Blocked    string `json:"create-block"`
	}
	if err := json.Unmarshal(b, &data); err != nil {
		t.Fatal(err)
	}
	ours := map[string]runtime{}
	for _, r := range runtimes {
		ours[r.Name] = r
	}
	for name, d := range data {
		if d.Blocked < "2021" {
			continue
		}
		if r, ok := ours[name]; !ok || r.Blocked != d.Blocked || r.Deprecated != d.Deprecated {
			t.Errorf("runtime %s: cfn-lint says deprecated %s, blocked %s; ours %+v", name, d.Deprecated, d.Blocked, r)
		}
	}
}
