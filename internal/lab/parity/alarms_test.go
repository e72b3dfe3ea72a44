package parity

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"maps"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	ddbtypes "github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/pilotlight/pilotlight/internal/lab"
	"github.com/pilotlight/pilotlight/internal/lab/alarm"
	"github.com/pilotlight/pilotlight/internal/lab/faults"
	"github.com/pilotlight/pilotlight/internal/lab/fnenv"
	"github.com/pilotlight/pilotlight/internal/lab/labtest"
	"github.com/pilotlight/pilotlight/internal/metrics"
	"github.com/pilotlight/pilotlight/internal/region"
)

// alarmCase raises one alarm of the templates in the lab: the real
// functions, run by the lab's schedule or invoked, log the datapoints; the
// alarm, as the template defines it, is evaluated over them.
type alarmCase struct {
	region, id string
	// setup runs once before the healthy phase (nil: nothing).
	setup func(t *testing.T)
	// fault makes the alarm's condition and returns what undoes it.
	fault func(t *testing.T) func()
	// produce runs a producer that no schedule runs (nil: the schedule's
	// runs produce); faulted says whether the fault is on.
	produce func(t *testing.T, faulted bool)
	// enough reports whether the datapoints since the phase began show
	// the phase (the healthy or the faulted one).
	enough func(ps []metrics.Datapoint, faulted bool) bool
}

// count is how many datapoints named name with dims that include want.
func count(ps []metrics.Datapoint, name string, want map[string]string) int {
	n := 0
	for _, p := range ps {
		if p.Name != name {
			continue
		}
		ok := true
		for k, v := range want {
			if p.Dims[k] != v {
				ok = false
			}
		}
		if ok {
			n++
		}
	}
	return n
}

// waitFor polls cond until it holds (a minute at most).
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(time.Minute); !cond(); {
		if time.Now().After(deadline) {
			t.Fatalf("%s: not within a minute", what)
		}
		time.Sleep(200 * time.Millisecond) // the poll's interval: the loop waits for the condition
	}
}

// summary lists the distinct datapoints (name, dimensions, value).
func summary(ps []metrics.Datapoint) []string {
	var seen []string
	for _, x := range ps {
		if x.Name != metrics.ProbeLatencyMs {
			seen = append(seen, fmt.Sprintf("%s%v", x.Name, x.Dims))
		}
	}
	slices.Sort(seen)
	return slices.Compact(seen)
}

// values lists, in order, the values of the datapoints named as the
// alarm's metrics.
func values(r *alarm.Rule, ps []metrics.Datapoint) []string {
	var out []string
	for _, x := range ps {
		for _, m := range r.Alarm.Metrics {
			if m.Name == x.Name {
				out = append(out, fmt.Sprintf("%v=%g", x.Dims, x.Value))
			}
		}
	}
	return out
}

// replay is the condition held over the alarm's whole evaluation window:
// what the functions logged in the phase, in order, spread over the
// alarm's evaluation periods (as a schedule that keeps running would log
// it over that time), and the alarm's state at the end of the last one. A
// passing blip stays in one period; a fault that persists is in them all.
func replay(r *alarm.Rule, ps []metrics.Datapoint) string {
	per := r.Period()
	n := r.Alarm.EvaluationPeriods
	base := time.Unix(0, 0).Add(1000 * per)
	// Only the alarm's own metrics (name and dimensions) are spread: the
	// others' datapoints would take periods without counting in them.
	var own []metrics.Datapoint
	for _, p := range ps {
		for _, m := range r.Alarm.Metrics {
			if m.Name == p.Name && maps.Equal(m.Dims, p.Dims) {
				own = append(own, p)
				break
			}
		}
	}
	out := make([]metrics.Datapoint, len(own))
	for i, p := range own {
		k := i * n / len(own)
		p.Time = base.Add(time.Duration(k)*per + time.Duration(i)*time.Millisecond%per)
		out[i] = p
	}
	return r.Evaluate(out, base.Add(time.Duration(n)*per))
}

