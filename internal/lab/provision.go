package lab

import (
	"context"
	"errors"
	"fmt"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	dbtypes "github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	s3types "github.com/aws/aws-sdk-go-v2/service/s3/types"

	"github.com/pilotlight/pilotlight/internal/region"
)

// provision creates, in both regions, the protected table with a
// NEW_AND_OLD_IMAGES stream, the control table, and the versioned data and
// backup buckets. Existing resources are left as they are.
func (l *Lab) provision(ctx context.Context) error {
	n := l.opts.Names
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
