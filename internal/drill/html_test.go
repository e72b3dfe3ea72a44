package drill

import (
	"bytes"
	"strings"
	"testing"
	"time"

	"github.com/pilotlight/pilotlight/internal/validate"
)

func TestWriteHTML(t *testing.T) {
	start := time.Date(2026, 11, 26, 9, 0, 0, 0, time.UTC)
	writes := []Write{
		{ID: "a", Sent: start, Done: start.Add(50 * time.Millisecond), Status: 201, Region: "us-east-1"},
		{ID: "b", Sent: start.Add(2 * time.Second), Done: start.Add(2 * time.Second), Status: 503},
		{ID: "c", Sent: start.Add(4 * time.Second), Done: start.Add(4 * time.Second), Status: 201, Region: "us-west-2"},
	}
	r := &Report{Scenario: RegionOutage, Target: "lab", Primary: "us-east-1", DR: "us-west-2", Started: start, Pass: false,
		Failures: []string{"failback lost 1 acknowledged writes <script>"},
		Failover: &FailoverReport{FaultAt: start.Add(time.Second), FirstAckDR: start.Add(4 * time.Second), RTOSeconds: 3,
			Breakdown: map[string]float64{"detection": 2.9, "routing": 0.1}},
		RPO:        &RPO{Missing: 2, SpanSeconds: 0.1},
		Writes:     summarize(writes, start),
		Validation: &validate.Report{Items: map[string]int64{"us-east-1": 2, "us-west-2": 1}, MissingInDR: validate.Finding{Count: 1}},
	}
	var b bytes.Buffer
	if err := WriteHTML(&b, r); err != nil {
		t.Fatal(err)
	}
	html := b.String()
	for _, want := range []string{
		"region-outage drill (us-east-1 → us-west-2)", `class="FAIL"`, "3.00 s", "detection", "2 writes, 0.100 s",
		"acknowledged by us-east-1", "t=4s: 1 acknowledged by us-west-2", "t=2s: 1 refused or failed", ">fault</text>",
		"&lt;script&gt;", "DIVERGENT", "data validator: 1 missing in us-west-2",
	} {
		if !strings.Contains(html, want) {
			t.Errorf("page lacks %q", want)
		}
	}
	if strings.Contains(html, "<script") || strings.Contains(html, "http://") && !strings.Contains(html, `xmlns="http://www.w3.org/2000/svg"`) {
		t.Error("page must be self-contained: no scripts, no external references")
	}
	// The fault marker sits one second into a five-second timeline.
	if !strings.Contains(html, `x1="180.0"`) {
		t.Errorf("fault marker not at 1s of 5s (x=180):\n%s", html)
	}
}