// TestEveryAlarmCanFire raises each alarm the primary's and the DR
// region's templates define, in the lab: for each, the functions' own
// datapoints while the lab is healthy leave it not in ALARM, and under the
// fault that should raise it they put it in ALARM. An alarm that no fault
// here raises — a metric no function emits, a dimension that does not
// match, a missing-data rule that hides the failure — fails the test, and
// so does an alarm with no case below.
func TestEveryAlarmCanFire(t *testing.T) {
	if testing.Short() {
		t.Skip("needs the lab with functions")
	}
	sv := labtest.Servers(t)
	fns := labtest.Functions(t)
	ctx, cancel := context.WithTimeout(context.Background(), 8*time.Minute)
	defer cancel()
	var env fnenv.Check
	l, err := lab.Start(ctx, lab.Options{Primary: "us-east-1", DR: "us-west-2", Dir: t.TempDir(), Servers: sv,
		Names: region.Names{App: "pilotlight"}, Logger: slog.New(slog.DiscardHandler),
		// Manual: the alarm notifies and nothing fails over, so each fault
		// below stays the one thing that changed.
		Functions: lab.FunctionOptions{Dir: fns, Manual: true},
		CheckEnv:  func(c fnenv.Check) error { env = c; return Check(c) },
		Access:    Access, Resources: Resources})
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	// The lab's scale: a 2 s RPO objective, as a user would set it with
	// PILOTLIGHT_RPO_OBJECTIVE (the default is a minute).
	alarms, err := Alarms(env, Shipped, 2*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	p, dr, w := env.Primary, env.DR, env.Witness
	names := l.Names()
	clients := func(r string) *region.Clients {
		c, err := l.Clients(r, 1)
		if err != nil {
			t.Fatal(err)
		}
		return c
	}
	cut := func(pairs ...string) func(t *testing.T) func() {
		return func(t *testing.T) func() {
			for i := 0; i < len(pairs); i += 2 {
				if err := l.Cut(pairs[i], region.Service(pairs[i+1])); err != nil {
					t.Fatal(err)
				}
			}
			return func() {
				for i := 0; i < len(pairs); i += 2 {
					_ = l.Restore(pairs[i])
				}
			}
		}
	}
	invoke := func(t *testing.T, r, fn string, payload string) {
		cctx, cancel := context.WithTimeout(ctx, time.Minute)
		defer cancel()
		out, err := l.Invoke(cctx, r, fn, []byte(payload))
		if err != nil { // under a fault it may: what it logged is what counts
			t.Logf("invoke %s in %s: %v", fn, r, err)
		} else if len(out) > 0 && strings.Contains(string(out), "errorMessage") {
			t.Logf("invoke %s in %s: %s", fn, r, out)
		}
	}
	healthRuns := func(r string, n int) func([]metrics.Datapoint, bool) bool {
		return func(ps []metrics.Datapoint, _ bool) bool {
			return count(ps, metrics.RegionHealthy, map[string]string{"Region": r}) >= n
		}
	}
	skew := func(r string) func(t *testing.T) func() {
		return func(t *testing.T) func() {
			if err := l.SetClockOffset(r, 400*time.Millisecond); err != nil {
				t.Fatal(err)
			}
			return func() { _ = l.SetClockOffset(r, 0) }
		}
	}
	clockCase := func(r string) alarmCase {
		return alarmCase{region: r, id: "ClockOffsetAlarm", fault: skew(r),
			enough: func(ps []metrics.Datapoint, faulted bool) bool {
				if faulted {
					return count(ps, metrics.ClockOffsetMs, map[string]string{"Region": r}) >= 3
				}
				return healthRuns(r, 3)(ps, false)
			}}
	}
	var snapshot string
	cases := []alarmCase{
		{region: dr, id: "PrimaryHealthAlarm", fault: cut(p, ""),
			enough: func(ps []metrics.Datapoint, _ bool) bool {
				return count(ps, metrics.RegionHealthy, map[string]string{"Region": dr, "Target": p}) >= 6
			}},
		{region: dr, id: "HealthCheckStoppedAlarm", fault: cut(dr, string(faults.Lambda)),
			enough: func(ps []metrics.Datapoint, faulted bool) bool {
				if faulted { // the primary's runs go on; the DR region's do not
					return healthRuns(p, 3)(ps, true)
				}
				return healthRuns(dr, 3)(ps, false)
			}},
		{region: p, id: "LeaseRenewalAlarm", fault: cut(dr, string(region.DynamoDB), w, string(region.DynamoDB)),
			enough: func(ps []metrics.Datapoint, _ bool) bool {
				return count(ps, metrics.LeaseRenewed, map[string]string{"Region": p}) >= 3
			}},
		{region: dr, id: "ReplicationLagAlarm",
			fault: func(t *testing.T) func() {
				l.SetPaused(true)
				// The lag is past the objective before the phase begins.
				since := time.Now()
				waitFor(t, "the DR region's lag past 2.5 s", func() bool {
					for _, x := range l.Datapoints(since) {
						if x.Name == metrics.ReplicationLagMs && x.Dims["Region"] == dr && x.Value > 2500 {
							return true
						}
					}
					return false
				})
				return func() { l.SetPaused(false) }
			},
			enough: func(ps []metrics.Datapoint, _ bool) bool {
				return count(ps, metrics.ReplicationLagMs, map[string]string{"Region": dr}) >= 5
			}},
		clockCase(p),
		clockCase(dr),
		{region: dr, id: "ValidatorDivergenceAlarm",
			fault: func(t *testing.T) func() {
				l.SetPaused(true)
				labtest.PutItems(t, ctx, clients(p), names.Table(), map[string]ddbtypes.AttributeValue{
					"pk": &ddbtypes.AttributeValueMemberS{Value: "alarm#diverge"}, "sk": &ddbtypes.AttributeValueMemberS{Value: "v"}})
				return func() { l.SetPaused(false) }
			},
			produce: func(t *testing.T, _ bool) {
				invoke(t, dr, region.FnValidator, string(alarm.ScheduledEvent(dr, time.Now().UTC().Format(time.RFC3339))))
			},
			enough: func(ps []metrics.Datapoint, _ bool) bool {
				return count(ps, metrics.ValidatorMissingInDR, nil) >= 1
			}},
		{region: p, id: "BackupFailingAlarm", fault: cut(p, string(region.S3)),
			produce: func(t *testing.T, _ bool) { invoke(t, p, region.FnBackup, `{"action":"create"}`) },
			enough: func(ps []metrics.Datapoint, faulted bool) bool {
				return faulted || count(ps, metrics.BackupItems, map[string]string{"Region": p}) >= 1
			}},
		{region: p, id: "RestoreTestAlarm",
			setup: func(t *testing.T) {
				out, err := l.Invoke(ctx, p, region.FnBackup, []byte(`{"action":"create"}`))
				var res struct {
					Snapshot struct {
						ID string `json:"id"`
					} `json:"snapshot"`
				}
				if err != nil || json.Unmarshal(out, &res) != nil || res.Snapshot.ID == "" {
					t.Fatalf("create a snapshot: %s %v", out, err)
				}
				snapshot = res.Snapshot.ID
			},
			fault: func(t *testing.T) func() {
				// Corrupt the snapshot's data files (not its manifest).
				c := clients(p)
				pfx := "snapshots/" + names.Table() + "/" + snapshot + "/"
				list, err := c.S3.ListObjectsV2(ctx, &s3.ListObjectsV2Input{Bucket: aws.String(names.BackupBucket(p)), Prefix: aws.String(pfx)})
				if err != nil {
					t.Fatal(err)
				}
				n := 0
				for _, o := range list.Contents {
					if strings.HasSuffix(aws.ToString(o.Key), "manifest.json") {
						continue
					}
					if _, err := c.S3.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String(names.BackupBucket(p)), Key: o.Key, Body: strings.NewReader("not a snapshot")}); err != nil {
						t.Fatal(err)
					}
					n++
				}
				if n == 0 {
					t.Fatalf("snapshot %s has no data files under %s", snapshot, pfx)
				}
				return func() {}
			},
			produce: func(t *testing.T, _ bool) {
				invoke(t, p, region.FnBackup, fmt.Sprintf(`{"action":"verify","snapshot":%q}`, snapshot))
			},
			enough: func(ps []metrics.Datapoint, _ bool) bool {
				return count(ps, metrics.RestoreTestOK, map[string]string{"Region": p}) >= 1
			}},
		// Last: the DR region holds the lease from here on.
		{region: dr, id: "LeaseRenewalAlarm",
			setup: func(t *testing.T) {
				// An operator's forced failover to the DR region, through
				// its controller: the DR region holds the lease from here.
				out, err := l.Invoke(ctx, dr, region.FnController, []byte(`{"action":"failover","force":true,"reason":"alarm test"}`))
				if err != nil || strings.Contains(string(out), "errorMessage") {
					t.Fatalf("failover to %s: %s %v", dr, out, err)
				}
			},
			fault: cut(p, string(region.DynamoDB), w, string(region.DynamoDB)),
			enough: func(ps []metrics.Datapoint, _ bool) bool {
				return count(ps, metrics.LeaseRenewed, map[string]string{"Region": dr}) >= 3
			}},
	}
	covered := map[string]bool{}
	for _, tc := range cases {
		covered[tc.region+"/"+tc.id] = true
	}
	for r, as := range alarms {
		for _, a := range as {
			if !covered[r+"/"+a.LogicalID] {
				t.Errorf("alarm %s (%s in %s) has no case here: add the fault that raises it", a.Name, a.LogicalID, r)
			}
		}
	}
	find := func(r, id string) *alarm.Rule {
		for _, a := range alarms[r] {
			if a.LogicalID == id {
				rule, err := alarm.NewRule(a)
				if err != nil {
					t.Fatal(err)
				}
				return rule
			}
		}
		t.Fatalf("no alarm %s in %s's template", id, r)
		return nil
	}
	phase := func(t *testing.T, tc alarmCase, faulted bool) []metrics.Datapoint {
		since := time.Now()
		if tc.produce != nil {
			tc.produce(t, faulted)
		}
		var ps []metrics.Datapoint
		for deadline := time.Now().Add(45 * time.Second); ; {
			ps = l.Datapoints(since)
			if tc.enough(ps, faulted) {
				return ps
			}
			if time.Now().After(deadline) {
				seen := map[string]int{}
				for _, x := range ps {
					seen[x.Name]++
				}
				t.Fatalf("faulted %v: the datapoints never showed the phase: %d logged: %v", faulted, len(ps), seen)
			}
			time.Sleep(200 * time.Millisecond) // the poll's interval: the loop waits for the condition above
		}
	}
	// Settled: the lab's first health checks ran before everything was up;
	// the last three views of the primary from the DR region are healthy.
	for deadline := time.Now().Add(time.Minute); ; {
		var vs []float64
		for _, x := range l.Datapoints(time.Time{}) {
			if x.Name == metrics.RegionHealthy && x.Dims["Region"] == dr && x.Dims["Target"] == p {
				vs = append(vs, x.Value)
			}
		}
		if len(vs) >= 3 && vs[len(vs)-1]+vs[len(vs)-2]+vs[len(vs)-3] == 3 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the lab never settled: the DR region's views of the primary %v", vs)
		}
		time.Sleep(200 * time.Millisecond) // the poll's interval: the loop waits for the condition above
	}
	for _, tc := range cases {
		t.Run(tc.region+"/"+tc.id, func(t *testing.T) {
			rule := find(tc.region, tc.id)
			if tc.setup != nil {
				tc.setup(t)
			}
			if ps := phase(t, tc, false); replay(rule, ps) == alarm.StateAlarm {
				t.Fatalf("%s is in ALARM while the lab is healthy; the functions logged %v; its metrics: %v", rule.Alarm.Name, summary(ps), values(rule, ps))
			}
			undo := tc.fault(t)
			ps := phase(t, tc, true)
			undo()
			if got := replay(rule, ps); got != alarm.StateAlarm {
				t.Fatalf("%s is %s under its fault; the functions logged %v; its metrics: %v", rule.Alarm.Name, got, summary(ps), values(rule, ps))
			}
		})
	}
}
