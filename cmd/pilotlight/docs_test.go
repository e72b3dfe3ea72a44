package main

import (
	"os"
	"os/exec"
	"strings"
	"testing"
)

// docs/architecture.md's package map names every package `go list` finds,
// so a package added without its row (what it owns) fails here.
func TestArchitectureMapsEveryPackage(t *testing.T) {
	out, err := exec.Command("go", "list", "-f", "{{.ImportPath}}", "../../...").Output()
	if err != nil {
		t.Fatalf("go list: %v", err)
	}
	doc, err := os.ReadFile("../../docs/architecture.md")
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, p := range strings.Fields(string(out)) {
		rel := strings.TrimPrefix(p, "github.com/pilotlight/pilotlight/")
		if rel == p {
			continue
		}
		n++
		if !strings.Contains(string(doc), "`"+rel+"`") {
			t.Errorf("docs/architecture.md's package map does not name %s: add its row (what it owns)", rel)
		}
	}
	if n < 20 {
		t.Fatalf("go list found %d packages: the test is not reading the module", n)
	}
}
