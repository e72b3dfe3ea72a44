package replication

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

func (s *Set) adoptedPath() string { return filepath.Join(s.cfg.Dir, "adopted.json") }

// Replicate makes the lab replicate a user's table or bucket between the
// two regions. A table must exist in both with the same key schema and a
// NEW_AND_OLD_IMAGES stream; a bucket and its replica must exist and be
// versioned. Idempotent, and remembered across restarts.
func (s *Set) Replicate(ctx context.Context, a Adopted) error {
	if err := a.check(s.cfg.Names, s.cfg.Tables[0].Name, s.cfg.Tables[1].Name); err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if a.Table != "" {
		if _, ok := s.adopted[a.Table]; ok {
			return nil
		}
		if err := s.startAdopted(ctx, a.Table); err != nil {
			return err
		}
	} else {
		if r, ok := s.buckets[a.Bucket]; ok {
			if r != a.Replica {
				return fmt.Errorf("bucket %s is replicated to %s already: remove it first (protect remove) to replicate it to %s", a.Bucket, r, a.Replica)
			}
			return nil
		}
		if err := s.checkVersioned(ctx, a); err != nil {
			return err
		}
		s.objects.AddBucket(a.Bucket, a.Replica)
		s.buckets[a.Bucket] = a.Replica
	}
	if err := s.saveAdopted(); err != nil {
		return err
	}
	s.event("the lab now replicates " + a.String())
	return nil
}

// checkVersioned says which of an adopted bucket pair is missing or not
// versioned: replication copies versions, and needs them on both sides.
func (s *Set) checkVersioned(ctx context.Context, a Adopted) error {
	for i, b := range []string{a.Bucket, a.Replica} {
		r := s.cfg.Objects[i]
		out, err := r.Clients.S3.GetBucketVersioning(ctx, &s3.GetBucketVersioningInput{Bucket: aws.String(b)})
		if err != nil {
			return fmt.Errorf("bucket %s in %s: %w (create it, versioned, first)", b, r.Name, err)
		}
		if out.Status != s3types.BucketVersioningStatusEnabled {
			return fmt.Errorf("bucket %s in %s is not versioned: enable versioning (protect apply does)", b, r.Name)
		}
	}
	return nil
}

// StopReplicating undoes Replicate: the replicator stops (its changes in
// flight are applied or dropped with it) and the adoption is forgotten.
// Neither region's table or bucket is touched. Idempotent.
func (s *Set) StopReplicating(_ context.Context, a Adopted) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if a.Bucket != "" {
		if _, ok := s.buckets[a.Bucket]; !ok {
			return nil
		}
		s.objects.RemoveBucket(a.Bucket)
		delete(s.buckets, a.Bucket)
	} else {
		t, ok := s.adopted[a.Table]
		if !ok {
			return nil
		}
		t.cancel()
		<-t.done
		delete(s.adopted, a.Table)
		_ = os.Remove(filepath.Join(s.cfg.Dir, "table-"+a.Table+".json"))
	}
	if err := s.saveAdopted(); err != nil {
		return err
	}
	s.event("the lab no longer replicates " + a.String())
	return nil
}

// Adopted lists what the lab replicates for users, tables first.
func (s *Set) Adopted() []Adopted {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []Adopted
	for _, t := range s.adoptedTables() {
		out = append(out, Adopted{Table: t})
	}
	for b, r := range s.buckets {
		out = append(out, Adopted{Bucket: b, Replica: r})
	}
	slices.SortFunc(out[len(s.adopted):], func(a, b Adopted) int { return cmp.Compare(a.Bucket, b.Bucket) })
	return out
}

// adoptedTables is the adopted tables' names, sorted; the caller holds
// mu.
func (s *Set) adoptedTables() []string {
	names := make([]string, 0, len(s.adopted))
	for n := range s.adopted {
		names = append(names, n)
	}
	slices.Sort(names)
	return names
}

// saveAdopted writes the adoptions; the caller holds mu.
func (s *Set) saveAdopted() error {
	b, _ := json.Marshal(adoptions{Tables: s.adoptedTables(), Buckets: s.buckets})
	return os.WriteFile(s.adoptedPath(), b, 0o644)
}

// adoptedTable is one adopted table's replicator and how to stop it.
type adoptedTable struct {
	r      *tables.Replicator
	cancel context.CancelFunc
	done   chan struct{}
}

// startAdopted starts one adopted table's replicator; the caller holds
// mu.
func (s *Set) startAdopted(ctx context.Context, table string) error {
	lag, paused := s.tables.Settings()
	t, err := tables.New(ctx, tables.Config{Regions: s.cfg.Tables, Table: table, Lag: lag, Path: filepath.Join(s.cfg.Dir, "table-"+table+".json"), Log: s.cfg.Log,
		Cut: s.cut(region.DynamoDB)})
	if err != nil {
		return fmt.Errorf("replicate table %s: %w", table, err)
	}
	t.SetPaused(paused)
	rctx, cancel := context.WithCancel(s.ctx)
	a := &adoptedTable{r: t, cancel: cancel, done: make(chan struct{})}
	s.adopted[table] = a
	s.wg.Add(1)
	go func() { defer s.wg.Done(); defer close(a.done); t.Run(rctx) }()
	return nil
}

// resume serves again what was adopted before the lab last
// stopped. A table gone since is logged and left out. A record written
// before buckets could be adopted (a list of tables) is read as such.
func (s *Set) resume(ctx context.Context) error {
	b, err := os.ReadFile(s.adoptedPath())
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		return err
	}
	var rec adoptions
	if err := json.Unmarshal(b, &rec); err != nil {
		if json.Unmarshal(b, &rec.Tables) != nil {
			return fmt.Errorf("%s: %w (delete it to stop replicating adopted tables and buckets)", s.adoptedPath(), err)
		}
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, n := range rec.Tables {
		cctx, cancel := context.WithTimeout(ctx, 10*time.Second)
		err := s.startAdopted(cctx, n)
		cancel()
		if err != nil {
			s.cfg.Log.Warn("adopted table not replicated", "table", n, "err", err)
		}
	}
	for b, r := range rec.Buckets {
		s.objects.AddBucket(b, r)
		s.buckets[b] = r
	}
	return nil
}
