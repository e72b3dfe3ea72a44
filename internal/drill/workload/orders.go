package workload

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/pilotlight/pilotlight/internal/app"
	"github.com/pilotlight/pilotlight/internal/region"
)

// MissingItems returns the ids whose order item the region does not hold.
func MissingItems(ctx context.Context, c *region.Clients, names region.Names, ids []string) ([]string, error) {
	have := map[string]bool{}
	for start := 0; start < len(ids); start += 100 {
		batch := ids[start:min(start+100, len(ids))]
		keys := make([]map[string]types.AttributeValue, len(batch))
		for i, id := range batch {
			keys[i] = map[string]types.AttributeValue{region.TableHashKey: &types.AttributeValueMemberS{Value: app.ItemKey(id)}}
		}
		req := map[string]types.KeysAndAttributes{names.Table(): {Keys: keys, ConsistentRead: aws.Bool(true), ProjectionExpression: aws.String("pk")}}
		for attempt := 0; len(req) > 0; attempt++ {
			if attempt > 10 {
				return nil, errors.New("batch get: unprocessed keys after retries")
			}
			out, err := c.DynamoDB.BatchGetItem(ctx, &dynamodb.BatchGetItemInput{RequestItems: req})
			if err != nil {
				return nil, fmt.Errorf("read orders in %s: %w", c.Name, err)
			}
			for _, it := range out.Responses[names.Table()] {
				if v, ok := it[region.TableHashKey].(*types.AttributeValueMemberS); ok {
					have[v.Value] = true
				}
			}
			req = out.UnprocessedKeys
		}
	}
	var missing []string
	for _, id := range ids {
		if !have[app.ItemKey(id)] {
			missing = append(missing, id)
		}
	}
	return missing, nil
}

// MissingAttachments returns the ids whose attachment object the region's
// bucket does not hold.
func MissingAttachments(ctx context.Context, c *region.Clients, names region.Names, ids []string) ([]string, error) {
	var (
		mu       sync.Mutex
		missing  []string
		firstErr error
		wg       sync.WaitGroup
	)
	next := make(chan string)
	for range 16 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for id := range next {
				_, err := c.S3.HeadObject(ctx, &s3.HeadObjectInput{Bucket: aws.String(names.Bucket(c.Name)), Key: aws.String(app.AttachmentKey(id))})
				mu.Lock()
				switch {
				case err == nil:
				case isNotFound(err):
					missing = append(missing, id)
				case firstErr == nil:
					firstErr = fmt.Errorf("head %s in %s: %w", app.AttachmentKey(id), c.Name, err)
				}
				mu.Unlock()
			}
		}()
	}
	for _, id := range ids {
		next <- id
	}
	close(next)
	wg.Wait()
	return missing, firstErr
}

func isNotFound(err error) bool {
	var re interface{ HTTPStatusCode() int }
	return errors.As(err, &re) && re.HTTPStatusCode() == 404
}

// Order is what the drill reads back of an order item: where and at which
// epoch it was written.
type Order struct {
	Region    string
	Epoch     int64
	CreatedAt time.Time
}

// LookupOrders reads the orders of ids that a region holds.
func LookupOrders(ctx context.Context, c *region.Clients, names region.Names, ids []string) (map[string]Order, error) {
	out := map[string]Order{}
	for start := 0; start < len(ids); start += 100 {
		batch := ids[start:min(start+100, len(ids))]
		keys := make([]map[string]types.AttributeValue, len(batch))
		for i, id := range batch {
			keys[i] = map[string]types.AttributeValue{region.TableHashKey: &types.AttributeValueMemberS{Value: app.ItemKey(id)}}
		}
		req := map[string]types.KeysAndAttributes{names.Table(): {Keys: keys, ConsistentRead: aws.Bool(true),
			ProjectionExpression: aws.String("pk, #r, epoch, created_at"), ExpressionAttributeNames: map[string]string{"#r": "region"}}}
		for attempt := 0; len(req) > 0; attempt++ {
			if attempt > 10 {
				return nil, errors.New("batch get: unprocessed keys after retries")
			}
			res, err := c.DynamoDB.BatchGetItem(ctx, &dynamodb.BatchGetItemInput{RequestItems: req})
			if err != nil {
				return nil, fmt.Errorf("read orders in %s: %w", c.Name, err)
			}
			for _, it := range res.Responses[names.Table()] {
				pk, _ := it[region.TableHashKey].(*types.AttributeValueMemberS)
				if pk == nil {
					continue
				}
				var o Order
				if v, ok := it["region"].(*types.AttributeValueMemberS); ok {
					o.Region = v.Value
				}
				if v, ok := it["epoch"].(*types.AttributeValueMemberN); ok {
					o.Epoch, _ = strconv.ParseInt(v.Value, 10, 64)
				}
				if v, ok := it["created_at"].(*types.AttributeValueMemberS); ok {
					o.CreatedAt, _ = time.Parse(time.RFC3339Nano, v.Value)
				}
				out[strings.TrimPrefix(pk.Value, app.ItemKey(""))] = o
			}
			req = res.UnprocessedKeys
		}
	}
	return out, nil
}

// PutOrders writes order items directly to a region's table (as another
// client of the table would), each with note set.
func PutOrders(ctx context.Context, c *region.Clients, names region.Names, ids []string, note string) error {
	for _, id := range ids {
		_, err := c.DynamoDB.PutItem(ctx, &dynamodb.PutItemInput{TableName: aws.String(names.Table()), Item: map[string]types.AttributeValue{
			region.TableHashKey: &types.AttributeValueMemberS{Value: app.ItemKey(id)},
			"customer":          &types.AttributeValueMemberS{Value: "lww"},
			"note":              &types.AttributeValueMemberS{Value: note},
		}})
		if err != nil {
			return fmt.Errorf("put %s in %s: %w", id, c.Name, err)
		}
	}
	return nil
}

// OrderNotes reads the note of each order a region holds.
func OrderNotes(ctx context.Context, c *region.Clients, names region.Names, ids []string) (map[string]string, error) {
	out := map[string]string{}
	for _, id := range ids {
		res, err := c.DynamoDB.GetItem(ctx, &dynamodb.GetItemInput{TableName: aws.String(names.Table()), ConsistentRead: aws.Bool(true),
			Key: map[string]types.AttributeValue{region.TableHashKey: &types.AttributeValueMemberS{Value: app.ItemKey(id)}}})
		if err != nil {
			return nil, fmt.Errorf("read %s in %s: %w", id, c.Name, err)
		}
		if v, ok := res.Item["note"].(*types.AttributeValueMemberS); ok {
			out[id] = v.Value
		}
	}
	return out, nil
}
