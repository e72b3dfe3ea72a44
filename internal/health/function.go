package health

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"time"

	"github.com/pilotlight/pilotlight/internal/control"
)

// Function is what the health-check function does with each scheduled
// invocation: probe both regions (every ProbeInterval within the minute
// when that is under a minute: EventBridge schedules go no finer), renew
// the write lease when this region holds it, for its whole share of the
// schedule, and measure the clock against the time server, each result an
// EMF line on Out.
type Function struct {
	Prober *Prober
	// Quorum is the lease protocol over the control records (this region's,
	// the peer's and the witness's).
	Quorum *control.Quorum
	Region string
	// RenewFor is how long one invocation keeps renewing (its share of the
	// schedule); ProbeInterval how often it probes (≥ 1 m: once).
	RenewFor, ProbeInterval time.Duration
	// TimeServer is the SNTP server the clock is measured against ("":
	// not measured); Epsilon the lease's clock bound, which an offset
	// nears with a warning.
	TimeServer string
	Epsilon    time.Duration
	Now        func() time.Time
	Metrics    EmitOptions
	Out        io.Writer
	Log        *slog.Logger
}

// Handle runs one invocation; the payload (a scheduled event) is not read.
func (f Function) Handle(ctx context.Context, _ json.RawMessage) (Report, error) {
	// Beside the probes and renewals, never before them: a time server
	// that does not answer costs its timeout, not a late renewal.
	measured := make(chan struct{})
	go func() { defer close(measured); f.clock(ctx) }()
	defer func() { <-measured }()
	kept := make(chan struct{})
	go func() { defer close(kept); f.keep(ctx) }()
	defer func() { <-kept }()
	r := f.once(ctx)
	if f.ProbeInterval <= 0 || f.ProbeInterval >= time.Minute {
		return r, nil
	}
	start := time.Now()
	for i := 1; i < int(time.Minute/f.ProbeInterval); i++ {
		at := start.Add(time.Duration(i) * f.ProbeInterval)
		if deadline, ok := ctx.Deadline(); ok && deadline.Sub(at) < 5*time.Second {
			break
		}
		select {
		case <-ctx.Done():
			return r, nil
		case <-time.After(time.Until(at)):
		}
		r = f.once(ctx)
	}
	return r, nil
}

// once probes both regions and emits the verdicts.
func (f Function) once(ctx context.Context) Report {
	r := f.Prober.Run(ctx)
	for _, v := range r.Verdicts {
		for _, pr := range v.Probes {
			if !pr.OK {
				f.Log.Warn("probe failed", "target", pr.Target, "probe", pr.Probe, "latency_ms", pr.LatencyMs, "err", pr.Error)
			}
		}
	}
	if err := EmitWith(f.Out, r, f.Metrics); err != nil {
		f.Log.Error("emit metrics", "err", err)
	}
	return r
}

// keep renews the write lease every term/4 while this region holds it,
// until its share of the schedule (or the invocation) ends; the other
// region only looks.
func (f Function) keep(ctx context.Context) {
	renewFor := f.RenewFor
	if deadline, ok := ctx.Deadline(); ok {
		renewFor = min(renewFor, time.Until(deadline)-time.Second)
	}
	f.Quorum.Keep(ctx, f.Region, renewFor, func(res control.RenewResult, err error) {
		if err != nil && !errors.Is(err, control.ErrNotHolder) {
			f.Log.Warn("lease renewal failed", "err", err)
		}
		if err := EmitLease(f.Out, f.Region, res, err); err != nil {
			f.Log.Error("emit metrics", "err", err)
		}
	})
}

// clock measures how far this region's clock is off the time server once
// a run: the lease's safety assumes at most ε.
func (f Function) clock(ctx context.Context) {
	if f.TimeServer == "" {
		return
	}
	off, rtt, err := MeasureClockOffset(ctx, f.TimeServer, f.Now)
	if err != nil {
		f.Log.Warn("clock offset not measured", "err", err)
		return
	}
	if off > f.Epsilon/2 || off < -f.Epsilon/2 {
		f.Log.Warn("clock offset nears the lease's bound", "offset", off.String(), "epsilon", f.Epsilon.String(), "rtt", rtt.String())
	}
	if err := EmitClockOffset(f.Out, f.Region, off, f.Epsilon); err != nil {
		f.Log.Error("emit metrics", "err", err)
	}
}
