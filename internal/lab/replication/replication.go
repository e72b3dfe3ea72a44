// Package replication owns the lab's replication as one thing: the table
// replicator for pilotlight's table, the object replicator for its
// buckets, and the users' tables and buckets that protect apply adopted.
// One lag, one pause and one failback switch act on all of them, and what
// is adopted is recorded so that a restarted lab serves it again.
//
// Its subpackages are the replicators: tables (the stand-in for DynamoDB
// global tables) and objects (the stand-in for S3 replication).
//
// It must not start servers or fronts nor know the lab's faults: it is
// given its regions' clients and fronts, and a way to ask whether a
// region's service is cut off.
package replication

import (
	"context"
	"fmt"
	"log/slog"
	"path/filepath"
	"sync"
	"time"

	"github.com/pilotlight/pilotlight/internal/lab/replication/objects"
	"github.com/pilotlight/pilotlight/internal/lab/replication/tables"
	"github.com/pilotlight/pilotlight/internal/region"
)

// Config is what a Set works with. Regions are the primary first.
type Config struct {
	// Dir holds the replicators' positions and the adoptions.
	Dir   string
	Names region.Names
	// Tables are the table replicators' regions: their clients are the
	// replicators' own, named front.ReplicatorAgent.
	Tables [2]tables.Region
	// Objects are the object replicator's regions.
	Objects [2]objects.Region
	Lag     time.Duration
	Log     *slog.Logger
	// Cut reports whether a region's service is cut off: nothing leaves
	// it then.
	Cut func(regionName string, svc region.Service) bool
	// Event, when set, records what the lab's timeline should show (an
	// adoption starting or stopping).
	Event func(detail string)
}

// Set is the lab's running replication. Its methods are safe for
// concurrent use.
type Set struct {
	cfg     Config
	tables  *tables.Replicator
	objects *objects.Replicator
	ctx     context.Context // the replicators', cancelled by Stop
	cancel  context.CancelFunc
	wg      sync.WaitGroup

	// mu guards the adoptions: the users' tables' replicators, with the
	// same regions as tables, and the users' buckets objects serves
	// (bucket -> replica).
	mu      sync.Mutex
	adopted map[string]*adoptedTable
	buckets map[string]string
}

// Start starts both replicators from their saved positions and serves
// again what was adopted before the lab last stopped.
func Start(ctx context.Context, cfg Config) (*Set, error) {
	s := &Set{cfg: cfg, adopted: map[string]*adoptedTable{}, buckets: map[string]string{}}
	var err error
	s.tables, err = tables.New(ctx, tables.Config{Regions: cfg.Tables, Table: cfg.Names.Table(), Lag: cfg.Lag,
		Path: filepath.Join(cfg.Dir, "tables.json"), Log: cfg.Log, Cut: s.cut(region.DynamoDB)})
	if err != nil {
		return nil, err
	}
	s.objects, err = objects.New(objects.Config{Primary: cfg.Objects[0], DR: cfg.Objects[1], Names: cfg.Names, Lag: cfg.Lag,
		Path: filepath.Join(cfg.Dir, "objects.json"), Log: cfg.Log, Cut: s.cut(region.S3)})
	if err != nil {
		return nil, err
	}
	s.ctx, s.cancel = context.WithCancel(context.Background())
	s.wg.Add(2)
	go func() { defer s.wg.Done(); s.tables.Run(s.ctx) }()
	go func() { defer s.wg.Done(); s.objects.Run(s.ctx) }()
	if err := s.resume(ctx); err != nil {
		s.Stop()
		return nil, err
	}
	return s, nil
}

func (s *Set) event(detail string) {
	if s.cfg.Event != nil {
		s.cfg.Event(detail)
	}
}

func (s *Set) cut(svc region.Service) func(string) bool {
	return func(r string) bool { return s.cfg.Cut(r, svc) }
}

// Stop stops every replicator; each saves its position.
func (s *Set) Stop() {
	s.cancel()
	s.wg.Wait()
}

// ReadThrough is the time up to which pilotlight's table in regionName
// has received every change from the other region.
func (s *Set) ReadThrough(regionName string) time.Time { return s.tables.ReadThrough(regionName) }

// SetPaused pauses or resumes replication in both directions, like the
// FIS action that pauses global table replication. Reading goes on, so
// resuming catches up from where it stopped.
func (s *Set) SetPaused(p bool) {
	s.eachTable(func(t *tables.Replicator) { t.SetPaused(p) })
	s.objects.SetPaused(p)
	s.cfg.Log.Info("replication", "paused", p)
}

// SetLag sets the delay every replicated change waits before it is
// applied.
func (s *Set) SetLag(d time.Duration) error {
	if d < 0 || d > time.Hour {
		return fmt.Errorf("replication lag %s: use 0 to 1h", d)
	}
	s.eachTable(func(t *tables.Replicator) { t.SetLag(d) })
	s.objects.SetLag(d)
	s.cfg.Log.Info("replication", "lag", d)
	return nil
}

// SetFailback turns object replication from the DR region back to the
// primary on or off (tables always replicate both ways, as global tables
// do).
func (s *Set) SetFailback(on bool) {
	s.objects.SetFailback(on)
	s.cfg.Log.Info("replication", "failback", on)
}

// Poke makes the object replicator look for new versions now.
func (s *Set) Poke() { s.objects.Poke() }

// Settings are the lag, whether replication is paused and whether
// failback replication is on.
func (s *Set) Settings() (lag time.Duration, paused, failback bool) {
	lag, paused = s.tables.Settings()
	return lag, paused, s.objects.Failback()
}

// Status is every direction of every replicator: pilotlight's table
// first (both directions, of kind "table"), then the buckets, then the
// adopted tables.
func (s *Set) Status() []region.ReplicationStatus {
	st := s.tables.Status()
	for i := range st {
		st[i].Kind = "table"
	}
	st = append(st, s.objects.Status()...)
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, n := range s.adoptedTables() {
		st = append(st, s.adopted[n].r.Status()...)
	}
	return st
}

// eachTable calls f for pilotlight's table replicator and every adopted
// one.
func (s *Set) eachTable(f func(*tables.Replicator)) {
	f(s.tables)
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, a := range s.adopted {
		f(a.r)
	}
}
