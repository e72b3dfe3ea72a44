package lab

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	s3types "github.com/aws/aws-sdk-go-v2/service/s3/types"

	"github.com/pilotlight/pilotlight/internal/lab/replication/tables"
	"github.com/pilotlight/pilotlight/internal/region"
)

// Adopted is a user's resource the lab replicates (protect apply): a table
// (replicated both ways, as a global table is) or a bucket and its replica
// in the DR region (replicated as an S3 replication rule does, and back
// while failback replication is on).
type Adopted struct {
	Table   string `json:"table,omitempty"`
	Bucket  string `json:"bucket,omitempty"`
	Replica string `json:"replica,omitempty"` // the bucket's copy in the DR region
}

func (a Adopted) String() string {
	if a.Table != "" {
		return "table " + a.Table
	}
	return "bucket " + a.Bucket + " (replica " + a.Replica + ")"
}

// check says what is wrong with a, naming the fix.
func (a Adopted) check(n region.Names, primary, dr string) error {
	switch {
	case (a.Table == "") == (a.Bucket == ""):
		return fmt.Errorf("adopt %v: name one table or one bucket", a)
	case a.Table != "" && (a.Table == n.Table() || a.Table == n.ControlTable()):
		return fmt.Errorf("replicate table %q: name a table of yours (pilotlight's own are replicated already)", a.Table)
	case a.Bucket != "" && a.Replica == "":
		return fmt.Errorf("replicate bucket %q: name its replica in the DR region", a.Bucket)
	case a.Bucket != "" && slices.Contains([]string{n.Bucket(primary), n.Bucket(dr), n.BackupBucket(primary), n.BackupBucket(dr)}, a.Bucket):
		return fmt.Errorf("replicate bucket %q: name a bucket of yours (pilotlight's own are replicated already)", a.Bucket)
	}
	return nil
}

// adoptions is the lab's record of what it replicates for users, kept
// beside the replicators' positions so a restarted lab serves them again.
type adoptions struct {
	Tables  []string          `json:"tables"`
	Buckets map[string]string `json:"buckets"` // bucket -> replica
}

func (l *Lab) adoptedPath() string { return filepath.Join(l.opts.Dir, "replication", "adopted.json") }

// Replicate makes the lab replicate a user's table or bucket between the
// two regions. A table must exist in both with the same key schema and a
// NEW_AND_OLD_IMAGES stream; a bucket and its replica must exist and be
// versioned. Idempotent, and remembered across restarts.
func (l *Lab) Replicate(ctx context.Context, a Adopted) error {
	if err := a.check(l.opts.Names, l.regions[0].name, l.regions[1].name); err != nil {
		return err
	}
	l.adoptMu.Lock()
	defer l.adoptMu.Unlock()
	if a.Table != "" {
		if _, ok := l.adopted[a.Table]; ok {
			return nil
		}
		if err := l.startAdopted(ctx, a.Table); err != nil {
			return err
		}
	} else {
		if r, ok := l.adoptedBuckets[a.Bucket]; ok {
			if r != a.Replica {
				return fmt.Errorf("bucket %s is replicated to %s already: remove it first (protect remove) to replicate it to %s", a.Bucket, r, a.Replica)
			}
			return nil
		}
		if err := l.checkVersioned(ctx, a); err != nil {
			return err
		}
		l.objects.AddBucket(a.Bucket, a.Replica)
		if l.adoptedBuckets == nil {
			l.adoptedBuckets = map[string]string{}
		}
		l.adoptedBuckets[a.Bucket] = a.Replica
	}
	if err := l.saveAdopted(); err != nil {
		return err
	}
	l.event("replication", "", "the lab now replicates "+a.String())
	return nil
}

// checkVersioned says which of an adopted bucket pair is missing or not
// versioned: replication copies versions, and needs them on both sides.
func (l *Lab) checkVersioned(ctx context.Context, a Adopted) error {
	for i, b := range []string{a.Bucket, a.Replica} {
		r := l.regions[i]
		out, err := r.clients.S3.GetBucketVersioning(ctx, &s3.GetBucketVersioningInput{Bucket: aws.String(b)})
		if err != nil {
			return fmt.Errorf("bucket %s in %s: %w (create it, versioned, first)", b, r.name, err)
		}
		if out.Status != s3types.BucketVersioningStatusEnabled {
			return fmt.Errorf("bucket %s in %s is not versioned: enable versioning (protect apply does)", b, r.name)
		}
	}
	return nil
}

