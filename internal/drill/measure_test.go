package drill

import (
	"reflect"
	"testing"
	"time"

	"github.com/pilotlight/pilotlight/internal/drill/report"
	"github.com/pilotlight/pilotlight/internal/drill/workload"
)

// The report's timeline is the workload's writes by the second they were
// sent, acknowledged ones by region, the rest counted with their reason.
func TestSummarize(t *testing.T) {
	start := time.Date(2026, 11, 26, 9, 0, 0, 0, time.UTC)
	writes := []workload.Write{
		{ID: "a", Sent: start, Done: start.Add(50 * time.Millisecond), Status: 201, Region: "us-east-1"},
		{ID: "b", Sent: start.Add(2 * time.Second), Done: start.Add(2 * time.Second), Status: 503, Error: "region 42 not active"},
		{ID: "c", Sent: start.Add(4 * time.Second), Done: start.Add(4 * time.Second), Status: 201, Region: "us-west-2"},
	}
	none := map[string]int{}
	want := report.WriteSummary{Started: start, Attempted: 3, Acked: 2, Refused: 1, ByRegion: map[string]int{"us-east-1": 1, "us-west-2": 1},
		Timeline: []report.Second{{T: 0, Acked: map[string]int{"us-east-1": 1}}, {T: 1, Acked: none}, {T: 2, Acked: none, Errors: 1}, {T: 3, Acked: none}, {T: 4, Acked: map[string]int{"us-west-2": 1}}},
		Reasons:  map[string]int{"503 region  not active": 1}}
	if got := Summarize(writes, start); !reflect.DeepEqual(got, want) {
		t.Fatalf("summarize:\n got %+v\nwant %+v", got, want)
	}
}
