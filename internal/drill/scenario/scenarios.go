package scenario

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/pilotlight/pilotlight/internal/clock"
	"github.com/pilotlight/pilotlight/internal/control/record"
	"github.com/pilotlight/pilotlight/internal/drill"
	"github.com/pilotlight/pilotlight/internal/drill/report"
	"github.com/pilotlight/pilotlight/internal/drill/workload"
	"github.com/pilotlight/pilotlight/internal/failover"
	"github.com/pilotlight/pilotlight/internal/region"
)

// The chaos scenarios (lab only): each injects the fault that would break
// one of pilotlight's promises and asserts its expected outcome; every
// drill then checks the invariants (drill.Drill.Finish).
const (
	// DROutage cuts the DR region: no new epoch, the primary keeps writing.
	DROutage report.Scenario = "dr-outage"
	// WitnessOutage cuts the witness: no new epoch, the primary keeps writing.
	WitnessOutage report.Scenario = "witness-outage"
	// ReturnBeforeFence promotes the DR region, slows its DynamoDB so the
	// fence cannot land, and brings the primary back: it must acknowledge
	// nothing at its old epoch.
	ReturnBeforeFence report.Scenario = "return-before-fence"
	// GreyThenHard slows the primary's DynamoDB, then cuts it: failover.
	GreyThenHard report.Scenario = "grey-then-hard"
	// RefusedThenHealed cuts the primary while the DR region's S3 is slow
	// (the controller refuses: the target is unhealthy), then heals the DR
	// region: the failover completes without an operator.
	RefusedThenHealed report.Scenario = "refused-then-healed"
	// FailbackPaused pauses replication and fails back: refused before
	// fencing; a region always accepts writes.
	FailbackPaused report.Scenario = "failback-paused"
	// FailbackLag fails back with 5 s of replication lag: the primary holds
	// every write the DR region acknowledged when it is promoted.
	FailbackLag report.Scenario = "failback-lag"
	// Flapping cuts and restores the primary every 2 s, then every 500 ms:
	// at most one failover.
	Flapping report.Scenario = "flapping"
	// DoubleFault slows the DR region's DynamoDB while the primary is cut:
	// failover, or a retry once it recovers; never two writable regions.
	DoubleFault report.Scenario = "double-fault"
	// ClockSkew runs the region outage with the DR region's functions'
	// clock ε/2 ahead: the invariants hold.
	ClockSkew report.Scenario = "clock-skew"
)

// CrashAfter is the scenario that kills the failover controller as its
// journal write of phase returns (controller-crash-after-PHASE): a writable
// region within the RTO budget with no operator, and the epoch advances once.
func CrashAfter(p record.Phase) report.Scenario {
	return report.Scenario("controller-crash-after-" + string(p))
}

// LabFaults is what a target offers beyond cutting a region, for the chaos
// scenarios. The lab has it; AWS does not.
type LabFaults interface {
	CutService(ctx context.Context, region, service string) error
	Latency(ctx context.Context, region, service string, d time.Duration) error
	PauseReplication(ctx context.Context, paused bool) error
	SetLag(ctx context.Context, d time.Duration) error
	Lag(ctx context.Context) (time.Duration, error)
	Witness() string
	CrashControllerAfter(ctx context.Context, phase string) error
	SetClockOffset(ctx context.Context, region string, d time.Duration) error
	// LateHealthChecks drops one in three of a region's scheduled
	// health-check runs for d.
	LateHealthChecks(ctx context.Context, region string, d time.Duration) error
	// CutLink partitions two regions from each other; Heal("") ends it.
	CutLink(ctx context.Context, a, b string) error
	// Behind is a client of the region's DynamoDB behind its fault proxy.
	Behind(region string) (*region.Clients, error)
	// AlarmPeriod is the lab alarm's period (its health-check interval).
	AlarmPeriod(ctx context.Context) (time.Duration, error)
}

func (d scene) faults() (LabFaults, error) {
	f, ok := d.Target.(LabFaults)
	if !ok {
		return nil, fmt.Errorf("scenario %s runs in the lab only", d.Options.Scenario)
	}
	return f, nil
}

func (d scene) faultFor() time.Duration {
	if d.Options.FaultFor > 0 {
		return d.Options.FaultFor
	}
	return 30 * time.Second
}

// noNewEpoch is the body of dr-outage and witness-outage: the region cut
// for a while must not cause a failover, and the primary keeps writing.
func (d scene) noNewEpoch(ctx context.Context, cut string, minRatio float64) error {
	f, err := d.faults()
	if err != nil {
		return err
	}
	return d.noNewEpochUnder(ctx, cut+" cut off", minRatio,
		func(ctx context.Context) error { return f.CutService(ctx, cut, "") },
		func(ctx context.Context) error { return d.Target.Heal(ctx, cut) })
}

