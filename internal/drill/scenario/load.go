package scenario

import (
	"context"
	"fmt"
	"slices"
	"time"

	"github.com/pilotlight/pilotlight/internal/drill"
	"github.com/pilotlight/pilotlight/internal/drill/report"
	"github.com/pilotlight/pilotlight/internal/drill/workload"
)

// Load runs the region outage at 200 writes/s (or the drill's rate, when
// higher): the RPO must stay within the bound rate × (p99 replication lag,
// measured in the same run before the fault, + one alarm period), and the
// failback loses nothing.
const Load report.Scenario = "load"

// LoadRate is the load scenario's least write rate.
const LoadRate = 200

func (d scene) load(ctx context.Context) error {
	if _, err := d.faults(); err != nil {
		return err
	}
	period, err := d.alarmPeriod(ctx)
	if err != nil {
		return err
	}
	lag := &lagSampler{}
	stop := make(chan struct{})
	sampled := make(chan struct{})
	var measuredFrom time.Time
	d.FaultHook = func(ctx context.Context) (string, error) {
		close(stop)
		<-sampled
		return d.Target.Inject(ctx, d.Primary)
	}
	d.OnWorkloadStart = func() {
		measuredFrom = time.Now()
		go func() {
			defer close(sampled)
			lag.run(ctx, d, measuredFrom, stop)
		}()
	}
	return d.Outage(ctx, drill.Hooks{AfterFailover: func(ctx context.Context) error {
		p99, n := lag.p99()
		if n == 0 {
			return fmt.Errorf("no write replicated to %s during the steady state: cannot bound the RPO", d.DR)
		}
		b := &report.RPOBound{Rate: d.Options.Rate, LagP99Ms: ms(p99), LagSamples: n, AlarmPeriodMs: ms(period)}
		b.Writes = int(float64(d.Options.Rate) * (p99 + period).Seconds())
		d.Report.RPO.Bound = b
		d.Report.Observed = fmt.Sprintf("%d writes/s: report.RPO %d writes, bound %d = %d/s × (p99 lag %.0fms + alarm period %.0fms)",
			d.Options.Rate, d.Report.RPO.Missing, b.Writes, b.Rate, b.LagP99Ms, b.AlarmPeriodMs)
		d.Say("%s", d.Report.Observed)
		if d.Report.RPO.Missing > b.Writes {
			return fmt.Errorf("RPO %d writes is over the bound %d", d.Report.RPO.Missing, b.Writes)
		}
		return nil
	}})
}

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }

func (d scene) alarmPeriod(ctx context.Context) (time.Duration, error) {
	f, err := d.faults()
	if err != nil {
		return 0, err
	}
	return f.AlarmPeriod(ctx)
}

// lagSampler measures replication lag as a client sees it: from a write's
// acknowledgement by the primary to the first consistent read that finds
// it in the DR region, polled every 20 ms (the figure includes up to that
// much of the measurement's own resolution).
type lagSampler struct{ lags []time.Duration }

func (l *lagSampler) run(ctx context.Context, d scene, from time.Time, stop <-chan struct{}) {
	seen := map[string]bool{}
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-stop:
			return
		case <-tick.C:
		}
		acked := map[string]time.Time{}
		var pending []string
		for _, w := range d.Workload.Writes() {
			if w.Acked() && w.Region == d.Primary && w.Sent.After(from) && !seen[w.ID] {
				acked[w.ID] = w.Done
				pending = append(pending, w.ID)
			}
		}
		if len(pending) == 0 {
			continue
		}
		missing, err := workload.MissingItems(ctx, d.Clients[d.DR], d.Names, pending)
		if err != nil {
			continue
		}
		now := time.Now()
		miss := map[string]bool{}
		for _, id := range missing {
			miss[id] = true
		}
		for _, id := range pending {
			if !miss[id] {
				seen[id] = true
				l.lags = append(l.lags, now.Sub(acked[id]))
			}
		}
	}
}

// p99 is the 99th percentile of the lags seen, and how many there were.
func (l *lagSampler) p99() (time.Duration, int) {
	if len(l.lags) == 0 {
		return 0, 0
	}
	s := slices.Clone(l.lags)
	slices.Sort(s)
	return s[min(len(s)-1, len(s)*99/100)], len(s)
}
