package report

import (
	"fmt"
	"io"
	"sort"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/pilotlight/pilotlight/internal/control/record"
	"github.com/pilotlight/pilotlight/internal/timeline"
	"github.com/pilotlight/pilotlight/internal/validate/verdict"
)

// Report is a drill's result, written as report.json.
type Report struct {
	Scenario      Scenario        `json:"scenario"`
	Expected      string          `json:"expected"`
	Observed      string          `json:"observed,omitempty"`
	Target        string          `json:"target"`
	Primary       string          `json:"primary"`
	DR            string          `json:"dr"`
	Started       time.Time       `json:"started"`
	Finished      time.Time       `json:"finished"`
	Pass          bool            `json:"pass"`
	Failures      []string        `json:"failures,omitempty"`
	Failover      *FailoverReport `json:"failover,omitempty"`
	RPO           *RPO            `json:"rpo,omitempty"`
	Failback      *FailbackReport `json:"failback,omitempty"`
	HealedAt      time.Time       `json:"healed_at,omitzero"`
	Writes        WriteSummary    `json:"writes"`
	FencedAcks    int             `json:"fenced_acks"` // must be 0
	FencedSamples []string        `json:"fenced_samples,omitempty"`
	// SplitBrain counts writes committed (found in the data, acknowledged
	// or not) at an epoch after a higher epoch's first lease had begun: two
	// regions writing. Must be 0.
	SplitBrain        int      `json:"split_brain_commits"`
	SplitBrainSamples []string `json:"split_brain_samples,omitempty"`
	// LeaseOverlaps counts pairs of confirmed lease intervals of different
	// holders or epochs that overlap. Must be 0.
	LeaseOverlaps int `json:"lease_overlaps"`
	// UnackedCommits counts writes the client never saw acknowledged (it
	// timed out or the answer was lost) that committed all the same.
	UnackedCommits int       `json:"unacked_commits"`
	Integrity      Integrity `json:"integrity"`
	// Validation is the data validator's comparison of the regions at the end.
	Validation *verdict.Report `json:"validation,omitempty"`
	// Objectives are the RTO and RPO the drill was held to.
	Objectives *Objectives      `json:"objectives,omitempty"`
	Events     []timeline.Event `json:"events,omitempty"`
	// App is the protected application drilled (drill --app); nil: the
	// orders service.
	App *App `json:"app,omitempty"`
	// NotPromised are the breaches measured that the application's fencing
	// tier does not promise against (split brain, failback loss under
	// routing only): printed, never hidden, and not failures.
	NotPromised []string `json:"not_promised,omitempty"`
}

// EpochGuard is the one fencing tier that promises no split brain and no
// acknowledged write lost on failback (protect.EpochGuard).
const EpochGuard = "epoch-guard"

// splitBrainPromise is what the report holds fenced acks and split brain
// to: zero, unless the application's tier does not promise it.
func (r *Report) splitBrainPromise() string {
	if a := r.App; a != nil && a.Tier != EpochGuard {
		return "not promised by the " + a.Tier + " tier"
	}
	return "must be 0"
}

// App is the protected application a drill ran on, and what its fencing
// tier promises.
type App struct {
	Name    string `json:"name"`
	Table   string `json:"table"`
	Tier    string `json:"tier"`
	Promise string `json:"promise"`
}

// Objectives are the recovery objectives a drill is held to, and whether
// its measured figures met them.
type Objectives struct {
	RTOSeconds float64 `json:"rto_seconds"`
	RPOSeconds float64 `json:"rpo_seconds"`
	RTOMet     *bool   `json:"rto_met,omitempty"` // nil: no failover measured
	RPOMet     *bool   `json:"rpo_met,omitempty"`
}

// objNote is the objective beside the RTO (rto) or the RPO, when held to one.
func objNote(r *Report, rto bool) string {
	o := r.Objectives
	switch {
	case o == nil:
		return ""
	case rto:
		return objectiveNote(o.RTOMet, o.RTOSeconds)
	}
	return objectiveNote(o.RPOMet, o.RPOSeconds)
}

