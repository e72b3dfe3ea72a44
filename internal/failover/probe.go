package failover

import (
	"context"
	"fmt"
	"strconv"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/pilotlight/pilotlight/internal/control"
	"github.com/pilotlight/pilotlight/internal/region"
)

// RegionProber checks a region's DynamoDB (control table read) and S3 (data
// bucket) with the given clients, which should make one attempt per call.
type RegionProber struct {
	Clients map[string]*region.Clients
	Names   region.Names
	Timeout time.Duration
}

var _ Prober = RegionProber{}

// Probe implements Prober.
func (p RegionProber) Probe(ctx context.Context, r string) error {
	c, ok := p.Clients[r]
	if !ok {
		return fmt.Errorf("no clients for %s", r)
	}
	timeout := p.Timeout
	if timeout == 0 {
		timeout = time.Second
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	if _, err := control.New(c, p.Names).Active(ctx); err != nil {
		return err
	}
	if _, err := c.S3.HeadBucket(ctx, &s3.HeadBucketInput{Bucket: aws.String(p.Names.Bucket(r))}); err != nil {
		return fmt.Errorf("s3 %s: %w", p.Names.Bucket(r), err)
	}
	return nil
}

// WriteVerifier returns a verifier that proves a region accepts writes at an
// epoch the way the orders service writes: a canary item in the protected
// table, in a transaction conditioned on the region's active record.
func WriteVerifier(clients map[string]*region.Clients, names region.Names) func(ctx context.Context, r string, epoch int64) error {
	return func(ctx context.Context, r string, epoch int64) error {
		c, ok := clients[r]
		if !ok {
			return fmt.Errorf("no clients for %s", r)
		}
		_, err := c.DynamoDB.TransactWriteItems(ctx, &dynamodb.TransactWriteItemsInput{TransactItems: []types.TransactWriteItem{
			control.New(c, names).ActiveCondition(epoch),
			{Put: &types.Put{TableName: aws.String(names.Table()), Item: map[string]types.AttributeValue{
				region.TableHashKey: &types.AttributeValueMemberS{Value: region.CanaryPrefix + "#verify#" + r},
				"epoch":             &types.AttributeValueMemberN{Value: strconv.FormatInt(epoch, 10)},
			}}},
		}})
		return err
	}
}