// StopReplicating undoes Replicate: the replicator stops (its changes in
// flight are applied or dropped with it) and the adoption is forgotten.
// Neither region's table or bucket is touched. Idempotent.
func (l *Lab) StopReplicating(_ context.Context, a Adopted) error {
	l.adoptMu.Lock()
	defer l.adoptMu.Unlock()
	if a.Bucket != "" {
		if _, ok := l.adoptedBuckets[a.Bucket]; !ok {
			return nil
		}
		l.objects.RemoveBucket(a.Bucket)
		delete(l.adoptedBuckets, a.Bucket)
	} else {
		t, ok := l.adopted[a.Table]
		if !ok {
			return nil
		}
		t.cancel()
		<-t.done
		delete(l.adopted, a.Table)
		_ = os.Remove(filepath.Join(l.opts.Dir, "replication", "table-"+a.Table+".json"))
	}
	if err := l.saveAdopted(); err != nil {
		return err
	}
	l.event("replication", "", "the lab no longer replicates "+a.String())
	return nil
}

// AdoptedResources lists what the lab replicates for users, tables first.
func (l *Lab) AdoptedResources() []Adopted {
	l.adoptMu.Lock()
	defer l.adoptMu.Unlock()
	var out []Adopted
	for _, t := range l.adoptedTables() {
		out = append(out, Adopted{Table: t})
	}
	for b, r := range l.adoptedBuckets {
		out = append(out, Adopted{Bucket: b, Replica: r})
	}
	slices.SortFunc(out[len(l.adopted):], func(a, b Adopted) int { return cmp.Compare(a.Bucket, b.Bucket) })
	return out
}

// adoptedTables is the adopted tables' names, sorted; the caller holds
// adoptMu.
func (l *Lab) adoptedTables() []string {
	names := make([]string, 0, len(l.adopted))
	for n := range l.adopted {
		names = append(names, n)
	}
	slices.Sort(names)
	return names
}

// saveAdopted writes the adoptions; the caller holds adoptMu.
func (l *Lab) saveAdopted() error {
	b, _ := json.Marshal(adoptions{Tables: l.adoptedTables(), Buckets: l.adoptedBuckets})
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

// resumeAdopted serves again what was adopted before the lab last
// stopped. A table gone since is logged and left out. A record written
// before buckets could be adopted (a list of tables) is read as such.
func (l *Lab) resumeAdopted(ctx context.Context) error {
	b, err := os.ReadFile(l.adoptedPath())
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		return err
	}
	var rec adoptions
	if err := json.Unmarshal(b, &rec); err != nil {
		if json.Unmarshal(b, &rec.Tables) != nil {
			return fmt.Errorf("%s: %w (delete it to stop replicating adopted tables and buckets)", l.adoptedPath(), err)
		}
	}
	l.adoptMu.Lock()
	defer l.adoptMu.Unlock()
	for _, n := range rec.Tables {
		cctx, cancel := context.WithTimeout(ctx, 10*time.Second)
		err := l.startAdopted(cctx, n)
		cancel()
		if err != nil {
			l.log.Warn("adopted table not replicated", "table", n, "err", err)
		}
	}
	l.adoptedBuckets = map[string]string{}
	for b, r := range rec.Buckets {
		l.objects.AddBucket(b, r)
		l.adoptedBuckets[b] = r
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

// adoptedStatus is the replication status of the adopted tables (adopted
// buckets are in the object replicator's).
func (l *Lab) adoptedStatus() []region.ReplicationStatus {
	l.adoptMu.Lock()
	defer l.adoptMu.Unlock()
	var out []region.ReplicationStatus
	for _, a := range l.adopted {
		out = append(out, a.r.Status()...)
	}
	return out
}
