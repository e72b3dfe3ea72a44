package lab

import (
	"context"
	"sync"
	"time"

	"github.com/pilotlight/pilotlight/internal/metrics"
)

// alarm stands in for the CloudWatch alarm on the DR region's view of the
// primary: metric RegionHealthy {Region: DR, Target: primary}, statistic
// Minimum, period = the health-check interval, N of N datapoints below 1 to
// alarm, missing data treated as breaching (a silent probe is a failing
// probe). Evaluation starts with the first datapoint, as an alarm created
// after its metric exists. On the change to ALARM it invokes the DR region's
// failover controller with the EventBridge event CloudWatch would send.
type alarm struct {
	l        *Lab
	name     string
	observer string
	target   string
	period   time.Duration
	periods  int

	mu      sync.Mutex
	minimum map[int64]float64 // period index -> minimum value
	started bool
	state   string
}

func newAlarm(l *Lab) *alarm {
	fo := l.opts.Functions
	return &alarm{l: l, name: l.opts.Names.PrimaryAlarm(), observer: l.opts.DR, target: l.opts.Primary,
		period: fo.HealthInterval, periods: fo.AlarmPeriods, minimum: map[int64]float64{}, state: "INSUFFICIENT_DATA"}
}

func (a *alarm) consume(line []byte) {
	points, err := metrics.Parse(line, metrics.Namespace)
	if err != nil {
		return
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	for _, p := range points {
		if p.Name != metrics.RegionHealthy || p.Dims["Region"] != a.observer || p.Dims["Target"] != a.target {
			continue
		}
		i := p.Time.UnixNano() / int64(a.period)
		if v, ok := a.minimum[i]; !ok || p.Value < v {
			a.minimum[i] = p.Value
		}
		a.started = true
	}
}

func (a *alarm) run(ctx context.Context) {
	tick := time.NewTicker(a.period)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case now := <-tick.C:
			a.evaluate(ctx, now)
		}
	}
}

func (a *alarm) evaluate(ctx context.Context, now time.Time) {
	a.mu.Lock()
	if !a.started {
		a.mu.Unlock()
		return
	}
	// The last N complete periods. A datapoint is stamped when its health
	// check starts and arrives when it ends, so the newest period's may still
	// be on its way: there, only a value below 1 breaches, not a missing one
	// (CloudWatch likewise waits for late data before calling it missing).
	cur := now.UnixNano() / int64(a.period)
	breaching := 0
	for i := cur - int64(a.periods); i < cur; i++ {
		v, ok := a.minimum[i]
		if (ok && v < 1) || (!ok && i < cur-1) {
			breaching++
		}
	}
	for i := range a.minimum {
		if i < cur-int64(4*a.periods) {
			delete(a.minimum, i)
		}
	}
	next := "OK"
	if breaching >= a.periods {
		next = "ALARM"
	}
	changed := next != a.state
	a.state = next
	a.mu.Unlock()
	if !changed {
		return
	}
	a.l.event("alarm", a.target, a.name+" → "+next)
	if next != "ALARM" {
		return
	}
	reason := "Threshold Crossed: datapoints [RegionHealthy < 1] in the last " + time.Duration(a.periods*int(a.period)).String()
	ev := AlarmEvent(a.name, a.observer, "ALARM", reason, now.UTC().Format(time.RFC3339Nano))
	go func() {
		ictx, cancel := context.WithTimeout(ctx, 60*time.Second)
		defer cancel()
		out, err := a.l.Invoke(ictx, a.observer, FnController, ev)
		if err != nil {
			a.l.event("controller", a.observer, "failover controller failed: "+err.Error())
			return
		}
		a.l.event("controller", a.observer, "failover controller: "+string(out))
	}()
}

// scheduler stands in for EventBridge schedules: the health check in both
// regions every interval, and the controller's reconcile every two.
func (l *Lab) schedule(ctx context.Context) {
	interval := l.opts.Functions.HealthInterval
	tick := time.NewTicker(interval)
	defer tick.Stop()
	busy := map[string]bool{}
	var mu sync.Mutex
	for {
		select {
		case <-ctx.Done():
			return
		case now := <-tick.C:
			at := now.UTC().Format(time.RFC3339Nano)
			// The controller's tick every interval too: it resumes a run whose
			// controller died, so a crash costs at most one interval.
			jobs := [][2]string{{l.opts.Primary, FnHealth}, {l.opts.DR, FnHealth}, {l.opts.DR, FnController}}
			for _, j := range jobs {
				key := j[0] + "/" + j[1]
				mu.Lock()
				if busy[key] {
					mu.Unlock()
					continue // the previous run is still going; EventBridge would overlap, the lab skips
				}
				busy[key] = true
				mu.Unlock()
				go func() {
					defer func() { mu.Lock(); busy[key] = false; mu.Unlock() }()
					ictx, cancel := context.WithTimeout(ctx, 30*time.Second)
					defer cancel()
					_, _ = l.Invoke(ictx, j[0], j[1], ScheduledEvent(j[0], at))
				}()
			}
		}
	}
}
