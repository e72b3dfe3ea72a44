package alarm

import (
	"context"
	"sync"
	"time"

	"github.com/pilotlight/pilotlight/internal/metrics"
)

// Invoker calls a function in a region (the lab's Lambda).
type Invoker func(ctx context.Context, region, function string, payload []byte) ([]byte, error)

// Config is the alarm on the DR region's view of the primary.
type Config struct {
	Name       string // the alarm's name (region.Names.PrimaryAlarm)
	Primary    string // the region watched (the metric's Target)
	DR         string // the region watching (the metric's Region), whose controller is invoked
	Period     time.Duration
	Periods    int    // evaluation periods = datapoints to alarm
	Controller string // the failover controller's function name
	Invoke     Invoker
	// Event records what happened (the lab's event log).
	Event func(kind, region, detail string)
}

// Alarm stands in for the CloudWatch alarm on the DR region's view of the
// primary: metric RegionHealthy {Region: DR, Target: primary}, statistic
// Minimum, period = the health-check interval, N of N datapoints below 1 to
// alarm, missing data treated as breaching (a silent probe is a failing
// probe). Evaluation starts with the first datapoint, as an alarm created
// after its metric exists. On the change to ALARM it invokes the DR region's
// failover controller with the EventBridge event CloudWatch would send.
type Alarm struct {
	cfg Config

	mu      sync.Mutex
	minimum map[int64]float64 // period index -> minimum value
	started bool
	state   string
}

// New is an alarm with no data yet (INSUFFICIENT_DATA).
func New(cfg Config) *Alarm {
	return &Alarm{cfg: cfg, minimum: map[int64]float64{}, state: "INSUFFICIENT_DATA"}
}

// State is the alarm's name and state, as cloudwatch:DescribeAlarms gives
// them.
func (a *Alarm) State() (name, state string) {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.cfg.Name, a.state
}

// Consume takes the datapoints of one function log line (metrics.Parse of
// its EMF): the health check's feed the alarm, as CloudWatch Logs feeds
// CloudWatch.
func (a *Alarm) Consume(points []metrics.Datapoint) {
	a.mu.Lock()
	defer a.mu.Unlock()
	for _, p := range points {
		if p.Name != metrics.RegionHealthy || p.Dims["Region"] != a.cfg.DR || p.Dims["Target"] != a.cfg.Primary {
			continue
		}
		i := p.Time.UnixNano() / int64(a.cfg.Period)
		if v, ok := a.minimum[i]; !ok || p.Value < v {
			a.minimum[i] = p.Value
		}
		a.started = true
	}
}

// Run evaluates every period until ctx ends.
func (a *Alarm) Run(ctx context.Context) {
	tick := time.NewTicker(a.cfg.Period)
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

func (a *Alarm) evaluate(ctx context.Context, now time.Time) {
	a.mu.Lock()
	if !a.started {
		a.mu.Unlock()
		return
	}
	// The last N complete periods. A datapoint is stamped when its health
	// check starts and arrives when it ends, so the newest period's may still
	// be on its way: there, only a value below 1 breaches, not a missing one
	// (CloudWatch likewise waits for late data before calling it missing).
	cur := now.UnixNano() / int64(a.cfg.Period)
	breaching := 0
	for i := cur - int64(a.cfg.Periods); i < cur; i++ {
		v, ok := a.minimum[i]
		if (ok && v < 1) || (!ok && i < cur-1) {
			breaching++
		}
	}
	for i := range a.minimum {
		if i < cur-int64(4*a.cfg.Periods) {
			delete(a.minimum, i)
		}
	}
	next := "OK"
	if breaching >= a.cfg.Periods {
		next = "ALARM"
	}
	changed := next != a.state
	a.state = next
	a.mu.Unlock()
	if !changed {
		return
	}
	a.cfg.Event("alarm", a.cfg.Primary, a.cfg.Name+" → "+next)
	if next != "ALARM" {
		return
	}
	reason := "Threshold Crossed: datapoints [RegionHealthy < 1] in the last " + time.Duration(a.cfg.Periods*int(a.cfg.Period)).String()
	ev := AlarmEvent(a.cfg.Name, a.cfg.DR, "ALARM", reason, now.UTC().Format(time.RFC3339Nano))
	go func() {
		ictx, cancel := context.WithTimeout(ctx, 60*time.Second)
		defer cancel()
		out, err := a.cfg.Invoke(ictx, a.cfg.DR, a.cfg.Controller, ev)
		if err != nil {
			a.cfg.Event("controller", a.cfg.DR, "failover controller failed: "+err.Error())
			return
		}
		a.cfg.Event("controller", a.cfg.DR, "failover controller: "+string(out))
	}()
}

// Job is a function a schedule invokes in a region.
type Job struct {
	Region, Function string
	// Overlap is how many runs of the job may go at once (0: one). A job
	// whose runs are all still going is skipped: EventBridge would overlap
	// without a bound, the lab's instances are few. The health check's
	// runs last two periods, so it overlaps by two.
	Overlap int
}

// Schedule stands in for EventBridge schedules: each job every interval
// with a scheduled event.
func Schedule(ctx context.Context, interval time.Duration, jobs []Job, invoke Invoker) {
	tick := time.NewTicker(interval)
	defer tick.Stop()
	busy := map[Job]int{}
	var mu sync.Mutex
	for {
		select {
		case <-ctx.Done():
			return
		case now := <-tick.C:
			at := now.UTC().Format(time.RFC3339Nano)
			for _, j := range jobs {
				mu.Lock()
				if busy[j] >= max(j.Overlap, 1) {
					mu.Unlock()
					continue
				}
				busy[j]++
				mu.Unlock()
				go func() {
					defer func() { mu.Lock(); busy[j]--; mu.Unlock() }()
					ictx, cancel := context.WithTimeout(ctx, 30*time.Second)
					defer cancel()
					_, _ = invoke(ictx, j.Region, j.Function, ScheduledEvent(j.Region, at))
				}()
			}
		}
	}
}