func objectiveNote(met *bool, obj float64) string {
	if met == nil {
		return ""
	}
	if *met {
		return fmt.Sprintf(" (objective %s: met)", time.Duration(obj*float64(time.Second)))
	}
	return fmt.Sprintf(" (objective %s: MISSED)", time.Duration(obj*float64(time.Second)))
}

// FailoverReport is the unplanned failover, measured.
type FailoverReport struct {
	FaultAt       time.Time      `json:"fault_at"`
	Epoch         int64          `json:"epoch"`
	Journal       []record.Entry `json:"journal"`
	FirstAckDR    time.Time      `json:"first_ack_dr"`
	FenceLandedAt time.Time      `json:"fence_landed_at,omitzero"`
	// RTO: fault to the first write acknowledged in the DR region. The
	// breakdown sums to it: detection (fault → run detected), decision,
	// fencing, promotion, verification (journal phases), routing (run
	// complete → first acknowledged write).
	RTOSeconds       float64            `json:"rto_seconds"`
	Breakdown        map[string]float64 `json:"breakdown_seconds"`
	DetectionFloor   float64            `json:"detection_floor_seconds"` // alarm period × datapoints + routing TTL
	RTOMinusFloor    float64            `json:"rto_minus_floor_seconds"`
	FloorExplanation string             `json:"floor_explanation"`
}

// BreakdownOrder is the order the RTO components are shown in.
var BreakdownOrder = []string{"detection", "decision", "fencing", "promotion", "verification", "routing"}

// Measure fills the RTO breakdown from the journal, with the detection
// floor and how it is made up.
func (f *FailoverReport) Measure(floor time.Duration, why string) {
	at := map[record.Phase]time.Time{}
	for _, e := range f.Journal {
		at[e.Phase] = e.At
	}
	f.RTOSeconds = f.FirstAckDR.Sub(f.FaultAt).Seconds()
	prev := f.FaultAt
	f.Breakdown = map[string]float64{}
	for i, p := range []record.Phase{record.Detected, record.Decided, record.Fenced, record.Promoted, record.Verified} {
		t, ok := at[p]
		if !ok {
			continue
		}
		// A phase journaled after the first write was already served (the
		// controller verifies while clients write) ends at that write.
		if t.After(f.FirstAckDR) {
			t = f.FirstAckDR
		}
		f.Breakdown[BreakdownOrder[i]] = t.Sub(prev).Seconds()
		prev = t
	}
	f.Breakdown["routing"] = f.FirstAckDR.Sub(prev).Seconds()
	if floor > 0 {
		f.DetectionFloor, f.FloorExplanation = floor.Seconds(), why
		f.RTOMinusFloor = f.RTOSeconds - f.DetectionFloor
	}
}

// RPO is what the DR region did not have when it took over.
type RPO struct {
	Missing     int      `json:"missing"`      // acknowledged writes
	SpanSeconds float64  `json:"span_seconds"` // from the first missing write to the last primary write
	Samples     []string `json:"samples,omitempty"`
	// Note says when the figure holds by construction rather than by test.
	Note string `json:"note,omitempty"`
	// Bound is the load scenario's bound on Missing.
	Bound *RPOBound `json:"bound,omitempty"`
}

// FailbackReport is the planned failback.
type FailbackReport struct {
	StartedAt          time.Time      `json:"started_at"`
	Epoch              int64          `json:"epoch"`
	Journal            []record.Entry `json:"journal"`
	FirstAckPrimary    time.Time      `json:"first_ack_primary"`
	UnavailableSeconds float64        `json:"unavailable_seconds"` // last write acknowledged in the DR region → first acknowledged in the primary
	Lost               int            `json:"lost"`                // acknowledged writes missing in the primary: must be 0
}

func shortDigest(d string) string {
	if _, hx, ok := strings.Cut(d, ":"); ok && len(hx) > 12 {
		return hx[:12]
	}
	return d
}