// noNewEpochUnder is noNewEpoch with any fault: inject starts it, heal (nil:
// it ends by itself) ends it after the fault window.
func (d scene) noNewEpochUnder(ctx context.Context, fault string, minRatio float64, inject, heal func(ctx context.Context) error) error {
	d.StartWorkload()
	defer d.StopWorkload()
	if err := clock.Sleep(ctx, d.Options.Steady); err != nil {
		return err
	}
	from := time.Now()
	d.Say("FAULT: %s for %s", fault, d.faultFor())
	if err := inject(ctx); err != nil {
		return err
	}
	if err := clock.Sleep(ctx, d.faultFor()); err != nil {
		return err
	}
	to := time.Now()
	if heal != nil {
		if err := heal(ctx); err != nil {
			return err
		}
	}
	d.Say("HEAL: %s over", fault)
	v, err := d.settle(ctx)
	if err != nil {
		return err
	}
	acked, sent := 0, 0
	for _, w := range d.Workload.Writes() {
		if w.Sent.After(from) && w.Sent.Before(to) {
			sent++
			if w.Acked() && w.Region == d.Primary {
				acked++
			}
		}
	}
	ratio := 0.0
	if sent > 0 {
		ratio = float64(acked) / float64(sent)
	}
	d.Report.Observed = fmt.Sprintf("epoch %d held by %s; primary acknowledged %.1f%% of %d writes during the fault", v.Active.Epoch, v.Active.Region, 100*ratio, sent)
	if v.Active.Region != d.Primary || v.Active.Epoch != d.EpochBase {
		return fmt.Errorf("a new epoch began under %s alone: %s at epoch %d", fault, v.Active.Region, v.Active.Epoch)
	}
	if ratio < minRatio {
		return fmt.Errorf("the primary acknowledged %.1f%% of writes under %s, want ≥ %.0f%% (why not: %v)", 100*ratio, fault, 100*minRatio, drill.Summarize(d.Workload.Writes(), d.StartedAt).Reasons)
	}
	return nil
}

func (d scene) minAckRatio() float64 {
	if d.Options.MinAckRatio > 0 {
		return d.Options.MinAckRatio
	}
	return 0.95
}

// settle lets the workload run for opts.After, stops it, and reads the
// control records' view.
func (d scene) settle(ctx context.Context) (record.View, error) {
	if err := clock.Sleep(ctx, d.Options.After); err != nil {
		return record.View{}, err
	}
	d.StopWorkload()
	return d.Controller.View(ctx, d.Primary, d.DR)
}

func (d scene) drOutage(ctx context.Context) error { return d.noNewEpoch(ctx, d.DR, d.minAckRatio()) }

func (d scene) witnessOutage(ctx context.Context) error {
	f, err := d.faults()
	if err != nil {
		return err
	}
	if f.Witness() == "" {
		return errors.New("the lab runs without a witness (PILOTLIGHT_WITNESS_REGION=none): nothing to cut")
	}
	return d.noNewEpoch(ctx, f.Witness(), d.minAckRatio())
}

func (d scene) returnBeforeFence(ctx context.Context) error {
	f, err := d.faults()
	if err != nil {
		return err
	}
	var prober *workload.Workload
	return d.Outage(ctx, drill.Hooks{
		AfterFailover: func(ctx context.Context) error {
			d.Say("DR DynamoDB answers 5s late (the fence cannot land); %s returns", d.Primary)
			if err := f.Latency(ctx, d.DR, "dynamodb", 5*time.Second); err != nil {
				return err
			}
			if err := d.Target.Heal(ctx, d.Primary); err != nil {
				return err
			}
			// A client that still sends to the old primary directly.
			prober = &workload.Workload{Route: func() string { return d.Target.RegionURL(d.Primary) }, Rate: 10, Concurrency: 2,
				RunID: d.Workload.RunID + "-direct", HTTP: d.Target.HTTP()}
			pctx, cancel := context.WithTimeout(ctx, 6*time.Second)
			prober.Run(pctx)
			cancel()
			d.Extra = append(d.Extra, prober)
			if err := d.Target.Heal(ctx, d.DR); err != nil {
				return err
			}
			acked := 0
			for _, w := range prober.Writes() {
				if w.Acked() && w.Region == d.Primary {
					acked++
				}
			}
			d.Report.Observed = fmt.Sprintf("%d of %d writes sent to the returning %s acknowledged", acked, len(prober.Writes()), d.Primary)
			d.Say("returning primary: %s", d.Report.Observed)
			if acked > 0 {
				return fmt.Errorf("the returning primary acknowledged %d writes at its old epoch", acked)
			}
			return nil
		},
	})
}

