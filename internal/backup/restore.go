package backup

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	dbtypes "github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/pilotlight/pilotlight/internal/clock"
	"github.com/pilotlight/pilotlight/internal/validate"
	"github.com/pilotlight/pilotlight/internal/validate/digest"
)

// RestoreOptions say what to restore where.
type RestoreOptions struct {
	// ID of the snapshot; "" or "latest" for the newest complete one.
	ID string
	// Table to create and fill. It must not exist unless Force is set, in
	// which case it is deleted first.
	Table string
	Force bool
}

// RestoreResult is a finished restore, checked against its manifest.
type RestoreResult struct {
	Snapshot string  `json:"snapshot"`
	Table    string  `json:"table"`
	Region   string  `json:"region"`
	Items    int64   `json:"items"`
	Digest   string  `json:"digest"`
	Seconds  float64 `json:"seconds"`
}

// ExistsError says the target table exists and --force was not given.
type ExistsError struct{ Table, Region string }

func (e *ExistsError) Error() string {
	return fmt.Sprintf("table %s already exists in %s: restore into a new name (--table), or pass --force to delete it and restore over it", e.Table, e.Region)
}

// Restore creates the table, writes every item of the snapshot, then scans
// the table and checks its item count and digest against the manifest.
// If anything fails after the table was created, the table is deleted, so a
// half-filled table is never left looking like a complete restore.
func (m *Manager) Restore(ctx context.Context, opt RestoreOptions) (*RestoreResult, error) {
	m.defaults()
	start := m.Now()
	if opt.Table == "" {
		return nil, errors.New("restore: no target table: name one with --table (restoring over the live table needs --table <name> --force)")
	}
	man, err := m.Find(ctx, opt.ID)
	if err != nil {
		return nil, err
	}
	exists, err := tableExists(ctx, m.DB, opt.Table)
	if err != nil {
		return nil, err
	}
	if exists {
		if !opt.Force {
			return nil, &ExistsError{Table: opt.Table, Region: m.Region}
		}
		m.progress("deleting the existing table %s (--force)", opt.Table)
		if err := deleteTable(ctx, m.DB, opt.Table); err != nil {
			return nil, err
		}
	}
	if err := createTable(ctx, m.DB, opt.Table, man.Keys, man.StreamViewType); err != nil {
		return nil, err
	}
	res, err := m.fill(ctx, man, opt.Table)
	if err != nil {
		dctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
		defer cancel()
		if derr := deleteTable(dctx, m.DB, opt.Table); derr != nil {
			return nil, fmt.Errorf("restore of %s into %s failed: %w; deleting the half-filled table failed too (%v): delete %s by hand before using it", man.ID, opt.Table, err, derr, opt.Table)
		}
		return nil, fmt.Errorf("restore of %s into %s failed, the half-filled table was deleted: %w", man.ID, opt.Table, err)
	}
	res.Seconds = m.Now().Sub(start).Seconds()
	return res, nil
}

func (m *Manager) fill(ctx context.Context, man *Manifest, table string) (*RestoreResult, error) {
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	batches := make(chan []dbtypes.WriteRequest, m.Writers*2)
	var written sync.WaitGroup
	var mu sync.Mutex
	var count int64
	for range m.Writers {
		written.Go(func() {
			for b := range batches {
				if err := writeBatch(ctx, m.DB, table, b); err != nil {
					cancel(err)
				}
				mu.Lock()
				count += int64(len(b))
				if count%50000 < int64(len(b)) {
					m.progress("restore %s: %d of %d items written", man.ID, count, man.ItemCount)
				}
				mu.Unlock()
			}
		})
	}
	var read sync.WaitGroup
	sem := make(chan struct{}, 4)
	for _, f := range man.Files {
		read.Go(func() {
			sem <- struct{}{}
			defer func() { <-sem }()
			if ctx.Err() != nil {
				return
			}
			if err := m.readFile(ctx, man, f, batches); err != nil {
				cancel(err)
			}
		})
	}
	read.Wait()
	close(batches)
	written.Wait()
	if err := context.Cause(ctx); err != nil {
		return nil, err
	}
	// Check what is in the table now, not what we think we wrote.
	sum, err := TableDigest(ctx, m.DB, table, man.KeyNames(), m.Segments)
	if err != nil {
		return nil, err
	}
	if sum.String() != man.Digest {
		return nil, fmt.Errorf("the restored table holds %d items with digest %s, the manifest says %s", sum.Count, short(sum.String()), short(man.Digest))
	}
	return &RestoreResult{Snapshot: man.ID, Table: table, Region: m.Region, Items: sum.Count, Digest: sum.String()}, nil
}

