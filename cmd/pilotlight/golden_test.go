package main

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/pilotlight/pilotlight/internal/control/record"
	"github.com/pilotlight/pilotlight/internal/drill/report"
	"github.com/pilotlight/pilotlight/internal/drill/scenario"
	"github.com/pilotlight/pilotlight/internal/failover"
	"github.com/pilotlight/pilotlight/internal/metrics"
	"github.com/pilotlight/pilotlight/internal/readiness"
	"github.com/pilotlight/pilotlight/internal/target"
)

// The operator reads these at 3 a.m.: their layout is pinned.
func TestStatusGolden(t *testing.T) {
	now := time.Date(2026, 11, 27, 3, 0, 0, 0, time.UTC)
	yes, no := true, false
	east := &record.Active{Region: "us-west-2", Epoch: 4}
	held := &record.Active{Region: "us-east-1", Epoch: 5, Hold: "drain"}
	var b bytes.Buffer
	printStatusDoc(&b, statusDoc{Active: "us-west-2", Epoch: 4, Writable: []string{"us-west-2"}, Witness: "us-east-2", Answer: "us-west-2",
		Regions: []statusRegion{
			{RecordView: failover.RecordView{Region: "us-east-1", Role: "primary", Record: east, Lease: &record.Lease{Epoch: 3, Until: now.Add(-4 * time.Second)}, Why: "us-east-1 is not the active region (us-west-2 is, at epoch 4)"}, Routing: &no},
			{RecordView: failover.RecordView{Region: "us-west-2", Role: "dr", Record: east, Lease: &record.Lease{Epoch: 4, Until: now.Add(1500 * time.Millisecond)}, Writes: true}, Routing: &yes},
			{RecordView: failover.RecordView{Region: "us-east-2", Role: "witness", Record: east}},
		}}, now)
	b.WriteString("\n--- nobody writes, two-region mode, a record unreadable ---\n\n")
	printStatusDoc(&b, statusDoc{Active: "us-east-1", Epoch: 5,
		Regions: []statusRegion{
			{RecordView: failover.RecordView{Region: "us-east-1", Role: "primary", Record: held, Lease: &record.Lease{Epoch: 4, Until: now.Add(-time.Minute)}}},
			{RecordView: failover.RecordView{Region: "us-west-2", Role: "dr", Error: "read us-west-2 control record: connection refused"}},
		}}, now)
	b.WriteString("\n--- on AWS: the DR region's health check, from CloudWatch ---\n\n")
	at := time.Date(2026, 11, 27, 2, 59, 0, 0, time.Local)
	printStatusDoc(&b, statusDoc{Active: "us-east-1", Epoch: 1, Writable: []string{"us-east-1"}, Witness: "us-east-2",
		Regions: []statusRegion{{RecordView: failover.RecordView{Region: "us-east-1", Role: "primary", Record: &record.Active{Region: "us-east-1", Epoch: 1}, Lease: &record.Lease{Epoch: 1, Until: now.Add(12 * time.Second)}, Writes: true}}},
		Health:  &target.Health{PrimaryHealthy: &metrics.Reading{Value: 1, At: at}}}, now)
	golden(t, "status", b.String())
}

func TestCheckGolden(t *testing.T) {
	var b bytes.Buffer
	printCheck(&b, readiness.Report{Ready: false, Results: []readiness.Result{
		{Check: "control records", Status: readiness.Pass, Detail: "us-east-1 active at epoch 2 on 3 of 3 records"},
		{Check: "replication", Status: readiness.Fail, Detail: "replication is paused", Fix: "pilotlight lab replication resume"},
		{Check: "last drill", Status: readiness.Warn, Detail: "none kept in .pilotlight/reports", Fix: "pilotlight drill"},
	}})
	b.WriteString("\n--- ready ---\n\n")
	printCheck(&b, readiness.Report{Ready: true, Results: []readiness.Result{
		{Check: "control records", Status: readiness.Pass, Detail: "us-east-1 active at epoch 2 on 3 of 3 records", Fix: "not shown when passing"},
	}})
	golden(t, "check", b.String())
}