func (d scene) greyThenHard(ctx context.Context) error {
	f, err := d.faults()
	if err != nil {
		return err
	}
	d.FaultHook = func(ctx context.Context) (string, error) {
		if err := f.Latency(ctx, d.Primary, "dynamodb", 700*time.Millisecond); err != nil {
			return "", err
		}
		d.Say("grey: %s DynamoDB +700ms for 5s", d.Primary)
		if err := clock.Sleep(ctx, 5*time.Second); err != nil {
			return "", err
		}
		return d.Target.Inject(ctx, d.Primary)
	}
	return d.Outage(ctx, drill.Hooks{})
}

// drSlowWhilePrimaryCut is the fault of refused-then-healed and
// double-fault: one of the DR region's services answers late while the
// primary is cut; 8 s later (well past detection) the DR region heals and
// the primary stays cut. during, when set, checks the state at that point.
func (d scene) drSlowWhilePrimaryCut(svc string, latency time.Duration, during func(ctx context.Context) error) func(ctx context.Context) (string, error) {
	return func(ctx context.Context) (string, error) {
		f, err := d.faults()
		if err != nil {
			return "", err
		}
		if err := f.Latency(ctx, d.DR, svc, latency); err != nil {
			return "", err
		}
		how, err := d.Target.Inject(ctx, d.Primary)
		if err != nil {
			return "", err
		}
		d.Say("%s; %s %s answers %s late", how, d.DR, svc, latency)
		if err := clock.Sleep(ctx, 8*time.Second); err != nil {
			return "", err
		}
		if during != nil {
			if err := during(ctx); err != nil {
				return "", err
			}
		}
		if err := d.Target.Heal(ctx, d.DR); err != nil {
			return "", err
		}
		d.Say("%s healed; the primary is still cut", d.DR)
		return how, nil
	}
}

func (d scene) refusedThenHealed(ctx context.Context) error {
	d.FaultHook = d.drSlowWhilePrimaryCut("s3", 3*time.Second, func(ctx context.Context) error {
		v, err := d.Controller.View(ctx, d.Primary, d.DR)
		if err == nil && v.Active.Region == d.DR {
			return fmt.Errorf("failover to %s happened while its S3 was slow: the target-health guard did not hold", d.DR)
		}
		return nil
	})
	return d.Outage(ctx, drill.Hooks{})
}

func (d scene) failbackPaused(ctx context.Context) error {
	f, err := d.faults()
	if err != nil {
		return err
	}
	return d.Outage(ctx, drill.Hooks{BeforeFailback: func(ctx context.Context) error {
		if err := f.PauseReplication(ctx, true); err != nil {
			return err
		}
		before, err := d.Controller.View(ctx, d.Primary, d.DR)
		if err != nil {
			return err
		}
		_, ferr := d.Failback(ctx, "failback with replication paused")
		var ge *failover.GuardError
		after, err := d.Controller.View(ctx, d.Primary, d.DR)
		if err != nil {
			return err
		}
		ws, werr := d.Controller.Stores()[d.DR].WriteState(ctx)
		writable := werr == nil && ws.Writable(d.DR, time.Now(), d.Controller.LeaseConfig()) == nil
		d.Report.Observed = fmt.Sprintf("failback: %v; %s still writable: %v", ferr, d.DR, writable)
		d.Say("paused failback: %v", ferr)
		if err := f.PauseReplication(ctx, false); err != nil {
			return err
		}
		switch {
		case !errors.As(ferr, &ge):
			return fmt.Errorf("a failback with replication paused was not refused by a guard: %v", ferr)
		case after.Active.Region != before.Active.Region || after.Active.Epoch != before.Active.Epoch || after.Active.Hold != "":
			return fmt.Errorf("a refused failback moved the control records: %+v → %+v", before.Active, after.Active)
		case !writable:
			return fmt.Errorf("after a refused failback %s does not accept writes", d.DR)
		}
		return nil
	}})
}

func (d scene) failbackLag(ctx context.Context) error {
	f, err := d.faults()
	if err != nil {
		return err
	}
	prev, err := f.Lag(ctx)
	if err != nil {
		return err
	}
	defer f.SetLag(context.WithoutCancel(ctx), prev)
	return d.Outage(ctx, drill.Hooks{BeforeFailback: func(ctx context.Context) error {
		d.Say("replication lag 5s")
		return f.SetLag(ctx, 5*time.Second)
	}})
}

