package lab

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	dbtypes "github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	s3types "github.com/aws/aws-sdk-go-v2/service/s3/types"

	"github.com/pilotlight/pilotlight/internal/control"
	"github.com/pilotlight/pilotlight/internal/region"
)

// provision creates, in both regions, the protected table with a
// NEW_AND_OLD_IMAGES stream, the control table, and the versioned data and
// backup buckets. Existing resources are left as they are.
func (l *Lab) provision(ctx context.Context) error {
	return l.Provision(ctx, l.opts.Names)
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
	_, err := c.S3.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: aws.String(name)})
	var owned *s3types.BucketAlreadyOwnedByYou
	if err != nil && !errors.As(err, &owned) {
		return fmt.Errorf("create bucket %s in %s: %w", name, c.Name, err)
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
