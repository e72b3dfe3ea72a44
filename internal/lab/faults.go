package lab

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/pilotlight/pilotlight/internal/control/record"
	"github.com/pilotlight/pilotlight/internal/lab/faults"
	"github.com/pilotlight/pilotlight/internal/region"
)

// Cut makes a region's services (all when svc is empty) fail fast.
func (l *Lab) Cut(regionName string, svc region.Service) error { return l.inj.Cut(regionName, svc) }

// AddLatency delays a region's services (all when svc is empty) by d.
func (l *Lab) AddLatency(regionName string, svc region.Service, d time.Duration) error {
	return l.inj.AddLatency(regionName, svc, d)
}

// Restore removes every fault from a region, or from all regions (and
// partitions, which resumes replication) when regionName is empty.
func (l *Lab) Restore(regionName string) error {
	links, err := l.inj.Restore(regionName)
	if links {
		l.SetPaused(false) // the partition paused it
	}
	return err
}

// Faults lists the active faults, sorted by region and service.
func (l *Lab) Faults() []faults.Fault { return l.inj.Faults() }

// isCut reports whether a region's service is cut.
func (l *Lab) isCut(regionName string, svc region.Service) bool { return l.inj.IsCut(regionName, svc) }

// CutLink cuts the network between two regions both ways (their functions
// cannot reach each other, clients still reach both) and pauses replication,
// which crosses the same link: a partition.
func (l *Lab) CutLink(a, b string) error {
	if err := l.inj.CutLink(a, b); err != nil {
		return err
	}
	l.SetPaused(true)
	l.event("fault", a, "link "+a+" <> "+b+" cut; replication paused")
	return nil
}

// CrashControllerAfter arms (or, with "", disarms) a one-shot crash of the
// DR region's failover controller as its journal write of phase returns.
func (l *Lab) CrashControllerAfter(phase string) error {
	if phase != "" && record.Phase(phase).Index() < 0 {
		return fmt.Errorf("unknown phase %q: use one of %v", phase, record.Phases)
	}
	l.mu.Lock()
	l.crashAfter = phase
	l.mu.Unlock()
	l.log.Info("controller crash armed", "phase", phase)
	return nil
}

// observeControlWrite kills the controller when an armed phase's journal
// row has been written.
func (l *Lab) observeControlWrite(body []byte) {
	l.mu.Lock()
	phase := l.crashAfter
	l.mu.Unlock()
	if phase == "" {
		return
	}
	var req struct {
		TableName string
		Item      map[string]map[string]string
	}
	if json.Unmarshal(body, &req) != nil || req.TableName != l.opts.Names.ControlTable() {
		return
	}
	sk := req.Item[region.ControlSortKey]["S"]
	if !strings.HasPrefix(req.Item[region.ControlHashKey]["S"], "run#") || !strings.HasSuffix(sk, "#"+phase) {
		return
	}
	l.mu.Lock()
	if l.crashAfter != phase {
		l.mu.Unlock()
		return
	}
	l.crashAfter = ""
	p := l.pools[l.opts.DR+"/"+FnController]
	l.mu.Unlock()
	if p == nil {
		return
	}
	p.Kill()
	l.event("fault", l.opts.DR, "failover controller killed after journaling "+phase)
}

// SetClockOffset makes a region's functions read their time offset by d.
func (l *Lab) SetClockOffset(regionName string, d time.Duration) error {
	r, err := l.region(regionName)
	if err != nil {
		return err
	}
	if d > time.Minute || d < -time.Minute {
		return fmt.Errorf("clock offset %s: keep it within a minute", d)
	}
	if err := os.MkdirAll(filepath.Dir(l.clockFile(r.name)), 0o755); err != nil {
		return err
	}
	if err := os.WriteFile(l.clockFile(r.name), []byte(d.String()), 0o644); err != nil {
		return err
	}
	l.event("fault", r.name, "functions' clock offset "+d.String())
	return nil
}