func (d scene) flapping(ctx context.Context) error {
	if _, err := d.faults(); err != nil {
		return err
	}
	d.StartWorkload()
	defer d.StopWorkload()
	if err := clock.Sleep(ctx, d.Options.Steady); err != nil {
		return err
	}
	flap := func(every, total time.Duration) error {
		d.Say("FAULT: %s cut and restored every %s for %s", d.Primary, every, total)
		end := time.Now().Add(total)
		for time.Now().Before(end) {
			if _, err := d.Target.Inject(ctx, d.Primary); err != nil {
				return err
			}
			if err := clock.Sleep(ctx, every); err != nil {
				return err
			}
			if err := d.Target.Heal(ctx, d.Primary); err != nil {
				return err
			}
			if err := clock.Sleep(ctx, every); err != nil {
				return err
			}
		}
		return nil
	}
	if err := flap(2*time.Second, d.faultFor()); err != nil {
		return err
	}
	if err := flap(500*time.Millisecond, d.faultFor()/2); err != nil {
		return err
	}
	v, err := d.settle(ctx)
	if err != nil {
		return err
	}
	n := v.HighestEpoch() - d.EpochBase
	d.Report.Observed = fmt.Sprintf("%d failovers (epoch %d → %d, %s active)", n, d.EpochBase, v.HighestEpoch(), v.Active.Region)
	if n > 1 {
		return fmt.Errorf("flapping caused %d failovers, want at most one", n)
	}
	return d.failBackIfNeeded(ctx, "after flapping")
}

// failBackIfNeeded fails back when the DR region is active, so the regions
// can be compared whole at the end.
func (d scene) failBackIfNeeded(ctx context.Context, reason string) error {
	v, err := d.Controller.View(ctx, d.Primary, d.DR)
	if err != nil || v.Active.Region != d.DR {
		return err
	}
	if err := d.Target.FailbackReplication(ctx, true); err != nil {
		return err
	}
	if _, err := d.Failback(ctx, reason); err != nil {
		return fmt.Errorf("failback %s: %w", reason, err)
	}
	return nil
}

func (d scene) doubleFault(ctx context.Context) error {
	d.FaultHook = d.drSlowWhilePrimaryCut("dynamodb", 700*time.Millisecond, nil)
	return d.Outage(ctx, drill.Hooks{})
}

// controllerCrash is controller-crash-after-PHASE.
func (d scene) controllerCrash(ctx context.Context) error {
	f, err := d.faults()
	if err != nil {
		return err
	}
	phase := strings.TrimPrefix(string(d.Options.Scenario), "controller-crash-after-")
	if err := f.CrashControllerAfter(ctx, phase); err != nil {
		return err
	}
	defer f.CrashControllerAfter(context.WithoutCancel(ctx), "")
	return d.Outage(ctx, drill.Hooks{AfterFailover: func(ctx context.Context) error {
		fo := d.Report.Failover
		d.Report.Observed = fmt.Sprintf("controller killed after %s; %s writable %.2fs after the fault at epoch %d", phase, d.DR, fo.RTOSeconds, fo.Epoch)
		if fo.Epoch != d.EpochBase+1 {
			return fmt.Errorf("the epoch advanced from %d to %d: a resumed run must not claim twice", d.EpochBase, fo.Epoch)
		}
		return nil
	}})
}

func (d scene) clockSkew(ctx context.Context) error {
	f, err := d.faults()
	if err != nil {
		return err
	}
	skew := d.Controller.LeaseConfig().Epsilon / 2
	if err := f.SetClockOffset(ctx, d.DR, skew); err != nil {
		return err
	}
	defer f.SetClockOffset(context.WithoutCancel(ctx), d.DR, 0)
	d.Say("%s's functions read the time %s ahead", d.DR, skew)
	err = d.Outage(ctx, drill.Hooks{})
	if d.Report.Failover != nil {
		d.Report.Observed = fmt.Sprintf("failover to %s at epoch %d with its clock %s ahead", d.DR, d.Report.Failover.Epoch, skew)
	}
	return err
}

// LWWSameKey writes the same keys in both regions, the primary first with
// its DynamoDB answering 3 s late (so its stream is read late), the DR region
// 0.5 s later: the later write must survive in both regions.
const LWWSameKey report.Scenario = "lww-same-key"

