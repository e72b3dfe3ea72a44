package lab

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
	s3types "github.com/aws/aws-sdk-go-v2/service/s3/types"

	"github.com/pilotlight/pilotlight/internal/control"
	"github.com/pilotlight/pilotlight/internal/region"
)

// Resources are the tables and buckets the templates deploy, per region
// (Options.Resources; labcheck.Resources resolves them from
// cloudformation/*.yaml).
type Resources struct {
	Tables  map[string][]TableSpec  // region -> its tables
	Buckets map[string][]BucketSpec // region -> its buckets, by their lab names
}

// TableSpec is one table in one region.
type TableSpec struct {
	Name   string
	Keys   []KeySpec // the hash key first
	Stream string    // stream view type, "" for none
	TTL    string    // TTL attribute, "" for none
}

// KeySpec is a key attribute: its name and type (S, N or B).
type KeySpec struct{ Name, Type string }

// BucketSpec is one bucket.
type BucketSpec struct {
	Name      string
	Versioned bool
}

// provision creates the lab's tables and buckets — from the templates when
// Options.Resources is set, else the lab's own — and the first active
// record in every control table. Existing resources are left as they are.
func (l *Lab) provision(ctx context.Context) error {
	if l.opts.Resources == nil {
		return l.Provision(ctx, l.opts.Names)
	}
	witness := ""
	if l.witness != nil {
		witness = l.witness.name
	}
	res, err := l.opts.Resources(EnvCheck{Names: l.opts.Names, Primary: l.opts.Primary, DR: l.opts.DR, Witness: witness,
		Manual: l.opts.Functions.Manual, AppURL: func(r string) string { return "http://lab.invalid/_region/" + r }})
	if err != nil {
		return fmt.Errorf("the templates' resources: %w", err)
	}
	if err := l.holdsWhatTheLabNeeds(res); err != nil {
		return err
	}
	// Every table and bucket at once: each region's servers work apart.
	var wg sync.WaitGroup
	var mu sync.Mutex
	var errs []error
	do := func(f func() error) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := f(); err != nil {
				mu.Lock()
				errs = append(errs, err)
				mu.Unlock()
			}
		}()
	}
	for _, r := range l.allRegions() {
		for _, t := range res.Tables[r.name] {
			do(func() error {
				if err := createTableSpec(ctx, r.clients, t); err != nil {
					return err
				}
				if t.Name != l.opts.Names.ControlTable() {
					return nil
				}
				_, err := control.New(r.clients, l.opts.Names).Init(ctx, control.Active{Region: l.opts.Primary, Epoch: 1, Since: time.Now().UTC()})
				return err
			})
		}
		for _, b := range res.Buckets[r.name] {
			do(func() error { return createBucket(ctx, r.clients, b.Name, b.Versioned) })
		}
	}
	wg.Wait()
	return errors.Join(errs...)
}

// holdsWhatTheLabNeeds checks that the templates' resources are the ones
// the lab's stand-ins work on: the replicated table in the primary and DR
// regions with the stream global tables need, the control table in every
// region, and both versioned buckets in each application region.
func (l *Lab) holdsWhatTheLabNeeds(res Resources) error {
	n := l.opts.Names
	var problems []string
	find := func(r, name string) *TableSpec {
		for i, t := range res.Tables[r] {
			if t.Name == name {
				return &res.Tables[r][i]
			}
		}
		return nil
	}
	for _, r := range l.allRegions() {
		if find(r.name, n.ControlTable()) == nil {
			problems = append(problems, fmt.Sprintf("%s: no control table %s", r.name, n.ControlTable()))
		}
		if r.witness {
			continue
		}
		switch t := find(r.name, n.Table()); {
		case t == nil:
			problems = append(problems, fmt.Sprintf("%s: no table %s (the lab replicates it as a global table)", r.name, n.Table()))
		case t.Stream != string(dbtypes.StreamViewTypeNewAndOldImages):
			problems = append(problems, fmt.Sprintf("%s: table %s streams %q: global tables (and the lab's replicator) need NEW_AND_OLD_IMAGES", r.name, n.Table(), t.Stream))
		case len(t.Keys) != 1 || t.Keys[0].Name != region.TableHashKey:
			problems = append(problems, fmt.Sprintf("%s: table %s has key %v: the orders service writes by %s alone", r.name, n.Table(), t.Keys, region.TableHashKey))
		}
		for _, b := range []string{n.Bucket(r.name), n.BackupBucket(r.name)} {
			found := false
			for _, bs := range res.Buckets[r.name] {
				if bs.Name == b {
					found = true
					if !bs.Versioned {
						problems = append(problems, fmt.Sprintf("%s: bucket %s is not versioned: replication needs versioning", r.name, b))
					}
				}
			}
			if !found {
				problems = append(problems, fmt.Sprintf("%s: no bucket %s", r.name, b))
			}
		}
	}
	if len(problems) > 0 {
		return fmt.Errorf("the templates do not deploy what the lab runs:\n  %s", strings.Join(problems, "\n  "))
	}
	return nil
}

