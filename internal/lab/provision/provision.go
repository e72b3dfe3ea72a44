package provision

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
	"github.com/pilotlight/pilotlight/internal/control/record"
	"github.com/pilotlight/pilotlight/internal/region"
)

// Resources are the tables and buckets the templates deploy, per region
// (Options.Resources; parity.Resources resolves them from
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

// Region is one lab region to provision.
type Region struct {
	Name    string
	Clients *region.Clients
	// Witness: a control table only (no application table, no buckets).
	Witness bool
}

// Templates creates the templates' tables and buckets in every region,
// after checking they are what the lab's stand-ins work on (Check), and
// the first active record (primary, epoch 1) in every control table.
// Existing resources are left as they are.
func Templates(ctx context.Context, regions []Region, names region.Names, primary string, res Resources) error {
	if err := Check(regions, names, res); err != nil {
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
	for _, r := range regions {
		for _, t := range res.Tables[r.Name] {
			do(func() error {
				if err := createTableSpec(ctx, r.Clients, t); err != nil {
					return err
				}
				if t.Name != names.ControlTable() {
					return nil
				}
				_, err := control.New(r.Clients, names).Init(ctx, record.Active{Region: primary, Epoch: 1, Since: time.Now().UTC()})
				return err
			})
		}
		for _, b := range res.Buckets[r.Name] {
			do(func() error { return createBucket(ctx, r.Clients, b.Name, b.Versioned) })
		}
	}
	wg.Wait()
	return errors.Join(errs...)
}

// Check checks that the templates' resources are the ones
// the lab's stand-ins work on: the replicated table in the primary and DR
// regions with the stream global tables need, the control table in every
// region, and both versioned buckets in each application region.
func Check(regions []Region, n region.Names, res Resources) error {
	var problems []string
	find := func(r, name string) *TableSpec {
		for i, t := range res.Tables[r] {
			if t.Name == name {
				return &res.Tables[r][i]
			}
		}
		return nil
	}
	for _, r := range regions {
		if find(r.Name, n.ControlTable()) == nil {
			problems = append(problems, fmt.Sprintf("%s: no control table %s", r.Name, n.ControlTable()))
		}
		if r.Witness {
			continue
		}
		switch t := find(r.Name, n.Table()); {
		case t == nil:
			problems = append(problems, fmt.Sprintf("%s: no table %s (the lab replicates it as a global table)", r.Name, n.Table()))
		case t.Stream != string(dbtypes.StreamViewTypeNewAndOldImages):
			problems = append(problems, fmt.Sprintf("%s: table %s streams %q: global tables (and the lab's replicator) need NEW_AND_OLD_IMAGES", r.Name, n.Table(), t.Stream))
		case len(t.Keys) != 1 || t.Keys[0].Name != region.TableHashKey:
			problems = append(problems, fmt.Sprintf("%s: table %s has key %v: the orders service writes by %s alone", r.Name, n.Table(), t.Keys, region.TableHashKey))
		}
		for _, b := range []string{n.Bucket(r.Name), n.BackupBucket(r.Name)} {
			found := false
			for _, bs := range res.Buckets[r.Name] {
				if bs.Name == b {
					found = true
					if !bs.Versioned {
						problems = append(problems, fmt.Sprintf("%s: bucket %s is not versioned: replication needs versioning", r.Name, b))
					}
				}
			}
			if !found {
				problems = append(problems, fmt.Sprintf("%s: no bucket %s", r.Name, b))
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

// Own creates the lab's own set for names, without the templates: in each
// application region the orders table (streamed), the control table and
// both versioned buckets; in the witness the control table; and the first
// active record (primary, epoch 1) in every control table.
func Own(ctx context.Context, regions []Region, n region.Names, primary string) error {
	for _, r := range regions {
		c := r.Clients
		if r.Witness {
			if err := createTable(ctx, c, n.ControlTable(), []string{region.ControlHashKey, region.ControlSortKey}, false); err != nil {
				return err
			}
			if _, err := control.New(c, n).Init(ctx, record.Active{Region: primary, Epoch: 1, Since: time.Now().UTC()}); err != nil {
				return err
			}
			continue
		}
		if err := createTable(ctx, c, n.Table(), []string{region.TableHashKey}, true); err != nil {
			return err
		}
		if err := createTable(ctx, c, n.ControlTable(), []string{region.ControlHashKey, region.ControlSortKey}, false); err != nil {
			return err
		}
		for _, b := range []string{n.Bucket(r.Name), n.BackupBucket(r.Name)} {
			if err := createVersionedBucket(ctx, c, b); err != nil {
				return err
			}
		}
		if _, err := control.New(c, n).Init(ctx, record.Active{Region: primary, Epoch: 1, Since: time.Now().UTC()}); err != nil {
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