func (d scene) lwwSameKey(ctx context.Context) error {
	f, err := d.faults()
	if err != nil {
		return err
	}
	keys := make([]string, 5)
	for i := range keys {
		keys[i] = fmt.Sprintf("lww%d-%d", time.Now().UnixMilli(), i)
	}
	if err := f.Latency(ctx, d.Primary, "dynamodb", 3*time.Second); err != nil {
		return err
	}
	d.Say("FAULT: %s DynamoDB answers 3s late; the same %d keys written there, then in %s 0.5s later", d.Primary, len(keys), d.DR)
	// The primary's writes commit at once (a client behind the fault proxy:
	// only the region's stream reader is slowed), then the DR region's.
	early, err := f.Behind(d.Primary)
	if err != nil {
		return err
	}
	if err := workload.PutOrders(ctx, early, d.Names, keys, "earlier-"+d.Primary); err != nil {
		return err
	}
	if err := clock.Sleep(ctx, 500*time.Millisecond); err != nil {
		return err
	}
	if err := workload.PutOrders(ctx, d.Clients[d.DR], d.Names, keys, "later-"+d.DR); err != nil {
		return err
	}
	if err := d.Target.Heal(ctx, d.Primary); err != nil {
		return err
	}
	want := "later-" + d.DR
	var got map[string]string
	err = d.Poll(ctx, "both regions hold the later write", func() (bool, error) {
		got = map[string]string{}
		for _, r := range []string{d.Primary, d.DR} {
			m, err := workload.OrderNotes(ctx, d.Clients[r], d.Names, keys)
			if err != nil {
				return false, err
			}
			for k, v := range m {
				got[r+" "+k] = v
			}
		}
		for _, v := range got {
			if v != want {
				return false, nil
			}
		}
		return len(got) == 2*len(keys), nil
	})
	wrong := 0
	for _, v := range got {
		if v != want {
			wrong++
		}
	}
	d.Report.Observed = fmt.Sprintf("%d of %d copies hold the later write", 2*len(keys)-wrong, 2*len(keys))
	if err != nil {
		return fmt.Errorf("the later write did not survive everywhere: %v", got)
	}
	// 3 s of latency can cost the primary its lease long enough to fail
	// over; come back, so the regions compare whole.
	return d.failBackIfNeeded(ctx, "after lww-same-key")
}

// InterRegionPartition cuts the link between the two regions (their
// functions and replication cannot cross it; clients reach both): no
// failover may happen. Then an operator forces one: the old primary must
// stop acknowledging before the new one starts.
const InterRegionPartition report.Scenario = "inter-region-partition"

func (d scene) partition(ctx context.Context) error {
	f, err := d.faults()
	if err != nil {
		return err
	}
	d.StartWorkload()
	defer d.StopWorkload()
	if err := clock.Sleep(ctx, d.Options.Steady); err != nil {
		return err
	}
	d.Say("FAULT: %s and %s cannot reach each other (replication stops); clients reach both", d.Primary, d.DR)
	if err := f.CutLink(ctx, d.Primary, d.DR); err != nil {
		return err
	}
	if err := clock.Sleep(ctx, d.faultFor()); err != nil {
		return err
	}
	v, err := d.Controller.View(ctx, d.Primary, d.DR)
	if err != nil {
		return err
	}
	if v.Active.Region != d.Primary || v.Active.Epoch != d.EpochBase {
		return fmt.Errorf("a partition alone caused a failover: %s at epoch %d", v.Active.Region, v.Active.Epoch)
	}
	d.Say("no failover after %s; an operator forces one", d.faultFor())
	forcedAt := time.Now()
	res, err := d.Controller.Run(ctx, failover.Request{From: d.Primary, To: d.DR, Operator: true, Force: true, Reason: "drill: forced failover during a partition"})
	if err != nil {
		return fmt.Errorf("forced failover: %w", err)
	}
	gap, err := d.handedOver(ctx, forcedAt)
	if err != nil {
		return err
	}
	d.Report.Observed = fmt.Sprintf("no failover during the partition; forced to epoch %d: %s's last write %.2fs before %s's first", res.Epoch, d.Primary, gap.Seconds(), d.DR)
	d.Say("%s", d.Report.Observed)
	if err := d.Target.Heal(ctx, ""); err != nil {
		return err
	}
	if err := d.Target.FailbackReplication(ctx, true); err != nil {
		return err
	}
	d.Say("HEAL: the link is back; failing back")
	if _, err := d.Failback(ctx, "after the partition"); err != nil {
		return fmt.Errorf("failback: %w", err)
	}
	return nil
}
