package lab

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"time"

	"github.com/pilotlight/pilotlight/internal/lab/replication/tables"
	"github.com/pilotlight/pilotlight/internal/region"
)

// adoptedPath is the lab's record of the users' tables it replicates
// (protect apply), kept beside the replicators' positions so a restarted
// lab serves them again.
func (l *Lab) adoptedPath() string { return filepath.Join(l.opts.Dir, "replication", "adopted.json") }

// ReplicateTable makes the lab replicate a user's table between the two
// regions, both ways, as a global table does — the table must exist in both
// with the same key schema and a NEW_AND_OLD_IMAGES stream. It is
// idempotent, and remembered across restarts.
func (l *Lab) ReplicateTable(ctx context.Context, table string) error {
	if table == "" || table == l.opts.Names.Table() {
		return fmt.Errorf("replicate table %q: name a table of yours (pilotlight's own is replicated already)", table)
	}
	l.adoptMu.Lock()
	defer l.adoptMu.Unlock()
	if _, ok := l.adopted[table]; ok {
		return nil
	}
	if err := l.startAdopted(ctx, table); err != nil {
		return err
	}
	if err := l.saveAdopted(); err != nil {
		return err
	}
	l.event("replication", "", "the lab now replicates table "+table+" both ways")
	return nil
}

// StopReplicatingTable undoes ReplicateTable: the table's replicator stops
// (its changes in flight are applied or dropped with it) and is forgotten.
// Neither region's table is touched. Idempotent.
func (l *Lab) StopReplicatingTable(_ context.Context, table string) error {
	l.adoptMu.Lock()
	defer l.adoptMu.Unlock()
	a, ok := l.adopted[table]
	if !ok {
		return nil
	}
	a.cancel()
	<-a.done
	delete(l.adopted, table)
	_ = os.Remove(filepath.Join(l.opts.Dir, "replication", "table-"+table+".json"))
	if err := l.saveAdopted(); err != nil {
		return err
	}
	l.event("replication", "", "the lab no longer replicates table "+table)
	return nil
}

// saveAdopted writes the adopted tables' names; the caller holds adoptMu.
func (l *Lab) saveAdopted() error {
	names := make([]string, 0, len(l.adopted))
	for n := range l.adopted {
		names = append(names, n)
	}
	slices.Sort(names)
	b, _ := json.Marshal(names)
	return os.WriteFile(l.adoptedPath(), b, 0o644)
}

// adoptedTable is one adopted table's replicator and how to stop it.
type adoptedTable struct {
	r      *tables.Replicator
	cancel context.CancelFunc
	done   chan struct{}
}

// startAdopted starts one adopted table's replicator; the caller holds
// adoptMu.
func (l *Lab) startAdopted(ctx context.Context, table string) error {
	if l.replCtx == nil {
		return errors.New("replication is not running")
	}
	lag, paused := l.tables.Settings()
	t, err := tables.New(ctx, tables.Config{Regions: l.replRegions, Table: table, Lag: lag, Path: filepath.Join(l.opts.Dir, "replication", "table-"+table+".json"), Log: l.log,
		Cut: func(r string) bool { return l.isCut(r, region.DynamoDB) }})
	if err != nil {
		return fmt.Errorf("replicate table %s: %w", table, err)
	}
	t.SetPaused(paused)
	if l.adopted == nil {
		l.adopted = map[string]*adoptedTable{}
	}
	rctx, cancel := context.WithCancel(l.replCtx)
	a := &adoptedTable{r: t, cancel: cancel, done: make(chan struct{})}
	l.adopted[table] = a
	l.wg.Add(1)
	go func() { defer l.wg.Done(); defer close(a.done); t.Run(rctx) }()
	return nil
}

// resumeAdopted starts the replicators of the tables adopted before the lab
// last stopped. A table gone since is logged and left out.
func (l *Lab) resumeAdopted(ctx context.Context) error {
	b, err := os.ReadFile(l.adoptedPath())
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		return err
	}
	var names []string
	if err := json.Unmarshal(b, &names); err != nil {
		return fmt.Errorf("%s: %w (delete it to stop replicating adopted tables)", l.adoptedPath(), err)
	}
	l.adoptMu.Lock()
	defer l.adoptMu.Unlock()
	for _, n := range names {
		cctx, cancel := context.WithTimeout(ctx, 10*time.Second)
		err := l.startAdopted(cctx, n)
		cancel()
		if err != nil {
			l.log.Warn("adopted table not replicated", "table", n, "err", err)
		}
	}
	return nil
}

// eachTableReplicator calls f for pilotlight's table replicator and every
// adopted one.
func (l *Lab) eachTableReplicator(f func(*tables.Replicator)) {
	f(l.tables)
	l.adoptMu.Lock()
	defer l.adoptMu.Unlock()
	for _, a := range l.adopted {
		f(a.r)
	}
}

// adoptedStatus is the replication status of the adopted tables.
func (l *Lab) adoptedStatus() []region.ReplicationStatus {
	l.adoptMu.Lock()
	defer l.adoptMu.Unlock()
	var out []region.ReplicationStatus
	for _, a := range l.adopted {
		out = append(out, a.r.Status()...)
	}
	return out
}