func (m *Manager) readFile(ctx context.Context, man *Manifest, f DataFile, out chan<- []dbtypes.WriteRequest) error {
	key := joinKey(man.Table, man.ID, f.Key)
	obj, err := m.S3.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String(m.Bucket), Key: aws.String(key)})
	if err != nil {
		return fmt.Errorf("read s3://%s/%s: %w", m.Bucket, key, err)
	}
	defer obj.Body.Close()
	batch := make([]dbtypes.WriteRequest, 0, 25)
	err = ReadFile("s3://"+m.Bucket+"/"+key, obj.Body, &f, func(it digest.Item) error {
		batch = append(batch, dbtypes.WriteRequest{PutRequest: &dbtypes.PutRequest{Item: it}})
		if len(batch) == 25 {
			select {
			case out <- batch:
			case <-ctx.Done():
				return context.Cause(ctx)
			}
			batch = make([]dbtypes.WriteRequest, 0, 25)
		}
		return nil
	})
	if err != nil {
		return err
	}
	if len(batch) > 0 {
		select {
		case out <- batch:
		case <-ctx.Done():
			return context.Cause(ctx)
		}
	}
	return nil
}

func writeBatch(ctx context.Context, db *dynamodb.Client, table string, b []dbtypes.WriteRequest) error {
	in := map[string][]dbtypes.WriteRequest{table: b}
	for tries := 0; len(in) > 0; tries++ {
		if tries > 0 {
			if err := clock.Sleep(ctx, time.Duration(min(tries, 20))*25*time.Millisecond); err != nil {
				return err
			}
		}
		out, err := db.BatchWriteItem(ctx, &dynamodb.BatchWriteItemInput{RequestItems: in})
		if err != nil {
			return fmt.Errorf("write to %s: %w", table, err)
		}
		in = out.UnprocessedItems
	}
	return nil
}

// TableDigest scans a table and returns the digest of its items, as the
// validator and the manifests compute it (canaries and replication stamps
// left out).
func TableDigest(ctx context.Context, db *dynamodb.Client, table string, keys []string, segments int) (digest.Sum, error) {
	per := make([]digest.Sum, segments)
	hs := make([]digest.Hasher, segments)
	for i := range hs {
		hs[i] = digest.Hasher{Keys: keys, Buckets: 1}
	}
	err := validate.Scan(ctx, db, table, validate.AllSegments(segments), true, func(s int, page []map[string]dbtypes.AttributeValue) error {
		for _, it := range page {
			if validate.IsCanary(it, keys[0]) {
				continue
			}
			h, _ := hs[s].Item(it)
			per[s].AddItem(h)
		}
		return nil
	})
	var sum digest.Sum
	for _, p := range per {
		sum.Add(p)
	}
	return sum, err
}

func tableExists(ctx context.Context, db *dynamodb.Client, table string) (bool, error) {
	_, err := db.DescribeTable(ctx, &dynamodb.DescribeTableInput{TableName: aws.String(table)})
	var nf *dbtypes.ResourceNotFoundException
	if errors.As(err, &nf) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("describe table %s: %w", table, err)
	}
	return true, nil
}

func createTable(ctx context.Context, db *dynamodb.Client, table string, keys []KeyAttr, stream string) error {
	in := &dynamodb.CreateTableInput{TableName: aws.String(table), BillingMode: dbtypes.BillingModePayPerRequest}
	if stream != "" {
		in.StreamSpecification = &dbtypes.StreamSpecification{StreamEnabled: aws.Bool(true), StreamViewType: dbtypes.StreamViewType(stream)}
	}
	for i, k := range keys {
		kt := dbtypes.KeyTypeHash
		if i > 0 {
			kt = dbtypes.KeyTypeRange
		}
		in.AttributeDefinitions = append(in.AttributeDefinitions, dbtypes.AttributeDefinition{AttributeName: aws.String(k.Name), AttributeType: dbtypes.ScalarAttributeType(k.Type)})
		in.KeySchema = append(in.KeySchema, dbtypes.KeySchemaElement{AttributeName: aws.String(k.Name), KeyType: kt})
	}
	if _, err := db.CreateTable(ctx, in); err != nil {
		return fmt.Errorf("create table %s: %w", table, err)
	}
	w := dynamodb.NewTableExistsWaiter(db, func(o *dynamodb.TableExistsWaiterOptions) {
		o.MinDelay = 200 * time.Millisecond
		o.MaxDelay = 5 * time.Second
	})
	if err := w.Wait(ctx, &dynamodb.DescribeTableInput{TableName: aws.String(table)}, 10*time.Minute); err != nil {
		return fmt.Errorf("wait for table %s to be active: %w", table, err)
	}
	return nil
}