func createTableSpec(ctx context.Context, c *region.Clients, t TableSpec) error {
	in := &dynamodb.CreateTableInput{TableName: aws.String(t.Name), BillingMode: dbtypes.BillingModePayPerRequest}
	for i, k := range t.Keys {
		kt := dbtypes.KeyTypeHash
		if i > 0 {
			kt = dbtypes.KeyTypeRange
		}
		in.AttributeDefinitions = append(in.AttributeDefinitions, dbtypes.AttributeDefinition{AttributeName: aws.String(k.Name), AttributeType: dbtypes.ScalarAttributeType(k.Type)})
		in.KeySchema = append(in.KeySchema, dbtypes.KeySchemaElement{AttributeName: aws.String(k.Name), KeyType: kt})
	}
	if t.Stream != "" {
		in.StreamSpecification = &dbtypes.StreamSpecification{StreamEnabled: aws.Bool(true), StreamViewType: dbtypes.StreamViewType(t.Stream)}
	}
	_, err := c.DynamoDB.CreateTable(ctx, in)
	var inUse *dbtypes.ResourceInUseException
	if err != nil && !errors.As(err, &inUse) {
		return fmt.Errorf("create table %s in %s: %w", t.Name, c.Name, err)
	}
	if t.TTL != "" {
		if _, err := c.DynamoDB.UpdateTimeToLive(ctx, &dynamodb.UpdateTimeToLiveInput{TableName: aws.String(t.Name),
			TimeToLiveSpecification: &dbtypes.TimeToLiveSpecification{AttributeName: aws.String(t.TTL), Enabled: aws.Bool(true)}}); err != nil && !strings.Contains(err.Error(), "already enabled") {
			return fmt.Errorf("TTL on %s in %s: %w", t.Name, c.Name, err)
		}
	}
	return nil
}

// Provision creates the tables and buckets for names in both regions, and
// the first active record (the primary, epoch 1) in every control table,
// the witness's included.
// Tests use it to get resources of their own; only the lab's own names are
// replicated.
func (l *Lab) Provision(ctx context.Context, n region.Names) error {
	for _, r := range l.regions {
		c := r.clients
		if err := createTable(ctx, c, n.Table(), []string{region.TableHashKey}, true); err != nil {
			return err
		}
		if err := createTable(ctx, c, n.ControlTable(), []string{region.ControlHashKey, region.ControlSortKey}, false); err != nil {
			return err
		}
		for _, b := range []string{n.Bucket(r.name), n.BackupBucket(r.name)} {
			if err := createVersionedBucket(ctx, c, b); err != nil {
				return err
			}
		}
		if _, err := control.New(c, n).Init(ctx, control.Active{Region: l.opts.Primary, Epoch: 1, Since: time.Now().UTC()}); err != nil {
			return err
		}
	}
	if w := l.witness; w != nil {
		if err := createTable(ctx, w.clients, n.ControlTable(), []string{region.ControlHashKey, region.ControlSortKey}, false); err != nil {
			return err
		}
		if _, err := control.New(w.clients, n).Init(ctx, control.Active{Region: l.opts.Primary, Epoch: 1, Since: time.Now().UTC()}); err != nil {
			return err
		}
	}
	return nil
}

func createTable(ctx context.Context, c *region.Clients, name string, keys []string, stream bool) error {
	in := &dynamodb.CreateTableInput{
		TableName:   aws.String(name),
		BillingMode: dbtypes.BillingModePayPerRequest,
	}
	for i, k := range keys {
		kt := dbtypes.KeyTypeHash
		if i > 0 {
			kt = dbtypes.KeyTypeRange
		}
		in.AttributeDefinitions = append(in.AttributeDefinitions, dbtypes.AttributeDefinition{AttributeName: aws.String(k), AttributeType: dbtypes.ScalarAttributeTypeS})
		in.KeySchema = append(in.KeySchema, dbtypes.KeySchemaElement{AttributeName: aws.String(k), KeyType: kt})
	}
	if stream {
		in.StreamSpecification = &dbtypes.StreamSpecification{StreamEnabled: aws.Bool(true), StreamViewType: dbtypes.StreamViewTypeNewAndOldImages}
	}
	_, err := c.DynamoDB.CreateTable(ctx, in)
	var inUse *dbtypes.ResourceInUseException
	if err != nil && !errors.As(err, &inUse) {
		return fmt.Errorf("create table %s in %s: %w", name, c.Name, err)
	}
	return nil
}

func createVersionedBucket(ctx context.Context, c *region.Clients, name string) error {
	return createBucket(ctx, c, name, true)
}

func createBucket(ctx context.Context, c *region.Clients, name string, versioned bool) error {
	_, err := c.S3.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: aws.String(name)})
	var owned *s3types.BucketAlreadyOwnedByYou
	if err != nil && !errors.As(err, &owned) {
		return fmt.Errorf("create bucket %s in %s: %w", name, c.Name, err)
	}
	if !versioned {
		return nil
	}
	_, err = c.S3.PutBucketVersioning(ctx, &s3.PutBucketVersioningInput{
		Bucket:                  aws.String(name),
		VersioningConfiguration: &s3types.VersioningConfiguration{Status: s3types.BucketVersioningStatusEnabled},
	})
	if err != nil {
		return fmt.Errorf("enable versioning on %s in %s: %w", name, c.Name, err)
	}
	return nil
}

// firstLease renews the lease of the region the control records name, as
// its health check will every term/4 from now on.
func (l *Lab) firstLease(ctx context.Context) error {
	q := &control.Quorum{Lease: LeaseConfig, Witness: l.Witness()}
	for _, r := range l.allRegions() {
		q.Stores = append(q.Stores, control.New(r.clients, l.opts.Names))
	}
	v, err := q.Read(ctx, 5*time.Second)
	if err != nil {
		return fmt.Errorf("first lease: %w", err)
	}
	if v.Active.Region == "" || v.Active.Hold != "" {
		return nil // no region is active (a lab restarted mid-handover): the controller's tick resolves it
	}
	if _, err := q.Renew(ctx, v.Active.Region); err != nil && !errors.Is(err, control.ErrNotHolder) {
		return fmt.Errorf("first lease for %s: %w", v.Active.Region, err)
	}
	return nil
}
