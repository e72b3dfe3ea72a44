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

// adopted is the lab's record of the users' tables it replicates (protect
// apply), kept beside the replicators' positions so a restarted lab serves
// them again.
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
	names := make([]string, 0, len(l.adopted))
	for n := range l.adopted {
		names = append(names, n)
	}
	slices.Sort(names)
	b, _ := json.Marshal(names)
	if err := os.WriteFile(l.adoptedPath(), b, 0o644); err != nil {
		return err
	}
	l.event("replication", "", "the lab now replicates table "+table+" both ways")
	return nil
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
		l.adopted = map[string]*tables.Replicator{}
	}
	l.adopted[table] = t
	l.wg.Add(1)
	go func() { defer l.wg.Done(); t.Run(l.replCtx) }()
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
	for _, t := range l.adopted {
		f(t)
	}
}

// AdoptedStatus is the replication status of the adopted tables.
func (l *Lab) adoptedStatus() []region.ReplicationStatus {
	l.adoptMu.Lock()
	defer l.adoptMu.Unlock()
	var out []region.ReplicationStatus
	for _, t := range l.adopted {
		out = append(out, t.Status()...)
	}
	return out
}
