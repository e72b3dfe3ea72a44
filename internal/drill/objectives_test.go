package drill

import (
	"strings"
	"testing"
	"time"

	"github.com/pilotlight/pilotlight/internal/drill/report"
)

// A drill is held to the configured objectives: a measured figure over one
// fails it and says which; one within is marked met.
func TestObjectives(t *testing.T) {
	d := &Drill{Options: Options{RTOObjective: 3 * time.Second, RPOObjective: time.Second},
		Report: &report.Report{Failover: &report.FailoverReport{RTOSeconds: 4.2}, RPO: &report.RPO{Missing: 5, SpanSeconds: 0.1}}}
	d.objectives()
	o := d.Report.Objectives
	if o == nil || o.RTOMet == nil || *o.RTOMet || o.RPOMet == nil || !*o.RPOMet {
		t.Fatalf("objectives %+v: want RTO missed, report.RPO met", o)
	}
	if len(d.Report.Failures) != 1 || !strings.Contains(d.Report.Failures[0], "RTO 4.20s missed the objective 3s") {
		t.Fatalf("failures %q", d.Report.Failures)
	}
	var b strings.Builder
	report.PrintSummary(&b, d.Report)
	if !strings.Contains(b.String(), "(objective 3s: MISSED)") || !strings.Contains(b.String(), "(objective 1s: met)") {
		t.Fatalf("summary does not show the objectives:\n%s", b.String())
	}
	// No failover measured (a no-fault drill): nothing to hold to.
	d = &Drill{Options: Options{RTOObjective: time.Second, RPOObjective: time.Second}, Report: &report.Report{}}
	d.objectives()
	if len(d.Report.Failures) != 0 || d.Report.Objectives.RTOMet != nil {
		t.Fatalf("no failover: %+v %q", d.Report.Objectives, d.Report.Failures)
	}
}
