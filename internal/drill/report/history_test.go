package report

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/pilotlight/pilotlight/internal/control/record"
)

// Every drill is kept (never overwritten), listed oldest first with its
// figures, loadable by ID or as the latest; a broken report is listed with
// why rather than hidden.
func TestHistoryKeepsEveryDrill(t *testing.T) {
	h := History{Dir: filepath.Join(t.TempDir(), "reports")}
	if es, err := h.List(); err != nil || len(es) != 0 {
		t.Fatalf("empty history: %v %v", es, err)
	}
	if _, _, err := h.Load(""); err == nil || !strings.Contains(err.Error(), "pilotlight drill") {
		t.Fatalf("latest of none: %v", err)
	}
	t0 := time.Date(2026, 11, 27, 10, 0, 0, 0, time.UTC)
	a := &Report{Scenario: Scenario("region-outage"), Target: "lab", Started: t0, Pass: true,
		Failover: &FailoverReport{RTOSeconds: 3.2}, RPO: &RPO{Missing: 4}, Failback: &FailbackReport{Lost: 0}}
	b := &Report{Scenario: Scenario("dr-outage"), Target: "lab", Started: t0.Add(time.Minute), Pass: false, Failures: []string{"a new epoch began"}}
	sa, err := h.Save(a)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := h.Save(b); err != nil {
		t.Fatal(err)
	}
	for _, p := range []string{sa.JSON, sa.HTML} {
		if _, err := os.Stat(p); err != nil {
			t.Fatalf("kept report: %v", err)
		}
	}
	broken := filepath.Join(h.Dir, "20261127T100200Z-no-fault")
	if err := os.MkdirAll(broken, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(broken, "report.json"), []byte("{not json"), 0o644); err != nil {
		t.Fatal(err)
	}
	es, err := h.List()
	if err != nil || len(es) != 3 {
		t.Fatalf("history %+v, %v; want 3 entries", es, err)
	}
	if es[0].ID != "20261127T100000Z-region-outage" || *es[0].Pass != true || es[0].RTOSeconds != 3.2 || *es[0].RPOWrites != 4 || *es[0].FailbackLost != 0 {
		t.Errorf("first entry %+v", es[0])
	}
	if *es[1].Pass || !strings.Contains(es[1].Detail, "a new epoch began") {
		t.Errorf("failed drill %+v", es[1])
	}
	if es[2].Pass != nil || !strings.Contains(es[2].Detail, "unreadable") {
		t.Errorf("broken report %+v: want it listed as unreadable", es[2])
	}
	r, s, err := h.Load(sa.ID)
	if err != nil || r.Scenario != Scenario("region-outage") || s.ID != sa.ID {
		t.Fatalf("load %s: %+v %v", sa.ID, r, err)
	}
	for _, bad := range []string{"../etc", "nope"} {
		if _, _, err := h.Load(bad); err == nil {
			t.Errorf("load %q: no error", bad)
		}
	}
}

func TestFailoverEntries(t *testing.T) {
	t0 := time.Date(2026, 11, 27, 10, 0, 0, 0, time.UTC)
	runs := map[int64][]record.Entry{
		2: {{Epoch: 2, Phase: record.Detected, At: t0, From: "us-east-1", To: "us-west-2", Detail: "alarm"},
			{Epoch: 2, Phase: record.Completed, At: t0.Add(1500 * time.Millisecond)}},
		3: {{Epoch: 3, Phase: record.Detected, At: t0.Add(time.Hour), From: "us-west-2", To: "us-east-1"},
			{Epoch: 3, Phase: record.Fenced, At: t0.Add(time.Hour + time.Second)}},
	}
	es := FailoverEntries(runs)
	if len(es) != 2 || es[0].ID != "epoch-2" || es[1].ID != "epoch-3" {
		t.Fatalf("entries %+v", es)
	}
	if es[0].Detail != "us-east-1 → us-west-2, completed after 1.50s (alarm)" || es[1].Detail != "us-west-2 → us-east-1, fenced" {
		t.Fatalf("details %q, %q", es[0].Detail, es[1].Detail)
	}
}
