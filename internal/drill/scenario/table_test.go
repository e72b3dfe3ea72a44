package scenario

import (
	"strings"
	"testing"
)

// The table is the one place a scenario is declared: each has a name, an
// expectation, a run and a --help line, names are unique, and --help lists
// every one (the crash scenarios together) within 78 columns.
func TestScenarioTable(t *testing.T) {
	help := Help()
	seen := map[string]bool{}
	for _, s := range table {
		if s.name == "" || s.expected == "" || s.help == "" || s.run == nil {
			t.Errorf("scenario %q is missing a part: %+v", s.name, s)
		}
		if seen[string(s.name)] {
			t.Errorf("scenario %s twice", s.name)
		}
		seen[string(s.name)] = true
		name := string(s.name)
		if s.group != "" {
			name = s.group
		}
		if !strings.Contains(help, "  "+name+" ") {
			t.Errorf("--help does not list %s:\n%s", name, help)
		}
		if got, ok := lookup(s.name); !ok || got.name != s.name || Expectations[s.name] != s.expected {
			t.Errorf("lookup(%s) = %+v %v", s.name, got, ok)
		}
	}
	if len(Scenarios) != len(table) || len(seen) != 26 {
		t.Errorf("%d scenarios listed, %d in the table, %d names", len(Scenarios), len(table), len(seen))
	}
	for _, line := range strings.Split(help, "\n") {
		if n := len([]rune(line)); n > 78 {
			t.Errorf("--help line of %d columns: %q", n, line)
		}
	}
	if _, ok := lookup("no-such-drill"); ok {
		t.Error("an unknown scenario was found")
	}
}