func deleteTable(ctx context.Context, db *dynamodb.Client, table string) error {
	if _, err := db.DeleteTable(ctx, &dynamodb.DeleteTableInput{TableName: aws.String(table)}); err != nil {
		var nf *dbtypes.ResourceNotFoundException
		if errors.As(err, &nf) {
			return nil
		}
		return fmt.Errorf("delete table %s: %w", table, err)
	}
	w := dynamodb.NewTableNotExistsWaiter(db, func(o *dynamodb.TableNotExistsWaiterOptions) {
		o.MinDelay = 200 * time.Millisecond
		o.MaxDelay = 5 * time.Second
	})
	if err := w.Wait(ctx, &dynamodb.DescribeTableInput{TableName: aws.String(table)}, 10*time.Minute); err != nil {
		return fmt.Errorf("wait for table %s to be deleted: %w", table, err)
	}
	return nil
}

// VerifyResult is a restore test: the snapshot restored into a scratch
// table, checked against its manifest, the scratch table dropped.
type VerifyResult struct {
	Snapshot     string  `json:"snapshot"`
	Region       string  `json:"region"`
	ScratchTable string  `json:"scratch_table"`
	Passed       bool    `json:"passed"`
	Expected     int64   `json:"expected_items"`
	Restored     int64   `json:"restored_items"`
	Error        string  `json:"error,omitempty"`
	Seconds      float64 `json:"seconds"`
}

// Verify restores a snapshot (the newest when id is "") into a scratch
// table, checks it against the manifest and deletes the scratch table. A
// failed check is a result with Passed false, not an error; errors are for
// when the test could not run.
func (m *Manager) Verify(ctx context.Context, id string) (*VerifyResult, error) {
	m.defaults()
	start := m.Now()
	man, err := m.Find(ctx, id)
	if err != nil {
		return nil, err
	}
	scratch := fmt.Sprintf("%s-verify-%s", man.Table, strings.NewReplacer(".", "", ":", "").Replace(strings.ToLower(man.ID)))
	v := &VerifyResult{Snapshot: man.ID, Region: m.Region, ScratchTable: scratch, Expected: man.ItemCount}
	res, err := m.Restore(ctx, RestoreOptions{ID: man.ID, Table: scratch})
	if err != nil {
		var exists *ExistsError
		if errors.As(err, &exists) || ctx.Err() != nil {
			return nil, err
		}
		v.Error = err.Error()
	} else {
		v.Passed, v.Restored = true, res.Items
		dctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
		defer cancel()
		if err := deleteTable(dctx, m.DB, scratch); err != nil {
			return nil, fmt.Errorf("restore test passed, but dropping the scratch table failed: %w", err)
		}
	}
	v.Seconds = m.Now().Sub(start).Seconds()
	return v, nil
}

// Retention says which snapshots to keep: the newest Keep (0: no count
// limit) and none older than MaxAge (0: no age limit). The newest complete
// snapshot is always kept. Incomplete snapshots (a crashed run) older than
// an hour go too.
type Retention struct {
	Keep   int
	MaxAge time.Duration
	DryRun bool
}

// PruneResult lists what went (or, in a dry run, would go) and what stays.
type PruneResult struct {
	Removed []Snapshot `json:"removed"`
	Kept    []Snapshot `json:"kept"`
	DryRun  bool       `json:"dry_run"`
}

// Prune applies the retention rules.
func (m *Manager) Prune(ctx context.Context, r Retention) (*PruneResult, error) {
	m.defaults()
	if r.Keep < 0 || r.MaxAge < 0 {
		return nil, errors.New("retention: --keep and --max-age cannot be negative")
	}
	list, err := m.List(ctx)
	if err != nil {
		return nil, err
	}
	now := m.Now()
	res := &PruneResult{DryRun: r.DryRun}
	complete := 0
	for _, s := range list {
		drop := false
		if s.Incomplete {
			drop = now.Sub(s.Created) > time.Hour
		} else {
			complete++
			drop = complete > 1 && ((r.Keep > 0 && complete > r.Keep) || (r.MaxAge > 0 && now.Sub(s.Created) > r.MaxAge))
		}
		if !drop {
			res.Kept = append(res.Kept, s)
			continue
		}
		if !r.DryRun {
			if err := m.deletePrefix(ctx, prefix(m.Table)+s.ID+"/"); err != nil {
				return res, err
			}
		}
		res.Removed = append(res.Removed, s)
	}
	return res, nil
}