// The dashboard's history is read again when a drill is kept, and a drill
// caught half-saved (its directory, no report yet) is not kept as
// unreadable.
func TestDashboardHistoryFollowsNewDrills(t *testing.T) {
	h := report.History{Dir: t.TempDir()}
	src := &cliSource{history: h}
	if _, err := h.Save(&report.Report{Scenario: scenario.RegionOutage, Started: time.Now()}); err != nil {
		t.Fatal(err)
	}
	if got, err := src.History(); err != nil || len(got) != 1 {
		t.Fatalf("history: %d entries, %v", len(got), err)
	}
	half := filepath.Join(h.Dir, "29991231T000000Z-no-fault")
	if err := os.Mkdir(half, 0o755); err != nil {
		t.Fatal(err)
	}
	got, err := src.History()
	if err != nil || len(got) != 2 || !strings.HasPrefix(got[1].Detail, "unreadable") {
		t.Fatalf("half-saved: %+v, %v", got, err)
	}
	if err := os.WriteFile(filepath.Join(half, "report.json"), []byte(`{"scenario":"no-fault","pass":true}`), 0o644); err != nil {
		t.Fatal(err)
	}
	if got, err := src.History(); err != nil || len(got) != 2 || got[1].Detail != "" {
		t.Fatalf("once saved: %+v, %v", got, err)
	}
}

// The dashboard's page test feeds the page internal/dashboard's
// testdata/status.json. It is the document `status --json` prints, field
// for field: every key it has is one statusDoc has (decoded strictly), and
// every field statusDoc has is set in it, so a field renamed or added here
// fails until the page is tested with it.
func TestStatusFixtureIsTheStatusDocument(t *testing.T) {
	b, err := os.ReadFile("../../internal/dashboard/testdata/status.json")
	if err != nil {
		t.Fatal(err)
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	var doc statusDoc
	if err := dec.Decode(&doc); err != nil {
		t.Fatalf("the dashboard's status fixture is not a status document: %v", err)
	}
	var raw any
	if err := json.Unmarshal(b, &raw); err != nil {
		t.Fatal(err)
	}
	have := map[string]bool{}
	jsonPaths(raw, "", have)
	want := map[string]bool{}
	typePaths(reflect.TypeFor[statusDoc](), "", want)
	if len(want) < 20 {
		t.Fatalf("statusDoc has %d fields: the walk is not reading it", len(want))
	}
	for p := range want {
		if !have[p] {
			t.Errorf("the dashboard's status fixture does not set %s: add it, so the page is tested with it", p)
		}
	}
}

// jsonPaths collects the key paths of a decoded JSON document (an array's
// elements under "[]"; a map of booleans or strings is a leaf).
func jsonPaths(v any, at string, into map[string]bool) {
	switch v := v.(type) {
	case map[string]any:
		for k, x := range v {
			p := strings.TrimPrefix(at+"."+k, ".")
			into[p] = true
			jsonPaths(x, p, into)
		}
	case []any:
		for _, x := range v {
			jsonPaths(x, at+"[]", into)
		}
	}
}

// typePaths collects the JSON key paths of a type's fields, as jsonPaths
// finds them in a document that sets them all.
func typePaths(t reflect.Type, at string, into map[string]bool) {
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	switch {
	case t.Kind() == reflect.Slice:
		typePaths(t.Elem(), at+"[]", into)
	case t.Kind() == reflect.Struct && t != reflect.TypeFor[time.Time]():
		for f := range t.Fields() {
			if f.Anonymous {
				typePaths(f.Type, at, into)
				continue
			}
			name, _, _ := strings.Cut(f.Tag.Get("json"), ",")
			if !f.IsExported() || name == "-" || name == "" {
				continue
			}
			p := strings.TrimPrefix(at+"."+name, ".")
			into[p] = true
			typePaths(f.Type, p, into)
		}
	}
}
