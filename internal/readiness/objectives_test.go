package readiness

import (
	"context"
	"testing"
	"time"
)

// A detection profile that cannot meet the RTO objective is caught; one
// that leaves little room warns.
func TestObjectivesAgainstTheDetectionFloor(t *testing.T) {
	for _, c := range []struct {
		floor, objective time.Duration
		want             Status
	}{
		{3 * time.Minute, 10 * time.Minute, Pass}, // free profile, AWS default objective
		{3 * time.Minute, 2 * time.Minute, Fail},
		{3 * time.Minute, 200 * time.Second, Warn},
		{4 * time.Second, 15 * time.Second, Pass}, // the lab
		{0, time.Minute, Pass},                    // floor unknown
	} {
		got := objectives(context.Background(), Input{RTOObjective: c.objective, DetectionFloor: c.floor})
		if got.Status != c.want {
			t.Errorf("floor %s, objective %s: %s (%s), want %s", c.floor, c.objective, got.Status, got.Detail, c.want)
		}
	}
}
