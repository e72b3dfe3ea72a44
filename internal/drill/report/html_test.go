package report

import (
	"bytes"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/pilotlight/pilotlight/internal/validate/verdict"
)

func TestWriteHTML(t *testing.T) {
	start := time.Date(2026, 11, 26, 9, 0, 0, 0, time.UTC)
	// Three writes: acknowledged by the primary at second 0, refused at
	// second 2, acknowledged by the DR region at second 4.
	none := map[string]int{}
	writes := WriteSummary{Started: start, Attempted: 3, Acked: 2, Refused: 1, ByRegion: map[string]int{"us-east-1": 1, "us-west-2": 1},
		Timeline: []Second{{T: 0, Acked: map[string]int{"us-east-1": 1}}, {T: 1, Acked: none}, {T: 2, Acked: none, Errors: 1}, {T: 3, Acked: none}, {T: 4, Acked: map[string]int{"us-west-2": 1}}},
		Reasons:  map[string]int{"503 ": 1}}
	r := &Report{Scenario: Scenario("region-outage"), Target: "lab", Primary: "us-east-1", DR: "us-west-2", Started: start, Pass: false,
		Failures: []string{"failback lost 1 acknowledged writes <script>"},
		Failover: &FailoverReport{FaultAt: start.Add(time.Second), FirstAckDR: start.Add(4 * time.Second), RTOSeconds: 3,
			Breakdown: map[string]float64{"detection": 2.9, "routing": 0.1}},
		RPO:        &RPO{Missing: 2, SpanSeconds: 0.1},
		Writes:     writes,
		Validation: &verdict.Report{Items: map[string]int64{"us-east-1": 2, "us-west-2": 1}, MissingInDR: verdict.Finding{Count: 1}},
	}
	var b bytes.Buffer
	if err := WriteHTML(&b, r); err != nil {
		t.Fatal(err)
	}
	html := b.String()
	for _, want := range []string{
		"region-outage drill (us-east-1 → us-west-2)", `class="FAIL"`, "3.00 s", "detection", "2 writes, 0.100 s",
		"acknowledged by us-east-1", "acknowledged by us-west-2", "refused or failed", ">fault</text>", ">first write in us-west-2</text>",
		"&lt;script&gt;", "DIVERGENT", "data validator: 1 missing in us-west-2",
	} {
		if !strings.Contains(html, want) {
			t.Errorf("page lacks %q", want)
		}
	}
	if strings.Contains(html, "<script") || strings.Contains(html, "http://") && !strings.Contains(html, `xmlns="http://www.w3.org/2000/svg"`) {
		t.Error("page must be self-contained: no scripts, no external references")
	}
	// The fault marker (red, dashed) sits one second into a five-second
	// timeline: between the bars of seconds 0 and 1.
	bars := regexp.MustCompile(`<path d="M([0-9.]+),[0-9.]+L[0-9.]+,[0-9.]+L([0-9.]+),[0-9.]+L[0-9.]+,[0-9.]+Z" style="fill:#2B6CB0"`).FindAllStringSubmatch(html, -1)
	fault := regexp.MustCompile(`<path d="M([0-9.]+),[0-9.]+L[0-9.]+,[0-9.]+" style="fill:none;stroke:#E53E3E;[^"]*stroke-dasharray`).FindStringSubmatch(html)
	if len(bars) < 5 || fault == nil { // five seconds, and the legend's swatch
		t.Fatalf("want 5 primary bars and a dashed red fault line, got %d bars, fault %v", len(bars), fault)
	}
	x, _ := strconv.ParseFloat(fault[1], 64)
	end0, _ := strconv.ParseFloat(bars[0][2], 64)
	start1, _ := strconv.ParseFloat(bars[1][1], 64)
	if x < end0 || x > start1 {
		t.Errorf("fault line at x=%.1f, want between second 0's bar (ends %.1f) and second 1's (starts %.1f)", x, end0, start1)
	}
}

// A drill of a protected application names it and its tier's promise, and
// lists what the tier does not promise — on the page and in the summary —
// instead of calling it a failure.
func TestAppReportShowsItsPromise(t *testing.T) {
	r := &Report{Scenario: Scenario("region-outage"), Target: "lab", Primary: "us-east-1", DR: "us-west-2", Pass: true, FencedAcks: 3, SplitBrain: 4,
		App:         &App{Name: "shop", Table: "shop-carts", Tier: "routing-only", Promise: "traffic moves; RPO is not bounded"},
		NotPromised: []string{"3 writes were acknowledged by a fenced region"}}
	var b bytes.Buffer
	if err := WriteHTML(&b, r); err != nil {
		t.Fatal(err)
	}
	var sum strings.Builder
	PrintSummary(&sum, r)
	for name, text := range map[string]string{"page": b.String(), "summary": sum.String()} {
		for _, want := range []string{"shop", "shop-carts", "routing-only", "RPO is not bounded", "3 writes were acknowledged by a fenced region", "not promised by the routing-only tier"} {
			if !strings.Contains(text, want) {
				t.Errorf("%s lacks %q:\n%s", name, want, text)
			}
		}
		if strings.Contains(text, "fenced region (must be 0)") || strings.Contains(text, "from the data (must be 0)") {
			t.Errorf("%s holds a routing-only application to the epoch guard's promise:\n%s", name, text)
		}
	}
}