// Integrity lists acknowledged writes missing after replication settled.
type Integrity struct {
	ItemsMissingPrimary       []string `json:"items_missing_primary,omitempty"`
	AttachmentsMissingPrimary []string `json:"attachments_missing_primary,omitempty"`
	ItemsMissingDR            []string `json:"items_missing_dr,omitempty"`
	AttachmentsMissingDR      []string `json:"attachments_missing_dr,omitempty"`
}

func (in *Integrity) Add(r, primary string, items, attachments []string) {
	if r == primary {
		in.ItemsMissingPrimary, in.AttachmentsMissingPrimary = items, attachments
	} else {
		in.ItemsMissingDR, in.AttachmentsMissingDR = items, attachments
	}
}

func (in Integrity) Total() int {
	return len(in.ItemsMissingPrimary) + len(in.AttachmentsMissingPrimary) + len(in.ItemsMissingDR) + len(in.AttachmentsMissingDR)
}

// WriteSummary counts the workload's writes.
type WriteSummary struct {
	Started   time.Time      `json:"started"` // the timeline's second 0
	Attempted int            `json:"attempted"`
	Acked     int            `json:"acked"`
	ByRegion  map[string]int `json:"acked_by_region"`
	Refused   int            `json:"refused"` // 503: region not active (no data written)
	Failed    int            `json:"failed"`  // no answer or other errors
	Timeline  []Second       `json:"timeline"`
	// Reasons counts why writes were not acknowledged (the status and the
	// start of the answer), so a refusal can be told from a timeout.
	Reasons map[string]int `json:"reasons,omitempty"`
}

// Second is one second of the workload.
type Second struct {
	T      int            `json:"t"` // seconds since the workload started
	Acked  map[string]int `json:"acked"`
	Errors int            `json:"errors"`
}

// PrintSummary writes the human summary of a report.
func PrintSummary(w io.Writer, r *Report) {
	verdict := "PASS"
	if !r.Pass {
		verdict = "FAIL"
	}
	fmt.Fprintf(w, "\n%s drill (%s → %s): %s\n", r.Scenario, r.Primary, r.DR, verdict)
	if a := r.App; a != nil {
		fmt.Fprintf(w, "application: %s (table %s), fencing tier %s\npromise: %s\n", a.Name, a.Table, a.Tier, a.Promise)
	}
	fmt.Fprintf(w, "expected: %s\n", r.Expected)
	if r.Observed != "" {
		fmt.Fprintf(w, "observed: %s\n", r.Observed)
	}
	fmt.Fprintln(w)
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	if f := r.Failover; f != nil && f.RTOSeconds > 0 {
		fmt.Fprintf(tw, "RTO\t%.2fs\tfault → first write acknowledged in %s%s\n", f.RTOSeconds, r.DR, objNote(r, true))
		for _, k := range BreakdownOrder {
			if v, ok := f.Breakdown[k]; ok {
				fmt.Fprintf(tw, "  %s\t%.2fs\t\n", k, v)
			}
		}
		if f.DetectionFloor > 0 {
			fmt.Fprintf(tw, "detection floor\t%.2fs\t%s\n", f.DetectionFloor, f.FloorExplanation)
			fmt.Fprintf(tw, "RTO − floor\t%.2fs\t\n", f.RTOMinusFloor)
		}
	}
	if r.RPO != nil {
		fmt.Fprintf(tw, "RPO\t%d writes\t%.3fs of acknowledged writes not in %s at takeover%s\n", r.RPO.Missing, r.RPO.SpanSeconds, r.DR, objNote(r, false))
		if b := r.RPO.Bound; b != nil {
			fmt.Fprintf(tw, "\t\tbound %d writes = %d/s × (p99 replication lag %.0fms over %d writes + alarm period %.0fms)\n", b.Writes, b.Rate, b.LagP99Ms, b.LagSamples, b.AlarmPeriodMs)
		}
		if r.RPO.Note != "" {
			fmt.Fprintf(tw, "\t\t(%s)\n", r.RPO.Note)
		}
	}
	if fb := r.Failback; fb != nil {
		fmt.Fprintf(tw, "failback\t%d lost\tplanned; writes refused for %.2fs while switching\n", fb.Lost, fb.UnavailableSeconds)
	}
	must := r.splitBrainPromise()
	fmt.Fprintf(tw, "fenced acks\t%d\twrites acknowledged by a fenced region (%s)\n", r.FencedAcks, must)
	fmt.Fprintf(tw, "split brain\t%d\twrites committed at an epoch after a higher one's lease began, from the data (%s)\n", r.SplitBrain, must)
	fmt.Fprintf(tw, "lease overlaps\t%d\tconfirmed write leases of two holders that overlap (must be 0)\n", r.LeaseOverlaps)
	if r.UnackedCommits > 0 {
		fmt.Fprintf(tw, "unacked commits\t%d\twrites committed although their client saw no acknowledgement\n", r.UnackedCommits)
	}
	regions := make([]string, 0, len(r.Writes.ByRegion))
	for k := range r.Writes.ByRegion {
		regions = append(regions, k)
	}
	sort.Strings(regions)
	var by []string
	for _, k := range regions {
		by = append(by, fmt.Sprintf("%s %d", k, r.Writes.ByRegion[k]))
	}
	fmt.Fprintf(tw, "writes\t%d acked\tof %d attempted (%s); %d refused (503), %d failed\n", r.Writes.Acked, r.Writes.Attempted, strings.Join(by, ", "), r.Writes.Refused, r.Writes.Failed)
	fmt.Fprintf(tw, "integrity\t%d missing\tacknowledged writes absent from either region after settling\n", r.Integrity.Total())
	if v := r.Validation; v != nil {
		verdict, detail := "clean", fmt.Sprintf("data validator: same %d items in both regions (digest %s)", v.Items[r.Primary], shortDigest(v.Digest[r.Primary]))
		if v.Objects != nil {
			detail += fmt.Sprintf(", same %d objects", v.Objects.Keys[r.Primary])
		}
		if !v.Clean() {
			verdict = "DIVERGENT"
			detail = fmt.Sprintf("data validator: %d missing in %s, %d missing in %s, %d divergent", v.MissingInDR.Count, r.DR, v.MissingInPrimary.Count, r.Primary, v.Divergent.Count)
		}
		fmt.Fprintf(tw, "validation\t%s\t%s\n", verdict, detail)
	}
	tw.Flush()
	for _, n := range r.NotPromised {
		fmt.Fprintf(w, "NOT PROMISED by the %s tier, measured: %s\n", r.App.Tier, n)
	}
	for _, f := range r.Failures {
		fmt.Fprintf(w, "FAILED: %s\n", f)
	}
}

// PrintChaosTable prints one line per drill: what was expected, what was
// seen, RTO, RPO, split-brain commits, failback loss, and the verdict.
func PrintChaosTable(w io.Writer, reps []*Report) {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "SCENARIO\tEXPECTED\tOBSERVED\tRTO\tRPO\tSPLIT-BRAIN\tFAILBACK LOSS\tPASS")
	for _, r := range reps {
		rto, rpo, fb := "-", "-", "-"
		if r.Failover != nil && r.Failover.RTOSeconds > 0 {
			rto = fmt.Sprintf("%.2fs", r.Failover.RTOSeconds)
		}
		if r.RPO != nil {
			rpo = fmt.Sprintf("%d (%.2fs)", r.RPO.Missing, r.RPO.SpanSeconds)
		}
		if r.Failback != nil {
			fb = fmt.Sprint(r.Failback.Lost)
		}
		pass := "PASS"
		if !r.Pass {
			pass = "FAIL: " + strings.Join(r.Failures, "; ")
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%d\t%s\t%s\n", r.Scenario, r.Expected, r.Observed, rto, rpo, r.SplitBrain, fb, pass)
	}
	tw.Flush()
}

// RPOBound is the load scenario's bound, with what it is made of.
type RPOBound struct {
	Rate          int     `json:"rate"`
	LagP99Ms      float64 `json:"lag_p99_ms"`
	LagSamples    int     `json:"lag_samples"`
	AlarmPeriodMs float64 `json:"alarm_period_ms"`
	Writes        int     `json:"writes"` // the bound, in acknowledged writes
}

// Scenario names a drill (package scenario's constants).
type Scenario string
